{{/*
The one road from values to DATABASE_URL. Every pod that talks to PostgreSQL (web, worker, migrate, the
`helm test` pod) includes spacefleet.database.env, .volumes and .volumeMounts, and nothing else decides
where the connection string or the TLS files come from.
*/}}

{{/*
"bundled", "parts", "url" or "existingSecret" ("" when nothing is configured; _validate.tpl reports it and every
ambiguous combination). "parts": externalDatabase.host/database/username/password or existingSecretKeys.*.
*/}}
{{- define "spacefleet.database.mode" -}}
{{- if .Values.postgresql.enabled -}}bundled
{{- else if include "spacefleet.database.partsGiven" . -}}parts
{{- else if .Values.externalDatabase.existingSecret -}}existingSecret
{{- else if .Values.externalDatabase.url -}}url
{{- end -}}
{{- end -}}

{{/* The connection parts: values key → libpq variable (docs/app-contract.md). port is left out of "given": it has a default. */}}
{{- define "spacefleet.database.partVars" -}}
{{- list (list "host" "PGHOST") (list "port" "PGPORT") (list "database" "PGDATABASE") (list "username" "PGUSER") (list "password" "PGPASSWORD") | toJson -}}
{{- end -}}

{{- define "spacefleet.database.partsGiven" -}}
{{- $ext := .Values.externalDatabase -}}
{{- $keys := $ext.existingSecretKeys | default dict -}}
{{- if or $ext.host $ext.database $ext.username $ext.password $keys.host $keys.port $keys.database $keys.username $keys.password }}true{{ end -}}
{{- end -}}

{{/* The external-database keys that are set (JSON list of full keys): all must be empty with the bundled database. */}}
{{- define "spacefleet.database.externalKeysSet" -}}
{{- $ext := .Values.externalDatabase -}}
{{- $set := list -}}
{{- range $k := list "url" "existingSecret" "host" "database" "username" "password" -}}
  {{- if index $ext $k }}{{ $set = append $set (printf "externalDatabase.%s" $k) }}{{ end -}}
{{- end -}}
{{- $keys := $ext.existingSecretKeys | default dict -}}
{{- range $k := list "host" "port" "database" "username" "password" -}}
  {{- if index $keys $k }}{{ $set = append $set (printf "externalDatabase.existingSecretKeys.%s" $k) }}{{ end -}}
{{- end -}}
{{- $ca := include "spacefleet.database.caValues" . | fromJson -}}
{{- range $k := list "secretName" "configMapName" -}}
  {{- if index $ca $k }}{{ $set = append $set (printf "externalDatabase.tls.ca.%s" $k) }}{{ end -}}
{{- end -}}
{{- $cc := include "spacefleet.database.clientCertificateValues" . | fromJson -}}
{{- range $k := list "issuerRef" "commonName" "duration" "renewBefore" -}}
  {{- if index $cc $k }}{{ $set = append $set (printf "externalDatabase.tls.clientCertificate.certManager.%s" $k) }}{{ end -}}
{{- end -}}
{{- toJson $set -}}
{{- end -}}

{{/* externalDatabase.tls.ca and .tls.clientCertificate.certManager, as maps even when a values file nulled them. */}}
{{- define "spacefleet.database.caValues" -}}
{{- (.Values.externalDatabase.tls | default dict).ca | default dict | toJson -}}
{{- end -}}
{{- define "spacefleet.database.clientCertificateValues" -}}
{{- ((.Values.externalDatabase.tls | default dict).clientCertificate | default dict).certManager | default dict | toJson -}}
{{- end -}}

{{/*
The database CA from externalDatabase.tls.ca, mounted into every client (external database only):
{"volume": {...}, "mount": {...}, "path": "/etc/spacefleet/database-ca/<key>", "source": "Secret x (key k)"}, or {}.
*/}}
{{- define "spacefleet.database.ca" -}}
{{- $ca := include "spacefleet.database.caValues" . | fromJson -}}
{{- if and (not .Values.postgresql.enabled) (or $ca.secretName $ca.configMapName) -}}
{{- $key := $ca.key | default "ca.crt" | toString -}}
{{- $dir := "/etc/spacefleet/database-ca" -}}
{{- $items := list (dict "key" $key "path" $key) -}}
{{- $vol := dict "name" "spacefleet-database-ca" -}}
{{- $source := "" -}}
{{- if $ca.secretName -}}
{{- $_ := set $vol "secret" (dict "secretName" $ca.secretName "items" $items) -}}
{{- $source = printf "Secret %s (key %s)" $ca.secretName $key -}}
{{- else -}}
{{- $_ := set $vol "configMap" (dict "name" $ca.configMapName "items" $items) -}}
{{- $source = printf "ConfigMap %s (key %s)" $ca.configMapName $key -}}
{{- end -}}
{{- dict "volume" $vol "mount" (dict "name" "spacefleet-database-ca" "mountPath" $dir "readOnly" true) "path" (printf "%s/%s" $dir $key) "source" $source | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/* The CA path the clients verify against (PGSSLROOTCERT): externalDatabase.sslrootcert, else the tls.ca file, else "". */}}
{{- define "spacefleet.database.sslrootcert" -}}
{{- .Values.externalDatabase.sslrootcert | default (include "spacefleet.database.ca" . | fromJson).path | default "" -}}
{{- end -}}

{{/* By parts, the chart keeps a literal externalDatabase.password in its own Secret (never a literal env value). */}}
{{- define "spacefleet.database.ownsPassword" -}}
{{- $ext := .Values.externalDatabase -}}
{{- if and (eq (include "spacefleet.database.mode" .) "parts") $ext.password (not ($ext.existingSecretKeys | default dict).password) }}true{{ end -}}
{{- end -}}

{{/* The chart creates the database Secret itself unless you brought your own. */}}
{{- define "spacefleet.database.ownsSecret" -}}
{{- $mode := include "spacefleet.database.mode" . -}}
{{- if or (has $mode (list "bundled" "url")) (include "spacefleet.database.ownsPassword" .) }}true{{ end -}}
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
{{- default "DATABASE_URL" (.Values.externalDatabase.existingSecretKeys | default dict).url -}}
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

{{/* userinfo-safe escaping: QueryEscape turns a space into "+", which in userinfo would mean a plus. */}}
{{- define "spacefleet.database.escape" -}}
{{- urlquery . | replace "+" "%20" -}}
{{- end -}}

{{/*
The bundled database's URI. It never carries the password: every client gets PGPASSWORD from the Secret that holds
it (spacefleet.postgresql.passwordRef), which libpq and pgx read when the URI has none. So the password is rendered
nowhere unless you wrote it into values (postgresql.auth.password), and a generated one not even then.
With TLS on, the clients verify the server fully against the CA the chart mounts.
*/}}
{{- define "spacefleet.database.bundledURL" -}}
{{- $v := .Values.postgresql.auth -}}
{{- $ssl := "sslmode=disable" -}}
{{- if .Values.postgresql.tls.enabled -}}{{- $ssl = printf "sslmode=verify-full&sslrootcert=%s/ca.crt" (include "spacefleet.postgresql.caMountPath" .) -}}{{- end -}}
{{- if eq (include "spacefleet.certificates.databaseClient" .) "bundled" -}}
{{- $dir := include "spacefleet.certificates.databaseClientPath" . -}}
{{- $ssl = printf "%s&sslcert=%s/tls.crt&sslkey=%s/tls.key" $ssl $dir $dir -}}
{{- end -}}
{{- printf "postgres://%s@%s:5432/%s?%s" (include "spacefleet.database.escape" $v.username) (include "spacefleet.postgresql.host" .) (include "spacefleet.database.escape" $v.database) $ssl -}}
{{- end -}}

{{- define "spacefleet.postgresql.caMountPath" -}}/etc/spacefleet/postgresql-ca{{- end -}}

{{- define "spacefleet.postgresql.tlsSecretName" -}}
{{- default (include "spacefleet.names.object" (dict "ctx" . "suffix" "postgresql-tls")) .Values.postgresql.tls.existingSecret -}}
{{- end -}}

{{/*
Where the bundled database's password lives: (list secretName key). Yours (auth.existingSecret), else
<fullname>-postgresql-password (templates/secrets/): generated there once when values give none, set there by the
password-set hook when they give one (rotate by changing it). Removing auth.password keeps the current password.
*/}}
{{- define "spacefleet.postgresql.passwordRef" -}}
{{- if .Values.postgresql.auth.existingSecret -}}
{{- list .Values.postgresql.auth.existingSecret (default "password" .Values.postgresql.auth.existingSecretKeys.password) | toJson -}}
{{- else -}}
{{- list (include "spacefleet.secrets.passwordSecretName" .) "password" | toJson -}}
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

{{/* The sslmode the app will use, when the chart can see it ("" for a URI in an existing Secret). */}}
{{- define "spacefleet.database.sslmode" -}}
{{- $mode := include "spacefleet.database.mode" . -}}
{{- if eq $mode "bundled" -}}{{ ternary "verify-full" "disable" (.Values.postgresql.tls.enabled | default false) }}
{{- else if eq $mode "url" -}}{{ default .Values.externalDatabase.sslmode (include "spacefleet.database.urlParam" (dict "url" .Values.externalDatabase.url "param" "sslmode")) }}
{{- else if eq $mode "parts" -}}{{ (include "spacefleet.database.connection" . | fromJson).sslmode }}
{{- end -}}
{{- end -}}

{{/*
Where a host is, from its name alone: (dict "ctx" $ "host" $host) → {"type": "in-cluster"|"external", "why": ...}.
A short Service name or <svc>.<ns>.svc[.<clusterDomain>] is in-cluster; an IP address or any other name is external.
*/}}
{{- define "spacefleet.database.hostType" -}}
{{- $h := trimSuffix "." (.host | toString | lower) -}}
{{- $domain := trimSuffix "." (.ctx.Values.clusterDomain | default "cluster.local" | lower) -}}
{{- if or (regexMatch "^[0-9]+([.][0-9]+){3}$" $h) (contains ":" $h) -}}
{{- dict "type" "external" "why" (printf "host %q is an IP address" .host) | toJson -}}
{{- else if not (contains "." $h) -}}
{{- dict "type" "in-cluster" "why" (printf "host %q is a short Service name" .host) | toJson -}}
{{- else if or (hasSuffix ".svc" $h) (hasSuffix (printf ".svc.%s" $domain) $h) -}}
{{- dict "type" "in-cluster" "why" (printf "host %q is a Service name in the cluster domain (clusterDomain=%s)" .host $domain) | toJson -}}
{{- else -}}
{{- dict "type" "external" "why" (printf "host %q is a domain name outside the cluster domain (clusterDomain=%s)" .host $domain) | toJson -}}
{{- end -}}
{{- end -}}

{{/* The host of an inline URL ("" when none can be read): the part between "@" (if any) and the port/path. */}}
{{- define "spacefleet.database.urlHost" -}}
{{- $rest := regexReplaceAll "^postgres(ql)?://" . "" -}}
{{- $hostport := regexReplaceAll "^.*@" (regexReplaceAll "[/?#].*$" $rest "") "" -}}
{{- if hasPrefix "[" $hostport -}}{{ regexReplaceAll "^\\[([^]]*)\\].*$" $hostport "${1}" }}{{- else -}}{{ regexReplaceAll ":[0-9]*$" $hostport "" }}{{- end -}}
{{- end -}}

{{/*
The connection as NOTES tells it: {"type", "typeWhy", "sslmode", "sslmodeWhy", "warning"}. By parts, with no
externalDatabase.sslmode, the chart picks the TLS default from the connection type: verify-full for an external host
(against the mounted sslrootcert or the image's trust store) and for a host it cannot see (from a Secret); for an
in-cluster host verify-full when a CA is mounted (externalDatabase.sslrootcert), otherwise require, with a warning.
An explicit sslmode always wins. The URI modes keep their URI's sslmode (nothing existing changes).
*/}}
{{- define "spacefleet.database.connection" -}}
{{- $ext := .Values.externalDatabase -}}
{{- $keys := $ext.existingSecretKeys | default dict -}}
{{- $mode := include "spacefleet.database.mode" . -}}
{{- $c := dict "type" "unknown" "typeWhy" "" "sslmode" "" "sslmodeWhy" "" "warning" "" -}}
{{- $rootcert := include "spacefleet.database.sslrootcert" . -}}
{{- $caFile := include "spacefleet.database.ca" . | fromJson -}}
{{- $ca := "the image's trust store (public CAs, e.g. Amazon RDS)" -}}
{{- if $ext.sslrootcert -}}{{- $ca = printf "the CA at externalDatabase.sslrootcert=%s" $ext.sslrootcert -}}
{{- else if $rootcert -}}{{- $ca = printf "the CA in %s (externalDatabase.tls.ca)" $caFile.source -}}
{{- end -}}
{{- if eq $mode "bundled" -}}
  {{- $_ := set $c "type" "in-cluster" -}}{{- $_ := set $c "typeWhy" "the bundled PostgreSQL (postgresql.enabled=true)" -}}
  {{- if .Values.postgresql.tls.enabled -}}
  {{- $_ := set $c "sslmode" "verify-full" -}}{{- $_ := set $c "sslmodeWhy" "postgresql.tls.enabled=true: verified against the CA the chart mounts" -}}
  {{- else -}}
  {{- $_ := set $c "sslmode" "disable" -}}{{- $_ := set $c "sslmodeWhy" "postgresql.tls.enabled=false" -}}
  {{- end -}}
{{- else if eq $mode "existingSecret" -}}
  {{- $_ := set $c "typeWhy" (printf "the URI is in Secret %s (key %s), which the chart cannot read" $ext.existingSecret (include "spacefleet.database.secretKey" .)) -}}
  {{- $_ := set $c "sslmode" (default "as the URI says" $ext.sslmode) -}}
  {{- $_ := set $c "sslmodeWhy" (ternary "externalDatabase.sslmode applies when the URI sets none" "the chart cannot see the URI (set externalDatabase.sslmode for URIs without one)" (ne $ext.sslmode "")) -}}
{{- else if eq $mode "url" -}}
  {{- $host := include "spacefleet.database.urlHost" $ext.url -}}
  {{- if $host -}}{{- $t := include "spacefleet.database.hostType" (dict "ctx" . "host" $host) | fromJson -}}{{- $_ := set $c "type" $t.type -}}{{- $_ := set $c "typeWhy" $t.why -}}{{- end -}}
  {{- $url := include "spacefleet.database.urlParam" (dict "url" $ext.url "param" "sslmode") -}}
  {{- if $url -}}{{- $_ := set $c "sslmode" $url -}}{{- $_ := set $c "sslmodeWhy" "set in externalDatabase.url" -}}
  {{- else if $ext.sslmode -}}{{- $_ := set $c "sslmode" $ext.sslmode -}}{{- $_ := set $c "sslmodeWhy" "externalDatabase.sslmode (the URI sets none)" -}}
  {{- else -}}{{- $_ := set $c "sslmode" "prefer" -}}{{- $_ := set $c "sslmodeWhy" "libpq's default: the URI sets none" -}}
  {{- end -}}
{{- else if eq $mode "parts" -}}
  {{- if $keys.host -}}
  {{- $_ := set $c "typeWhy" (printf "the host comes from Secret %s (key %s), which the chart cannot read" $ext.existingSecret $keys.host) -}}
  {{- else if $ext.host -}}
  {{- $t := include "spacefleet.database.hostType" (dict "ctx" . "host" $ext.host) | fromJson -}}{{- $_ := set $c "type" $t.type -}}{{- $_ := set $c "typeWhy" $t.why -}}
  {{- end -}}
  {{- if $ext.sslmode -}}
  {{- $_ := set $c "sslmode" $ext.sslmode -}}{{- $_ := set $c "sslmodeWhy" "set by externalDatabase.sslmode (an explicit sslmode always wins)" -}}
  {{- else if eq $c.type "external" -}}
  {{- $_ := set $c "sslmode" "verify-full" -}}{{- $_ := set $c "sslmodeWhy" (printf "external host: certificate chain and host name verified against %s" $ca) -}}
  {{- else if eq $c.type "in-cluster" -}}
    {{- if $rootcert -}}
    {{- $_ := set $c "sslmode" "verify-full" -}}{{- $_ := set $c "sslmodeWhy" (printf "in-cluster host with a CA mounted: verified against %s" $ca) -}}
    {{- else -}}
    {{- $_ := set $c "sslmode" "require" -}}{{- $_ := set $c "sslmodeWhy" "in-cluster host and no CA mounted (externalDatabase.tls.ca is empty): encrypted, not verified" -}}
    {{- $_ := set $c "warning" (printf "externalDatabase.host %q is in-cluster and no CA is mounted, so the app connects with sslmode=require: encrypted, but the server is not verified. Set externalDatabase.tls.ca to your operator's CA to get verify-full, e.g. for CloudNativePG cluster <cluster>: externalDatabase.tls.ca.secretName=<cluster>-ca (only its key ca.crt is mounted)." $ext.host) -}}
    {{- end -}}
  {{- else -}}
  {{- $_ := set $c "sslmode" "verify-full" -}}{{- $_ := set $c "sslmodeWhy" (printf "the safe default for a host the chart cannot see, verified against %s; set externalDatabase.host (its type then decides) or externalDatabase.sslmode to choose" $ca) -}}
  {{- end -}}
{{- end -}}
{{- toJson $c -}}
{{- end -}}

{{/*
What rolls the pods when the connection changes: for the bundled database the values' password (a rollback or an
upgrade that changes it rolls every client and the database pod, whose password-sync then applies it) and where the
password lives (values, yours, or generated: switching between them rolls everything too); for an existing Secret
its name and key (rotate its content with `kubectl rollout restart`). Nothing generated is in it: one render.
*/}}
{{- define "spacefleet.database.checksum" -}}
{{- if not (hasKey . "spacefleetDatabaseChecksum") -}}
{{- $in := dict "mode" (include "spacefleet.database.mode" .) "secret" (include "spacefleet.database.secretName" .) "key" (include "spacefleet.database.secretKey" .) -}}
{{- $_ := set $in "url" (.Values.externalDatabase.url | sha256sum) -}}
{{- /* a generated password is never known here, and never changes: the Secret it lives in stands for it */ -}}
{{- $pw := "" -}}
{{- if and .Values.postgresql.enabled (not .Values.postgresql.auth.existingSecret) -}}{{- $pw = .Values.postgresql.auth.password | default "" -}}{{- end -}}
{{- $_ := set $in "pg" (list .Values.postgresql.auth.username .Values.postgresql.auth.database ($pw | sha256sum) (include "spacefleet.postgresql.passwordRef" .)) -}}
{{- $_ := set $in "tls" (list .Values.postgresql.tls.enabled (include "spacefleet.postgresql.tlsSecretName" .) .Values.postgresql.tls.required) -}}
{{- $ext := .Values.externalDatabase -}}
{{- $_ := set $in "ssl" (list $ext.sslmode $ext.sslrootcert $ext.sslcert $ext.sslkey (include "spacefleet.database.ca" .)) -}}
{{- $_ := set $in "parts" (list $ext.host (toString $ext.port) $ext.database $ext.username ($ext.password | sha256sum) $ext.existingSecretKeys .Values.clusterDomain) -}}
{{- $_ := set $in "client" (list (include "spacefleet.certificates.databaseClient" .) .Values.postgresql.tls.clientCertificate.requirePassword) -}}
{{- $_ := set . "spacefleetDatabaseChecksum" (toJson $in | sha256sum) -}}
{{- end -}}
{{- index . "spacefleetDatabaseChecksum" -}}
{{- end -}}

{{/*
Container env for a database client: (dict "ctx" $ "component" "web"). A URI comes as DATABASE_URL from a Secret;
parts come as libpq's PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD, each a literal value or a secretKeyRef, the
password always a secretKeyRef (to your Secret, or to the chart's for a literal password): raw values that pgx
reads byte for byte, so no URI is ever built from a value the chart cannot see or encode.
*/}}
{{- define "spacefleet.database.env" -}}
{{- include "spacefleet.database.envItems" . | trim -}}
{{- end -}}

{{- define "spacefleet.database.envItems" -}}
{{- $ext := .ctx.Values.externalDatabase -}}
{{- $mode := include "spacefleet.database.mode" .ctx -}}
{{- if eq $mode "parts" }}
{{- $keys := $ext.existingSecretKeys | default dict }}
{{- range $pv := include "spacefleet.database.partVars" .ctx | fromJsonArray }}
{{- $part := index $pv 0 }}{{- $var := index $pv 1 }}
{{- if index $keys $part }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $ext.existingSecret | quote }}
      key: {{ index $keys $part | quote }}
{{- else if and (eq $part "password") $ext.password }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "spacefleet.database.secretNameFor" $ | quote }}
      key: password
{{- else if eq $part "port" }}
- name: PGPORT
  value: {{ include "spacefleet.int" $ext.port | quote }}
{{- else if and (ne $part "password") (index $ext $part) }}
- name: {{ $var }}
  value: {{ index $ext $part | toString | quote }}
{{- end }}
{{- end }}
- name: PGSSLMODE
  value: {{ include "spacefleet.database.sslmode" .ctx | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "spacefleet.database.secretNameFor" . | quote }}
      key: {{ include "spacefleet.database.secretKey" .ctx | quote }}
{{- if and $ext.sslmode (not .ctx.Values.postgresql.enabled) }}
- name: PGSSLMODE
  value: {{ $ext.sslmode | quote }}
{{- end }}
{{- end }}
{{- if not .ctx.Values.postgresql.enabled }}
{{- with include "spacefleet.database.sslrootcert" .ctx }}
- name: PGSSLROOTCERT
  value: {{ . | quote }}
{{- end }}
{{- range $pv := list (list "sslcert" "PGSSLCERT") (list "sslkey" "PGSSLKEY") }}
{{- with index $ext (index $pv 0) }}
- name: {{ index $pv 1 }}
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq (include "spacefleet.certificates.databaseClient" .ctx) "external" }}
{{- $dir := include "spacefleet.certificates.databaseClientPath" .ctx }}
- name: PGSSLCERT
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: PGSSLKEY
  value: {{ printf "%s/tls.key" $dir | quote }}
{{- end }}
{{- if .ctx.Values.postgresql.enabled }}
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

{{/* Pod volumes every database client gets: the database's CA (bundled, or externalDatabase.tls.ca), the client certificate, then yours. */}}
{{- define "spacefleet.database.volumes" -}}
{{- $vols := list -}}
{{- if include "spacefleet.postgresql.tlsOn" . -}}
{{- $vols = append $vols (dict "name" "spacefleet-postgresql-ca" "secret" (dict "secretName" (include "spacefleet.postgresql.tlsSecretName" .) "items" (list (dict "key" "ca.crt" "path" "ca.crt")))) -}}
{{- end -}}
{{- with (include "spacefleet.database.ca" . | fromJson).volume -}}
{{- $vols = append $vols . -}}
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
{{- with (include "spacefleet.database.ca" . | fromJson).mount -}}
{{- $mounts = append $mounts . -}}
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
{{- regexFind "^[0-9]+" (include "spacefleet.images.tag" .Values.postgresql.image.tag) -}}
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
