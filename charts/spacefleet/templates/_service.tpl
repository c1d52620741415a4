{{/*
Service settings shared by the web Service and the bundled database's:
type, external traffic, IP families. _validate.tpl refuses a setting the chosen type ignores.
*/}}
{{- define "spacefleet.service.spec" -}}
type: {{ .type }}
{{- with .loadBalancerClass }}
loadBalancerClass: {{ . | quote }}
{{- end }}
{{- with .loadBalancerSourceRanges }}
loadBalancerSourceRanges:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- with .externalTrafficPolicy }}
externalTrafficPolicy: {{ . }}
{{- end }}
{{- with .ipFamilyPolicy }}
ipFamilyPolicy: {{ . }}
{{- end }}
{{- with .ipFamilies }}
ipFamilies:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Per-port extras: nodePort, appProtocol. */}}
{{- define "spacefleet.service.portExtras" -}}
{{- if not (kindIs "invalid" .nodePort) }}
nodePort: {{ include "spacefleet.int" .nodePort }}
{{- end }}
{{- with .appProtocol }}
appProtocol: {{ . | quote }}
{{- end }}
{{- end -}}
