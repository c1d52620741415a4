{{/*
Generated secrets (the house plan's road 5). Whatever the chart must invent — the bundled database's password when
you give none, the trial self-signed web pair — is created once, in the cluster, by the `<fullname>-secrets` Job
(`spacefleet secrets`), which only fills what is missing and never overwrites. A render never holds a generated
value, so two renders of one set of values are the same bytes (Argo CD and Flux diff renders; `helm template` has
no cluster to read a value back from), and the pods get them through secretKeyRef and Secret volumes.
The generated Secrets are not release resources: `helm uninstall` keeps them, like the database's volume, so a
reinstall finds the data and its password together (delete both to start over).
*/}}

{{/*
The bundled database's password lives in <fullname>-postgresql-password unless you bring your own Secret
(auth.existingSecret): generated there once when values give none, set there (overwritten) when values give one.
*/}}
{{- define "spacefleet.secrets.keepsPassword" -}}
{{- if and .Values.postgresql.enabled (not .Values.postgresql.auth.existingSecret) }}true{{ end -}}
{{- end -}}

{{/* values give the password: the password-set hook writes it into <fullname>-postgresql-password */}}
{{- define "spacefleet.secrets.setsPassword" -}}
{{- if and (include "spacefleet.secrets.keepsPassword" .) .Values.postgresql.auth.password }}true{{ end -}}
{{- end -}}

{{- define "spacefleet.secrets.generatesPassword" -}}
{{- if and (include "spacefleet.secrets.keepsPassword" .) (not .Values.postgresql.auth.password) }}true{{ end -}}
{{- end -}}

{{- define "spacefleet.secrets.passwordSecretName" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "postgresql-password") -}}
{{- end -}}

{{/* The password-set hook's Job, and the hook Secret that carries the values' password to it. */}}
{{- define "spacefleet.secrets.passwordSetName" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "password-set") -}}
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
{{- /* created (generated or adopted) even when values give a password: the pre-upgrade migrate Job reads it before
the password-set hook writes the new one */ -}}
{{- if include "spacefleet.secrets.keepsPassword" . -}}
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

{{/* What the password-set Job ensures: the values' password, from its hook Secret (env SPACEFLEET_GIVEN_PASSWORD). */}}
{{- define "spacefleet.secrets.setSpecs" -}}
{{- $labels := include "spacefleet.selectorLabels" (dict "ctx" . "component" "secrets") | fromYaml -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" "spacefleet-secrets" -}}
{{- $_ := set $labels "app.kubernetes.io/part-of" "spacefleet" -}}
{{- if include "spacefleet.secrets.setsPassword" . -}}
{{- list (dict "name" (include "spacefleet.secrets.passwordSecretName" .) "labels" $labels "set" (dict "password" "SPACEFLEET_GIVEN_PASSWORD")) | toJson -}}
{{- else -}}
[]
{{- end -}}
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

{{/* One `spacefleet secrets` Job: (dict "ctx" $ "name" N "step" "secrets" "specs" list "serviceAccount" SA ["env" list]). */}}
{{- define "spacefleet.secrets.job" -}}
{{- $ctx := .ctx -}}
{{- $s := include "spacefleet.pod.settings" (dict "ctx" $ctx "component" "secrets") | fromJson -}}
{{- /* the one chart pod that talks to the Kubernetes API */ -}}
{{- $_ := set $s "automountServiceAccountToken" true -}}
{{- $g := $ctx.Values.generatedSecrets -}}
apiVersion: batch/v1
kind: Job
metadata:
  {{- include "spacefleet.metadata" (dict "ctx" $ctx "component" "secrets" "name" .name "annotations" (include "spacefleet.ordering.annotations" (dict "ctx" $ctx "step" .step) | fromJson)) | nindent 2 }}
spec:
  backoffLimit: {{ include "spacefleet.int" $g.backoffLimit }}
  activeDeadlineSeconds: {{ include "spacefleet.int" $g.activeDeadlineSeconds }}
  template:
    metadata:
      {{- include "spacefleet.pod.metadata" (dict "ctx" $ctx "component" "secrets" "settings" $s) | nindent 6 }}
    spec:
      restartPolicy: Never
      {{- include "spacefleet.pod.spec" (dict "ctx" $ctx "component" "secrets" "settings" $s "serviceAccountName" .serviceAccount) | nindent 6 }}
      containers:
        - name: secrets
          image: {{ include "spacefleet.image" $ctx | quote }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          args: ["secrets"]
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: SPACEFLEET_COMPONENT
              value: secrets
            - name: LOG_LEVEL
              value: {{ $ctx.Values.config.logLevel | quote }}
            - name: SPACEFLEET_SECRETS
              value: {{ toJson .specs | quote }}
            {{- with .env }}
            {{- include "spacefleet.yaml" . | nindent 12 }}
            {{- end }}
          securityContext:
            {{- include "spacefleet.yaml" $s.securityContext | nindent 12 }}
          resources:
            {{- include "spacefleet.yaml" $g.resources | nindent 12 }}
{{- end -}}
