{{/*
Every template-time check in one place. Each message names the values key to change and how.
values.schema.json catches types, enums and unknown keys first; these catch what a schema cannot
(combinations, URL contents, paths) and stand in for the schema when it is skipped.
Entry point: spacefleet.validate, included once from validate.yaml.
*/}}

{{- define "spacefleet.fail" -}}
{{- fail (printf "\n\nspacefleet: %s\n" .) -}}
{{- end -}}

{{- define "spacefleet.validate" -}}
{{- include "spacefleet.validate.databaseMode" . -}}
{{- include "spacefleet.validate.url" . -}}
{{- include "spacefleet.validate.tlsPaths" . -}}
{{- include "spacefleet.validate.postgresqlVersion" . -}}
{{- include "spacefleet.validate.postgresql" . -}}
{{- include "spacefleet.validate.migrations" . -}}
{{- include "spacefleet.validate.web" . -}}
{{- end -}}

{{- define "spacefleet.validate.databaseMode" -}}
{{- $ext := .Values.externalDatabase -}}
{{- if .Values.postgresql.enabled -}}
  {{- if or $ext.url $ext.existingSecret -}}
  {{- include "spacefleet.fail" "externalDatabase.url / externalDatabase.existingSecret are set while postgresql.enabled=true. Pick one database: set postgresql.enabled=false to use the external database, or remove the externalDatabase settings to use the bundled PostgreSQL." -}}
  {{- end -}}
{{- else -}}
  {{- if and $ext.url $ext.existingSecret -}}
  {{- include "spacefleet.fail" "externalDatabase.url and externalDatabase.existingSecret are both set. Set exactly one: existingSecret (recommended for production: credentials stay out of Helm values) or url." -}}
  {{- end -}}
  {{- if not (or $ext.url $ext.existingSecret) -}}
  {{- include "spacefleet.fail" "postgresql.enabled=false but no external database is configured. Set externalDatabase.existingSecret (a Secret holding DATABASE_URL) or externalDatabase.url, or set postgresql.enabled=true for the bundled database." -}}
  {{- end -}}
  {{- if and $ext.existingSecret (not $ext.existingSecretKey) -}}
  {{- include "spacefleet.fail" "externalDatabase.existingSecretKey is empty. Set it to the key in your Secret that holds the connection URI (default DATABASE_URL)." -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* The URL itself is never echoed: it carries the password. */}}
{{- define "spacefleet.validate.url" -}}
{{- $url := .Values.externalDatabase.url -}}
{{- if and (not .Values.postgresql.enabled) $url -}}
  {{- if not (regexMatch "^postgres(ql)?://" $url) -}}
  {{- include "spacefleet.fail" "externalDatabase.url must be a PostgreSQL URI starting with postgres:// or postgresql:// (postgres://USER:PASSWORD@HOST:5432/DB?sslmode=verify-full)." -}}
  {{- end -}}
  {{- $rest := regexReplaceAll "^postgres(ql)?://" $url "" -}}
  {{- $beforeQuery := regexReplaceAll "[?#].*$" $rest "" -}}
  {{- if contains "@" $beforeQuery -}}
    {{- $userinfo := regexReplaceAll "@[^@]*$" $beforeQuery "" -}}
    {{- if not (regexMatch "^([A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*(:([A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)?$" $userinfo) -}}
    {{- include "spacefleet.fail" "externalDatabase.url: the user name or password contains characters that must be URL-encoded (such as @ / : # ? % or a space). Encode them in the URL (@ → %40, / → %2F, : → %3A, # → %23, ? → %3F, % → %25, space → %20), or keep the URL in a Secret via externalDatabase.existingSecret." -}}
    {{- end -}}
  {{- end -}}
  {{- $hostport := regexReplaceAll "^.*@" $beforeQuery "" -}}
  {{- $host := regexReplaceAll "/.*$" $hostport "" -}}
  {{- if not $host -}}
  {{- include "spacefleet.fail" "externalDatabase.url has no host. Use postgres://USER:PASSWORD@HOST:5432/DB?sslmode=verify-full." -}}
  {{- end -}}
  {{- $sslmode := include "spacefleet.database.urlParam" (dict "url" $url "param" "sslmode") -}}
  {{- if and $sslmode (not (has $sslmode (list "disable" "allow" "prefer" "require" "verify-ca" "verify-full"))) -}}
  {{- include "spacefleet.fail" (printf "externalDatabase.url: unknown sslmode %q. Use one of disable, allow, prefer, require, verify-ca, verify-full (verify-full for any network you do not fully trust)." $sslmode) -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* The page's "no such file or directory" row, caught at helm install instead of in a Job log. */}}
{{- define "spacefleet.validate.tlsPaths" -}}
{{- $url := .Values.externalDatabase.url -}}
{{- if not .Values.postgresql.enabled -}}
{{- $mounts := include "spacefleet.database.mountPaths" . | trim | splitList "\n" | compact -}}
{{- $paths := list -}}
{{- range $param := list "sslrootcert" "sslcert" "sslkey" -}}
  {{- $paths = append $paths (list (printf "externalDatabase.url: %s" $param) (include "spacefleet.database.urlParam" (dict "url" $url "param" $param))) -}}
{{- end -}}
{{- $paths = append $paths (list "externalDatabase.sslrootcert" $.Values.externalDatabase.sslrootcert) -}}
{{- range $p := $paths -}}
  {{- $key := index $p 0 -}}
  {{- $path := index $p 1 -}}
  {{- if and $path (ne $path "system") -}}
    {{- $found := false -}}
    {{- range $m := $mounts -}}
      {{- if hasPrefix (printf "%s/" (trimSuffix "/" $m)) $path -}}{{- $found = true -}}{{- end -}}
    {{- end -}}
    {{- if not $found -}}
    {{- include "spacefleet.fail" (printf "%s=%s is not under any config.extraVolumeMounts[].mountPath (have: %s). Mount the file there: add the volume to config.extraVolumes and a mount to config.extraVolumeMounts whose mountPath plus the ConfigMap/Secret key equals %s — otherwise the migrate Job fails with \"no such file or directory\"." $key $path (default "none" (join ", " $mounts)) $path) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- end -}}
{{- range $i, $m := .Values.config.extraVolumeMounts -}}
  {{- $names := list -}}
  {{- range $.Values.config.extraVolumes }}{{ $names = append $names .name }}{{ end -}}
  {{- if not (has $m.name $names) -}}
  {{- include "spacefleet.fail" (printf "config.extraVolumeMounts[%d] mounts volume %q, which is not in config.extraVolumes. Add a volume named %q to config.extraVolumes." $i $m.name $m.name) -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.validate.postgresqlVersion" -}}
{{- if .Values.postgresql.enabled -}}
{{- $major := include "spacefleet.postgresql.majorVersion" . -}}
{{- if not $major -}}
{{- include "spacefleet.fail" (printf "postgresql.image.tag %q does not start with a PostgreSQL major version. Pin a versioned tag such as \"16.6\" (14 to 17 are supported)." (toString .Values.postgresql.image.tag)) -}}
{{- else if lt (atoi $major) 14 -}}
{{- include "spacefleet.fail" (printf "postgresql.image.tag %q is PostgreSQL %s; Spacefleet needs 14 or newer. Set postgresql.image.tag to a 14–17 release such as \"16.6\"." (toString .Values.postgresql.image.tag) $major) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.validate.postgresql" -}}
{{- $pg := .Values.postgresql -}}
{{- if $pg.enabled -}}
  {{- if and $pg.auth.password $pg.auth.existingSecret -}}
  {{- include "spacefleet.fail" "postgresql.auth.password and postgresql.auth.existingSecret are both set. Keep one: the password in values, or the Secret that holds it." -}}
  {{- end -}}
  {{- if $pg.tls.enabled -}}
    {{- $issuer := $pg.tls.certManager.issuerRef | default dict -}}
    {{- if and $pg.tls.existingSecret $issuer.name -}}
    {{- include "spacefleet.fail" "postgresql.tls.existingSecret and postgresql.tls.certManager.issuerRef are both set. Choose where the server certificate comes from: a Secret you provide (tls.crt, tls.key, ca.crt) or a cert-manager issuer." -}}
    {{- end -}}
    {{- if not (or $pg.tls.existingSecret $issuer.name) -}}
    {{- include "spacefleet.fail" "postgresql.tls.enabled=true needs a server certificate: set postgresql.tls.existingSecret (a Secret with tls.crt, tls.key and ca.crt) or postgresql.tls.certManager.issuerRef.name (a cert-manager Issuer or ClusterIssuer)." -}}
    {{- end -}}
  {{- else if $pg.tls.required -}}
  {{- include "spacefleet.fail" "postgresql.tls.required=true without postgresql.tls.enabled=true would refuse every connection. Turn TLS on (postgresql.tls.enabled=true) or set required=false." -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* A pre-install hook cannot wait for a database the same release has not created yet. */}}
{{- define "spacefleet.validate.migrations" -}}
{{- if and .Values.migrations.viaHook .Values.migrations.useHelmHooks .Values.postgresql.enabled -}}
{{- include "spacefleet.fail" "migrations.viaHook=true with the bundled PostgreSQL and migrations.useHelmHooks=true would deadlock `helm install --wait`: the database is created by this release, so the migrate hook can only run post-install, after the pods it must unblock. Set migrations.useHelmHooks=false (the migrate Job then runs as a plain Job beside the database and web/worker wait for it), or set migrations.viaHook=false, or use an external database." -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.validate.web" -}}
{{- $svc := .Values.web.service -}}
{{- if not (has (toString $svc.sessionAffinity) (list "" "None" "ClientIP")) -}}
{{- include "spacefleet.fail" (printf "web.service.sessionAffinity %q is not valid. Use \"\" (unset), None or ClientIP." (toString $svc.sessionAffinity)) -}}
{{- end -}}
{{- if and $svc.sessionAffinityConfig (ne (toString $svc.sessionAffinity) "ClientIP") -}}
{{- include "spacefleet.fail" "web.service.sessionAffinityConfig is set but web.service.sessionAffinity is not ClientIP, so Kubernetes would ignore it. Set web.service.sessionAffinity=ClientIP or remove sessionAffinityConfig." -}}
{{- end -}}
{{- if not (has (toString .Values.rateLimiting.backend) (list "memory" "postgres")) -}}
{{- include "spacefleet.fail" (printf "rateLimiting.backend %q is not valid. Use memory (one budget per pod) or postgres (one budget shared by all web replicas)." (toString .Values.rateLimiting.backend)) -}}
{{- end -}}
{{- end -}}
