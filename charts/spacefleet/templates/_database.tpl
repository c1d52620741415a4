{{/*
The one road from values to DATABASE_URL. Every pod that talks to PostgreSQL (web, worker, migrate, the
`helm test` pod) includes spacefleet.database.env, .volumes and .volumeMounts, and nothing else decides
where the connection string or the TLS files come from.
*/}}

{{/* "bundled", "url" or "existingSecret" ("" when nothing is configured; _validate.tpl reports it). */}}
{{- define "spacefleet.database.mode" -}}
{{- if .Values.postgresql.enabled -}}bundled
{{- else if .Values.externalDatabase.existingSecret -}}existingSecret
{{- else if .Values.externalDatabase.url -}}url
{{- end -}}
{{- end -}}

{{/* The chart creates the database Secret itself unless you brought your own. */}}
{{- define "spacefleet.database.ownsSecret" -}}
{{- if ne (include "spacefleet.database.mode" .) "existingSecret" }}true{{ end -}}
{{- end -}}

{{- define "spacefleet.database.secretName" -}}
{{- if eq (include "spacefleet.database.mode" .) "existingSecret" -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- else -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "database") -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.database.secretKey" -}}
{{- if eq (include "spacefleet.database.mode" .) "existingSecret" -}}
{{- default "DATABASE_URL" .Values.externalDatabase.existingSecretKey -}}
{{- else -}}
DATABASE_URL
{{- end -}}
{{- end -}}

{{/*
The Secret a given client reads: (dict "ctx" $ "component" "migrate"). Web, worker and the `helm test` pod read
the release's Secret; the migrate hook reads its hook-scoped copy when it has one (see spacefleet.migrate.*).
*/}}
{{- define "spacefleet.database.secretNameFor" -}}
{{- if and (eq .component "migrate") (include "spacefleet.migrate.copiesSecret" .ctx) -}}
{{- include "spacefleet.migrate.secretName" .ctx -}}
{{- else -}}
{{- include "spacefleet.database.secretName" .ctx -}}
{{- end -}}
{{- end -}}

{{/* The bundled database's StatefulSet and Service (52: the StatefulSet's limit, see spacefleet.names.object). */}}
{{- define "spacefleet.postgresql.fullname" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "postgresql" "max" 52) -}}
{{- end -}}

{{/* The StatefulSet's headless governing Service. */}}
{{- define "spacefleet.postgresql.headlessName" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "postgresql-hl") -}}
{{- end -}}

{{- define "spacefleet.postgresql.host" -}}
{{- printf "%s.%s.svc" (include "spacefleet.postgresql.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/*
The bundled database's password: values first, then the one already in the cluster (so an upgrade never
rotates a generated password by accident), then a new random one. Computed once per render and kept on the root
context (shared by every template of the chart), so the Secret and every pod's checksum see the same password.
*/}}
{{- define "spacefleet.postgresql.password" -}}
{{- if not (hasKey . "spacefleetPostgresPassword") -}}
{{- $pw := .Values.postgresql.auth.password -}}
{{- if not $pw -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "spacefleet.database.secretName" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data "password") -}}
{{- $pw = index $existing.data "password" | b64dec -}}
{{- else -}}
{{- $pw = randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- $_ := set . "spacefleetPostgresPassword" $pw -}}
{{- end -}}
{{- index . "spacefleetPostgresPassword" -}}
{{- end -}}

{{/* userinfo-safe escaping: QueryEscape turns a space into "+", which in userinfo would mean a plus. */}}
{{- define "spacefleet.database.escape" -}}
{{- urlquery . | replace "+" "%20" -}}
{{- end -}}

{{/*
The bundled database's URI for a given password: (dict "ctx" $ "password" $pw). With auth.existingSecret the
URI carries no password at all: the clients get PGPASSWORD from that Secret instead (see .env).
With TLS on, the clients verify the server fully against the CA the chart mounts.
*/}}
{{- define "spacefleet.database.bundledURL" -}}
{{- $v := .ctx.Values.postgresql.auth -}}
{{- $userinfo := include "spacefleet.database.escape" $v.username -}}
{{- if not $v.existingSecret -}}{{- $userinfo = printf "%s:%s" $userinfo (include "spacefleet.database.escape" .password) -}}{{- end -}}
{{- $ssl := "sslmode=disable" -}}
{{- if .ctx.Values.postgresql.tls.enabled -}}{{- $ssl = printf "sslmode=verify-full&sslrootcert=%s/ca.crt" (include "spacefleet.postgresql.caMountPath" .ctx) -}}{{- end -}}
{{- if eq (include "spacefleet.certificates.databaseClient" .ctx) "bundled" -}}
{{- $dir := include "spacefleet.certificates.databaseClientPath" .ctx -}}
{{- $ssl = printf "%s&sslcert=%s/tls.crt&sslkey=%s/tls.key" $ssl $dir $dir -}}
{{- end -}}
{{- printf "postgres://%s@%s:5432/%s?%s" $userinfo (include "spacefleet.postgresql.host" .ctx) (include "spacefleet.database.escape" $v.database) $ssl -}}
{{- end -}}

{{- define "spacefleet.postgresql.caMountPath" -}}/etc/spacefleet/postgresql-ca{{- end -}}

{{- define "spacefleet.postgresql.tlsSecretName" -}}
{{- default (include "spacefleet.names.object" (dict "ctx" . "suffix" "postgresql-tls")) .Values.postgresql.tls.existingSecret -}}
{{- end -}}

{{/* Where the bundled database's password lives: (list secretName key). */}}
{{- define "spacefleet.postgresql.passwordRef" -}}
{{- if .Values.postgresql.auth.existingSecret -}}
{{- list .Values.postgresql.auth.existingSecret (default "password" .Values.postgresql.auth.secretKey) | toJson -}}
{{- else -}}
{{- list (include "spacefleet.database.secretName" .) "password" | toJson -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.postgresql.tlsOn" -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.tls.enabled }}true{{ end -}}
{{- end -}}

{{/* One query parameter of a URI ("" when absent): (dict "url" $url "param" "sslmode"). */}}
{{- define "spacefleet.database.urlParam" -}}
{{- $m := regexFind (printf "[?&]%s=[^&#]*" .param) .url -}}
{{- regexReplaceAll (printf "^[?&]%s=" .param) $m "" -}}
{{- end -}}

{{/* The sslmode the app will use, when the chart can see the URL ("" for an existing Secret). */}}
{{- define "spacefleet.database.sslmode" -}}
{{- $mode := include "spacefleet.database.mode" . -}}
{{- if eq $mode "bundled" -}}{{ ternary "verify-full" "disable" (.Values.postgresql.tls.enabled | default false) }}
{{- else if eq $mode "url" -}}{{ default .Values.externalDatabase.sslmode (include "spacefleet.database.urlParam" (dict "url" .Values.externalDatabase.url "param" "sslmode")) }}
{{- end -}}
{{- end -}}

{{/*
What rolls the pods when the connection changes: for the bundled database the password the Secret will hold
(values, kept or generated: a rollback or an upgrade that changes it rolls every client and the database pod,
whose password-sync then applies it), for an existing Secret its name and key (rotate its content with
`kubectl rollout restart`).
*/}}
{{- define "spacefleet.database.checksum" -}}
{{- if not (hasKey . "spacefleetDatabaseChecksum") -}}
{{- $in := dict "mode" (include "spacefleet.database.mode" .) "secret" (include "spacefleet.database.secretName" .) "key" (include "spacefleet.database.secretKey" .) -}}
{{- $_ := set $in "url" (.Values.externalDatabase.url | sha256sum) -}}
{{- $pw := "" -}}
{{- if and .Values.postgresql.enabled (not .Values.postgresql.auth.existingSecret) -}}{{- $pw = include "spacefleet.postgresql.password" . -}}{{- end -}}
{{- $_ := set $in "pg" (list .Values.postgresql.auth.username .Values.postgresql.auth.database ($pw | sha256sum) .Values.postgresql.auth.existingSecret .Values.postgresql.auth.secretKey) -}}
{{- $_ := set $in "tls" (list .Values.postgresql.tls.enabled (include "spacefleet.postgresql.tlsSecretName" .) .Values.postgresql.tls.required) -}}
{{- $_ := set $in "client" (list (include "spacefleet.certificates.databaseClient" .) .Values.postgresql.tls.clientCertificates.requirePassword) -}}
{{- $_ := set $in "ssl" (list .Values.externalDatabase.sslmode .Values.externalDatabase.sslrootcert) -}}
{{- $_ := set . "spacefleetDatabaseChecksum" (toJson $in | sha256sum) -}}
{{- end -}}
{{- index . "spacefleetDatabaseChecksum" -}}
{{- end -}}

{{/* Container env for a database client: (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.database.env" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "spacefleet.database.secretNameFor" . | quote }}
      key: {{ include "spacefleet.database.secretKey" .ctx | quote }}
{{- with .ctx.Values.externalDatabase }}
{{- if and .sslmode (not $.ctx.Values.postgresql.enabled) }}
- name: PGSSLMODE
  value: {{ .sslmode | quote }}
{{- end }}
{{- if and .sslrootcert (not $.ctx.Values.postgresql.enabled) }}
- name: PGSSLROOTCERT
  value: {{ .sslrootcert | quote }}
{{- end }}
{{- end }}
{{- if eq (include "spacefleet.certificates.databaseClient" .ctx) "external" }}
{{- $dir := include "spacefleet.certificates.databaseClientPath" .ctx }}
- name: PGSSLCERT
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: PGSSLKEY
  value: {{ printf "%s/tls.key" $dir | quote }}
{{- end }}
{{- if and .ctx.Values.postgresql.enabled .ctx.Values.postgresql.auth.existingSecret }}
{{- $ref := include "spacefleet.postgresql.passwordRef" .ctx | fromJsonArray }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ index $ref 0 | quote }}
      key: {{ index $ref 1 | quote }}
{{- end }}
- name: SPACEFLEET_COMPONENT
  value: {{ .component | quote }}
- name: LOG_LEVEL
  value: {{ .ctx.Values.config.logLevel | quote }}
{{- end -}}

{{/* Pod volumes every database client gets: the bundled database's CA, then yours (CA bundles, client certificates). */}}
{{- define "spacefleet.database.volumes" -}}
{{- $vols := list -}}
{{- if include "spacefleet.postgresql.tlsOn" . -}}
{{- $vols = append $vols (dict "name" "spacefleet-postgresql-ca" "secret" (dict "secretName" (include "spacefleet.postgresql.tlsSecretName" .) "items" (list (dict "key" "ca.crt" "path" "ca.crt")))) -}}
{{- end -}}
{{- if include "spacefleet.certificates.databaseClient" . -}}
{{- /* the key must be readable by the app's user: group read through fsGroup, nobody else */ -}}
{{- $vols = append $vols (dict "name" "spacefleet-database-client" "secret" (dict "secretName" (include "spacefleet.certificates.databaseClientSecret" .) "defaultMode" 288 "items" (list (dict "key" "tls.crt" "path" "tls.crt") (dict "key" "tls.key" "path" "tls.key")))) -}}
{{- end -}}
{{- $vols = concat $vols .Values.config.extraVolumes -}}
{{- with $vols }}{{ include "spacefleet.yaml" . }}{{ end -}}
{{- end -}}

{{/* Container mounts matching spacefleet.database.volumes. */}}
{{- define "spacefleet.database.volumeMounts" -}}
{{- $mounts := list -}}
{{- if include "spacefleet.postgresql.tlsOn" . -}}
{{- $mounts = append $mounts (dict "name" "spacefleet-postgresql-ca" "mountPath" (include "spacefleet.postgresql.caMountPath" .) "readOnly" true) -}}
{{- end -}}
{{- if include "spacefleet.certificates.databaseClient" . -}}
{{- $mounts = append $mounts (dict "name" "spacefleet-database-client" "mountPath" (include "spacefleet.certificates.databaseClientPath" .) "readOnly" true) -}}
{{- end -}}
{{- $mounts = concat $mounts .Values.config.extraVolumeMounts -}}
{{- with $mounts }}{{ include "spacefleet.yaml" . }}{{ end -}}
{{- end -}}

{{/* Every mountPath a Spacefleet container has, one per line (for the sslrootcert/sslcert/sslkey check). */}}
{{- define "spacefleet.database.mountPaths" -}}
{{- range (include "spacefleet.database.volumeMounts" . | fromYamlArray) }}
{{ .mountPath }}
{{- end }}
{{- end -}}

{{/* The major version in the bundled image's tag ("" when the tag does not start with one). One rule, used by _validate.tpl and NOTES. */}}
{{- define "spacefleet.postgresql.majorVersion" -}}
{{- regexFind "^[0-9]+" (toString .Values.postgresql.image.tag) -}}
{{- end -}}

{{/*
The major version the running bundled database was deployed with ("" when there is none): the StatefulSet's
spacefleet.io/postgresql-major annotation (chart 0.2.0 on), else the tag of its postgresql container's image (0.1.0
rendered repository:tag). Takes the looked-up StatefulSet.
*/}}
{{- define "spacefleet.postgresql.runningMajor" -}}
{{- $major := dig "metadata" "annotations" "spacefleet.io/postgresql-major" "" . -}}
{{- if not $major -}}
  {{- range (dig "spec" "template" "spec" "containers" list .) -}}
    {{- if eq (toString .name) "postgresql" -}}
      {{- $ref := regexReplaceAll "@.*$" (toString .image) "" -}}
      {{- if regexMatch ":[^/:]+$" $ref -}}
        {{- $major = regexFind "^[0-9]+" (regexFind "[^:]+$" $ref) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $major -}}
{{- end -}}
