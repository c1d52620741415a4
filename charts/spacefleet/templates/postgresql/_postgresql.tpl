{{/*
Applies the password in the Secret to the role over the local socket (trusted inside the pod), at every
start of the database pod, before the pod turns Ready. A changed password rolls this pod (checksum), so
`helm upgrade --set postgresql.auth.password=NEW` rotates the role without the old password and without
locking the app out (the official image applies POSTGRES_PASSWORD only when it creates the data directory). The password travels on stdin, never in argv or a log line.
*/}}
{{- define "spacefleet.postgresql.passwordSyncScript" -}}
set -eu
until pg_isready -q -h /var/run/postgresql; do sleep 1; done
role=$(printf '%s' "$POSTGRES_USER" | sed 's/"/""/g')
pw=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
until printf "SET log_statement = 'none'; SET log_min_error_statement = 'panic'; ALTER ROLE \"%s\" WITH PASSWORD '%s';\n" "$role" "$pw" \
    | psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$POSTGRES_USER" -d "$POSTGRES_DB" >/dev/null; do
  echo '{"level":"WARN","msg":"password sync: database not ready for ALTER ROLE yet; retrying"}'
  sleep 2
done
touch /var/run/postgresql/.spacefleet-password-applied
echo '{"level":"INFO","msg":"password sync: role password matches the Secret"}'
exec sleep infinity
{{- end -}}

{{/*
PostgreSQL refuses a key file that others can read: copy the Secret's files to 0600 files the postgres user owns.
Each is written aside, then renamed into place, so a reload never reads half a pair.
*/}}
{{- define "spacefleet.postgresql.tlsCopyScript" -}}
set -eu
for f in ca.crt tls.crt tls.key; do cp "/tls-in/$f" "/tls/.$f.new"; done
chmod 0600 /tls/.tls.key.new
for f in ca.crt tls.key tls.crt; do mv -f "/tls/.$f.new" "/tls/$f"; done
{{- end -}}

{{/* Follows the mounted Secret: when its files differ from the copies, copy again and reload PostgreSQL. */}}
{{- define "spacefleet.postgresql.tlsReloadScript" -}}
set -u
COPY={{ include "spacefleet.postgresql.tlsCopyScript" . | squote }}
changed() { for f in ca.crt tls.crt tls.key; do cmp -s "/tls-in/$f" "/tls/$f" || return 0; done; return 1; }
while sleep 5; do
  changed || continue
  sh -c "$COPY" || { echo '{"level":"WARN","msg":"tls-reload: cannot copy the new certificate yet; retrying"}'; continue; }
  until psql -X -q -h /var/run/postgresql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c 'SELECT pg_reload_conf()' >/dev/null; do sleep 2; done
  echo '{"level":"INFO","msg":"tls-reload: new certificate in place, PostgreSQL reloaded"}'
done
{{- end -}}

{{- define "spacefleet.postgresql.hba" -}}
# Managed by the Spacefleet chart (postgresql.tls.*).
local all all trust
{{- if .Values.postgresql.tls.clientCertificate.enabled }}
hostnossl all all all reject
{{- if .Values.postgresql.tls.clientCertificate.requirePassword }}
hostssl all all all scram-sha-256 clientcert=verify-full
{{- else }}
hostssl all all all cert clientcert=verify-full
{{- end }}
{{- else if .Values.postgresql.tls.required }}
hostnossl all all all reject
hostssl all all all scram-sha-256
{{- else }}
host all all all scram-sha-256
{{- end }}
{{- end -}}


{{/*
The postgres server's arguments: TLS (postgresql.tls.*), then postgresql.parameters, each `-c name=value` (names
checked in _validate.tpl; an integral number in plain digits).
*/}}
{{- define "spacefleet.postgresql.args" -}}
{{- $args := list -}}
{{- if include "spacefleet.postgresql.tlsOn" . -}}
{{- range list "ssl=on" "ssl_cert_file=/tls/tls.crt" "ssl_key_file=/tls/tls.key" "ssl_ca_file=/tls/ca.crt" "hba_file=/etc/spacefleet/hba/pg_hba.conf" -}}
{{- $args = concat $args (list "-c" .) -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := (.Values.postgresql.parameters | default dict) -}}
{{- $args = concat $args (list "-c" (printf "%s=%s" $name (include "spacefleet.scalar" $value))) -}}
{{- end -}}
{{- with $args }}{{ include "spacefleet.yaml" . }}{{ end -}}
{{- end -}}

{{/* A probe of the database container: the values' settings over the chart's pg_isready handler, unless they bring their own. */}}
{{- define "spacefleet.postgresql.probe" -}}
{{- $p := deepCopy (.probe | default dict) -}}
{{- if not (or $p.exec $p.httpGet $p.tcpSocket $p.grpc) -}}
{{- $p = merge $p .handler -}}
{{- end -}}
{{- include "spacefleet.yaml" $p -}}
{{- end -}}

{{- define "spacefleet.postgresql.image" -}}
{{- include "spacefleet.images.ref" (dict "ctx" . "image" .Values.postgresql.image "default" "") -}}
{{- end -}}

{{/* The official image's environment contract: (dict "ctx" $ "ref" (list secretName key)). */}}
{{- define "spacefleet.postgresql.env" -}}
- name: POSTGRES_USER
  value: {{ .ctx.Values.postgresql.auth.username | quote }}
- name: POSTGRES_DB
  value: {{ .ctx.Values.postgresql.auth.database | quote }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ index .ref 0 | quote }}
      key: {{ index .ref 1 | quote }}
{{- end -}}
