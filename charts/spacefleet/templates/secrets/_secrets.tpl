{{/*
Generated secrets (the house plan's road 5). Whatever the chart must invent — the bundled database's password when
you give none, the trial self-signed web pair — is created once, in the cluster, by the `<fullname>-secrets` Job
(`spacefleet secrets`), which only fills what is missing and never overwrites. A render never holds a generated
value, so two renders of one set of values are the same bytes (Argo CD and Flux diff renders; `helm template` has
no cluster to read a value back from), and the pods get them through secretKeyRef and Secret volumes.
The generated Secrets are not release resources: `helm uninstall` keeps them, like the database's volume, so a
reinstall finds the data and its password together (delete both to start over).
*/}}

{{/* The bundled database's generated password is used: no postgresql.auth.password and no auth.existingSecret. */}}
{{- define "spacefleet.secrets.generatesPassword" -}}
{{- $a := .Values.postgresql.auth -}}
{{- if and .Values.postgresql.enabled (not $a.password) (not $a.existingSecret) }}true{{ end -}}
{{- end -}}

{{- define "spacefleet.secrets.passwordSecretName" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "postgresql-password") -}}
{{- end -}}

{{/* The trial web pair is used: web.tls.selfSigned (web.tls allows one source only). */}}
{{- define "spacefleet.secrets.generatesWebPair" -}}
{{- if and .Values.web.tls.enabled .Values.web.tls.selfSigned }}true{{ end -}}
{{- end -}}

{{- define "spacefleet.secrets.webPairSecretName" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "web-selfsigned") -}}
{{- end -}}

{{/*
What the Job ensures, as the JSON `spacefleet secrets` reads (SPACEFLEET_SECRETS): names, keys and how to make
them, never a value. "[]" when there is nothing to generate (then no Job is rendered).
adopt: a release of chart 0.1.0/0.2.0 kept its generated password in the release's own Secret (key password); an
upgrade copies it from there instead of generating, so the database keeps its password.
*/}}
{{- define "spacefleet.secrets.specs" -}}
{{- $specs := list -}}
{{- $labels := include "spacefleet.selectorLabels" (dict "ctx" . "component" "secrets") | fromYaml -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" "spacefleet-secrets" -}}
{{- $_ := set $labels "app.kubernetes.io/part-of" "spacefleet" -}}
{{- if include "spacefleet.secrets.generatesPassword" . -}}
{{- $specs = append $specs (dict "name" (include "spacefleet.secrets.passwordSecretName" .) "labels" $labels
    "generate" (dict "password" "password")
    "adopt" (list (dict "secret" (include "spacefleet.database.secretName" .) "key" "password" "as" "password"))
    "fix" "set postgresql.auth.password, or postgresql.auth.existingSecret (a Secret you create), so that the chart generates no password") -}}
{{- end -}}
{{- if include "spacefleet.secrets.generatesWebPair" . -}}
{{- $names := include "spacefleet.certificates.webNames" . | fromJsonArray -}}
{{- $specs = append $specs (dict "name" (include "spacefleet.secrets.webPairSecretName" .) "type" "kubernetes.io/tls" "labels" $labels
    "selfSigned" (dict "commonName" (first $names) "dnsNames" $names "days" 3650)
    "fix" "use web.tls.existingSecret or web.tls.certManager instead of web.tls.selfSigned") -}}
{{- end -}}
{{- toJson $specs -}}
{{- end -}}

{{/* The names the Job may read or write: its Role's resourceNames. */}}
{{- define "spacefleet.secrets.names" -}}
{{- $names := list -}}
{{- range (include "spacefleet.secrets.specs" . | fromJsonArray) -}}
{{- $names = append $names .name -}}
{{- range (.adopt | default list) }}{{ $names = append $names .secret }}{{ end -}}
{{- end -}}
{{- $names | uniq | toJson -}}
{{- end -}}
