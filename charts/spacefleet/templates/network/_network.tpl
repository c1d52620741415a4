{{/*
NetworkPolicies (networkPolicy.*), one per component as the Bitnami charts do: web, worker, migrate, the `helm test`
pod (dbcheck) and the bundled PostgreSQL. The app pods share one egress road (spacefleet.network.appEgress): DNS,
the database, networkPolicy.extraEgress. Selectors use the chart's selector labels, so a policy follows the pods of
this release only. Every `fail` about these values is in _validate.tpl (spacefleet.validate.networkPolicy).
*/}}

{{/* The label a pod in the release's namespace carries to reach web when allowExternal=false (Bitnami's
`<fullname>-client: "true"`), through the naming rule so that it stays a valid label key for any release name. */}}
{{- define "spacefleet.network.clientLabel" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "client") -}}
{{- end -}}

{{/* The components whose pods read DATABASE_URL: the bundled database admits exactly these. */}}
{{- define "spacefleet.network.databaseClients" -}}
{{- toJson (list "web" "worker" "migrate" "dbcheck") -}}
{{- end -}}

{{/* A list of NetworkPolicy rules from values, tpl-rendered like the pod lists (may use {{ .Release.Name }}). */}}
{{- define "spacefleet.network.rules" -}}
{{- with .list }}{{ tpl (include "spacefleet.yaml" .) $.ctx }}{{ end -}}
{{- end -}}

{{/* ipBlock peers for a list of CIDRs. */}}
{{- define "spacefleet.network.cidrPeers" -}}
{{- $peers := list -}}
{{- range . }}{{ $peers = append $peers (dict "ipBlock" (dict "cidr" .)) }}{{ end -}}
{{- toYaml $peers -}}
{{- end -}}

{{/* DNS egress: networkPolicy.egress.dns (by default the kube-dns pods in kube-system), UDP and TCP. */}}
{{- define "spacefleet.network.dnsEgress" -}}
{{- $dns := .Values.networkPolicy.egress.dns -}}
{{- $port := include "spacefleet.int" $dns.port | int64 -}}
{{- $to := list (dict "namespaceSelector" (dict "matchLabels" ($dns.namespaceSelector | default dict)) "podSelector" (dict "matchLabels" ($dns.podSelector | default dict))) -}}
{{- $to = concat $to (include "spacefleet.network.cidrPeers" $dns.cidrs | fromYamlArray) -}}
{{- include "spacefleet.yaml" (list (dict "ports" (list (dict "port" $port "protocol" "UDP") (dict "port" $port "protocol" "TCP")) "to" $to)) -}}
{{- end -}}

{{/* Egress of web, worker, migrate and the `helm test` pod: DNS, the database, networkPolicy.extraEgress. */}}
{{- define "spacefleet.network.appEgress" -}}
{{- $np := .Values.networkPolicy -}}
{{- include "spacefleet.network.dnsEgress" . }}
{{- if .Values.postgresql.enabled }}
- ports:
    - port: 5432
      protocol: TCP
  to:
    - podSelector:
        matchLabels:
          {{- include "spacefleet.selectorLabels" (dict "ctx" . "component" "postgresql") | nindent 10 }}
{{- else if $np.egress.database.cidrs }}
- ports:
    {{- range $np.egress.database.ports }}
    - port: {{ include "spacefleet.int" . }}
      protocol: TCP
    {{- end }}
  to:
    {{- include "spacefleet.network.cidrPeers" $np.egress.database.cidrs | nindent 4 }}
{{- end }}
{{- with include "spacefleet.network.rules" (dict "ctx" . "list" $np.extraEgress) }}
{{ . }}
{{- end }}
{{- end -}}

{{/*
The policy of a pod that serves nothing on the network (worker, migrate, the `helm test` pod): no ingress (the kubelet's
probes are node traffic, which NetworkPolicies never block), egress on the app road.
(dict "ctx" $ "component" "worker" ["annotations" dict])
*/}}
{{- define "spacefleet.network.clientPolicy" -}}
{{- $ctx := .ctx -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "spacefleet.metadata" (dict "ctx" $ctx "component" .component "name" (include "spacefleet.names.component" .) "annotations" .annotations) | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "spacefleet.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if not $ctx.Values.networkPolicy.allowExternalEgress }}
    - Egress
  egress:
    {{- include "spacefleet.network.appEgress" $ctx | nindent 4 }}
    {{- end }}
  {{- with include "spacefleet.network.metricsIngress" (dict "ctx" $ctx "component" .component) }}
  ingress:
    {{- . | nindent 4 }}
  {{- else }}
  ingress: []
  {{- end }}
{{- end -}}

{{/*
Web's and worker's metrics port, when metrics are on: from networkPolicy.metrics's namespaces/pods (your Prometheus),
or from anywhere when both are empty (the port serves metrics only). (dict "ctx" $ "component" "web")
*/}}
{{- define "spacefleet.network.metricsIngress" -}}
{{- $ctx := .ctx -}}
{{- if and $ctx.Values.metrics.enabled (has .component (list "web" "worker")) -}}
{{- $m := $ctx.Values.networkPolicy.metrics -}}
- ports:
    - port: {{ include "spacefleet.int" $ctx.Values.metrics.port }}
      protocol: TCP
  {{- if or $m.namespaceSelector $m.podSelector }}
  {{- $peer := dict }}
  {{- with $m.namespaceSelector }}{{ $_ := set $peer "namespaceSelector" (dict "matchLabels" .) }}{{ end }}
  {{- with $m.podSelector }}{{ $_ := set $peer "podSelector" (dict "matchLabels" .) }}{{ end }}
  from:
    {{- include "spacefleet.yaml" (list $peer) | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}
