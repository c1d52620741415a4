{{/* Names, labels, image and pod-level settings shared by every Spacefleet workload. */}}

{{- define "spacefleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spacefleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* spacefleet.labels: (dict "ctx" $ "component" "web") */}}
{{- define "spacefleet.labels" -}}
helm.sh/chart: {{ include "spacefleet.chart" .ctx | quote }}
{{ include "spacefleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: spacefleet
{{- end -}}

{{- define "spacefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spacefleet.name" .ctx | quote }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "spacefleet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The ServiceAccount a component runs as: (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.serviceAccountNameFor" -}}
{{- if and (eq .component "migrate") (include "spacefleet.migrate.hasServiceAccount" .ctx) -}}
{{- printf "%s-migrate" (include "spacefleet.serviceAccountName" .ctx) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "spacefleet.serviceAccountName" .ctx -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spacefleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
spacefleet.podSpecCommon: the pod-level fields every Spacefleet pod shares (service account, pull secrets,
security context, scheduling). Takes (dict "ctx" $ "component" "web" "spread" list).
*/}}
{{- define "spacefleet.podSpecCommon" -}}
{{- $ctx := .ctx -}}
serviceAccountName: {{ include "spacefleet.serviceAccountNameFor" . | quote }}
automountServiceAccountToken: false
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $ctx.Values.podSecurityContext | nindent 2 }}
{{- with $ctx.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $ctx.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $ctx.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .spread }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* spacefleet.podMetadata: labels and annotations of a Spacefleet pod template. (dict "ctx" $ "component" "web") */}}
{{- define "spacefleet.podMetadata" -}}
labels:
  {{- include "spacefleet.labels" . | nindent 2 }}
  {{- with .ctx.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/database: {{ include "spacefleet.database.checksum" .ctx }}
  {{- with .ctx.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for one component: (dict "ctx" $ "component" "web" "pdb" .Values.web.podDisruptionBudget). */}}
{{- define "spacefleet.pdb" -}}
{{- if .pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ printf "%s-%s" (include "spacefleet.fullname" .ctx) .component | quote }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "spacefleet.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "spacefleet.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
