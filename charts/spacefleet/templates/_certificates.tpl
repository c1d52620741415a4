{{/*
Road 4: every cert-manager Certificate the chart renders (the bundled database's server certificate, database
client certificates, the web HTTPS certificate) comes from spacefleet.certificates.certificate, and every pod that
mounts one gets it through road 2 (spacefleet.database.volumes) or the web pod's own TLS volume.
Takes (dict "ctx" $ "component" "postgresql" "name" N "secretName" S "purpose" "server"|"client"
"commonName" CN ["dnsNames" list] "issuerRef" dict ["duration" ""] ["renewBefore" ""]).
*/}}
{{- define "spacefleet.certificates.certificate" -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  {{- include "spacefleet.metadata" (dict "ctx" .ctx "component" .component "name" .name "labels" (dict "spacefleet.io/certificate" .purpose)) | nindent 2 }}
spec:
  secretName: {{ .secretName | quote }}
  {{- with .commonName }}
  commonName: {{ . | quote }}
  {{- end }}
  {{- with .dnsNames }}
  dnsNames:
    {{- include "spacefleet.yaml" . | nindent 4 }}
  {{- end }}
  usages: [digital signature, key encipherment, {{ ternary "client auth" "server auth" (eq .purpose "client") }}]
  {{- with .duration }}
  duration: {{ . | quote }}
  {{- end }}
  {{- with .renewBefore }}
  renewBefore: {{ . | quote }}
  {{- end }}
  privateKey:
    algorithm: ECDSA
    size: 256
    # Explicit (cert-manager's default changed over releases): every renewal gets a new key.
    rotationPolicy: Always
  issuerRef:
    {{- include "spacefleet.yaml" .issuerRef | nindent 4 }}
{{- end -}}

{{/* The DNS names of a Service, short to fully qualified: (dict "ctx" $ "service" name). */}}
{{- define "spacefleet.certificates.serviceNames" -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- list .service (printf "%s.%s" .service $ns) (printf "%s.%s.svc" .service $ns) (printf "%s.%s.svc.%s" .service $ns .ctx.Values.clusterDomain) | toJson -}}
{{- end -}}

{{/* The database client certificate, when the chart provides one: "bundled", "external" or "". */}}
{{- define "spacefleet.certificates.databaseClient" -}}
{{- if .Values.postgresql.enabled -}}
{{- if and .Values.postgresql.tls.enabled .Values.postgresql.tls.clientCertificate.enabled }}bundled{{ end -}}
{{- else if ((include "spacefleet.database.clientCertificateValues" . | fromJson).issuerRef | default dict).name -}}external
{{- end -}}
{{- end -}}

{{- define "spacefleet.certificates.databaseClientSecret" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "database-client-tls") -}}
{{- end -}}

{{- define "spacefleet.certificates.databaseClientPath" -}}/etc/spacefleet/database-client{{- end -}}

{{/*
Web HTTPS: the Secret web serves ("" when web.tls is off): yours, cert-manager's, or the trial pair generated in the
cluster (templates/secrets/: created once, never rendered, kept across upgrades).
*/}}
{{- define "spacefleet.certificates.webSecret" -}}
{{- if .Values.web.tls.enabled -}}
{{- if .Values.web.tls.existingSecret -}}{{ .Values.web.tls.existingSecret }}
{{- else if include "spacefleet.secrets.generatesWebPair" . -}}{{ include "spacefleet.secrets.webPairSecretName" . }}
{{- else -}}{{ include "spacefleet.names.object" (dict "ctx" . "suffix" "web-tls") }}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.certificates.webPath" -}}/etc/spacefleet/web-tls{{- end -}}

{{/* The web certificate's DNS names: web.tls.certManager.dnsNames, else the web Service's names. */}}
{{- define "spacefleet.certificates.webNames" -}}
{{- .Values.web.tls.certManager.dnsNames | default (include "spacefleet.certificates.serviceNames" (dict "ctx" . "service" (include "spacefleet.names.component" (dict "ctx" . "component" "web"))) | fromJsonArray) | toJson -}}
{{- end -}}

{{/* A web probe: httpGet probes speak HTTPS when web.tls is on (unless the probe names its scheme). */}}
{{- define "spacefleet.certificates.webProbe" -}}
{{- $p := deepCopy .probe -}}
{{- if and .ctx.Values.web.tls.enabled (kindIs "map" $p.httpGet) (not $p.httpGet.scheme) -}}
{{- $_ := set $p.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- include "spacefleet.yaml" $p -}}
{{- end -}}
