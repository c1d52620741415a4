{{/*
A HorizontalPodAutoscaler (autoscaling/v2) for one Deployment: (dict "ctx" $ "component" "web" "as" .Values.web.autoscaling).
The Deployment then leaves `replicas` out, so an upgrade never resets the HPA's count (Zitadel's way).
*/}}
{{- define "spacefleet.hpa" -}}
{{- if .as.enabled }}
{{- $name := include "spacefleet.names.component" . }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "spacefleet.metadata" (dict "ctx" .ctx "component" .component "name" $name) | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name | quote }}
  minReplicas: {{ include "spacefleet.int" .as.minReplicas }}
  maxReplicas: {{ include "spacefleet.int" .as.maxReplicas }}
  metrics:
    {{- $metrics := list }}
    {{- range $res := list (list "cpu" .as.targetCPUUtilizationPercentage) (list "memory" .as.targetMemoryUtilizationPercentage) }}
    {{- if not (kindIs "invalid" (index $res 1)) }}
    {{- $metrics = append $metrics (dict "type" "Resource" "resource" (dict "name" (index $res 0) "target" (dict "type" "Utilization" "averageUtilization" (index $res 1)))) }}
    {{- end }}
    {{- end }}
    {{- include "spacefleet.yaml" (concat $metrics (.as.metrics | default list)) | nindent 4 }}
  {{- with .as.behavior }}
  behavior:
    {{- include "spacefleet.yaml" . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
