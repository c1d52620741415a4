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
{{- include "spacefleet.validate.images" . -}}
{{- include "spacefleet.validate.databaseMode" . -}}
{{- include "spacefleet.validate.parts" . -}}
{{- include "spacefleet.validate.url" . -}}
{{- include "spacefleet.validate.tlsPaths" . -}}
{{- include "spacefleet.validate.deprecations" . -}}
{{- include "spacefleet.validate.postgresqlVersion" . -}}
{{- include "spacefleet.validate.postgresqlMajorUpgrade" . -}}
{{- include "spacefleet.validate.postgresql" . -}}
{{- include "spacefleet.validate.migrations" . -}}
{{- include "spacefleet.validate.web" . -}}
{{- include "spacefleet.validate.labels" . -}}
{{- include "spacefleet.validate.pods" . -}}
{{- include "spacefleet.validate.scaling" . -}}
{{- include "spacefleet.validate.services" . -}}
{{- include "spacefleet.validate.route" . -}}
{{- include "spacefleet.validate.extraObjects" . -}}
{{- include "spacefleet.validate.monitoring" . -}}
{{- include "spacefleet.validate.networkPolicy" . -}}
{{- end -}}

{{/*
With the bundled database on, every external-database key that would change the connection must be empty. The
refusal names each one and gives the YAML that blanks them all, so an environment overlay can switch a base file's
external database to the bundled one (values layer: a later file can blank a key, never remove it).
*/}}
{{- define "spacefleet.validate.databaseMode" -}}
{{- $ext := .Values.externalDatabase -}}
{{- $parts := include "spacefleet.database.partsGiven" . -}}
{{- if .Values.postgresql.enabled -}}
  {{- $set := include "spacefleet.database.externalKeysSet" . | fromJsonArray -}}
  {{- if $set -}}
  {{- $blank := dict -}}
  {{- range $set -}}
    {{- $node := $blank -}}
    {{- $parts := splitList "." (trimPrefix "externalDatabase." .) -}}
    {{- range (initial $parts) -}}
      {{- if not (hasKey $node .) }}{{ $_ := set $node . dict }}{{ end -}}
      {{- $node = index $node . -}}
    {{- end -}}
    {{- $_ := set $node (last $parts) (ternary dict "" (eq (last $parts) "issuerRef")) -}}
  {{- end -}}
  {{- include "spacefleet.fail" (printf "postgresql.enabled=true (the bundled PostgreSQL), but external-database keys are set too: %s. Pick one database. To use the bundled one, blank each of them (in an environment overlay: externalDatabase: %s); to use the external one, set postgresql.enabled=false." (join ", " $set) (toJson $blank)) -}}
  {{- end -}}
{{- else -}}
  {{- if and $ext.url $parts -}}
  {{- include "spacefleet.fail" "externalDatabase.url and the connection parts (externalDatabase.host, database, username, password, existingSecretKeys) are both set. Give the connection one way: the URI in externalDatabase.url, or the parts (and remove externalDatabase.url)." -}}
  {{- end -}}
  {{- if and $ext.url $ext.existingSecret -}}
  {{- include "spacefleet.fail" "externalDatabase.url and externalDatabase.existingSecret are both set. Set exactly one: existingSecret (recommended for production: credentials stay out of Helm values) or url." -}}
  {{- end -}}
  {{- if not (or $ext.url $ext.existingSecret $parts) -}}
  {{- include "spacefleet.fail" "postgresql.enabled=false but no external database is configured. Set externalDatabase.existingSecret (a Secret holding DATABASE_URL) or externalDatabase.url, or give the connection by parts (externalDatabase.host, database, username and password or existingSecretKeys), or set postgresql.enabled=true for the bundled database." -}}
  {{- end -}}
  {{- if and $ext.existingSecret (not ($ext.existingSecretKeys | default dict).url) (not $parts) -}}
  {{- include "spacefleet.fail" "externalDatabase.existingSecretKeys.url is empty. Set it to the key in your Secret that holds the connection URI (default DATABASE_URL)." -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/*
The connection by parts: exactly one source per part, the required ones present, a host that is only a host,
the URI keys out of the way. Values are never echoed except the host (a host name is not a secret, but a
URI pasted into host may hold one: that message does not repeat it).
*/}}
{{- define "spacefleet.validate.parts" -}}
{{- $ext := .Values.externalDatabase -}}
{{- $keys := $ext.existingSecretKeys | default dict -}}
{{- if and (not .Values.postgresql.enabled) (include "spacefleet.database.partsGiven" .) -}}
  {{- $anyKey := or $keys.host $keys.port $keys.database $keys.username $keys.password -}}
  {{- if and $anyKey (not $ext.existingSecret) -}}
  {{- include "spacefleet.fail" "externalDatabase.existingSecretKeys names keys but externalDatabase.existingSecret is empty. Set existingSecret to the Secret that holds them (e.g. CloudNativePG's <cluster>-app), or give those parts literally." -}}
  {{- end -}}
  {{- if and $ext.existingSecret (not $anyKey) -}}
  {{- include "spacefleet.fail" (printf "externalDatabase.existingSecret=%s holds a connection URI (key existingSecretKeys.url), but connection parts (externalDatabase.host, database, username, password) are set too. Give the connection one way: to read parts from that Secret name their keys in externalDatabase.existingSecretKeys (e.g. password: password); to use its URI remove host, database, username and password." $ext.existingSecret) -}}
  {{- end -}}
  {{- if and $anyKey $keys.url (ne (toString $keys.url) "DATABASE_URL") -}}
  {{- include "spacefleet.fail" (printf "externalDatabase.existingSecretKeys.url=%s names a URI key, but the connection is given by parts (externalDatabase.existingSecretKeys.host, port, database, username, password). Give the connection one way: blank existingSecretKeys.url (parts), or blank the parts' keys (URI)." (toString $keys.url)) -}}
  {{- end -}}
  {{- range $part := list "host" "database" "username" "password" -}}
    {{- if and (index $ext $part) (index $keys $part) -}}
    {{- include "spacefleet.fail" (printf "externalDatabase.%s and externalDatabase.existingSecretKeys.%s are both set. Give the %s one way: literally, or from the Secret key (remove the other)." $part $part $part) -}}
    {{- end -}}
  {{- end -}}
  {{- if and $keys.port (ne (include "spacefleet.int" $ext.port) "5432") -}}
  {{- include "spacefleet.fail" "externalDatabase.port and externalDatabase.existingSecretKeys.port are both set. Give the port one way: literally, or from the Secret key (and leave port at its default 5432)." -}}
  {{- end -}}
  {{- $missing := list -}}
  {{- range $part := list "host" "database" "username" -}}
    {{- if not (or (index $ext $part) (index $keys $part)) -}}{{- $missing = append $missing (printf "externalDatabase.%s (or existingSecretKeys.%s)" $part $part) -}}{{- end -}}
  {{- end -}}
  {{- with $missing -}}
  {{- include "spacefleet.fail" (printf "the connection by parts lacks %s. Set each, literally or as a key of externalDatabase.existingSecret." (join ", " .)) -}}
  {{- end -}}
  {{- if and $ext.host (not (regexMatch "^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)([.][A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*[.]?$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$" (toString $ext.host))) -}}
  {{- include "spacefleet.fail" "externalDatabase.host must be only a host name or an IP address (e.g. spacefleet-pg-rw or mydb.abc123.eu-west-1.rds.amazonaws.com): no scheme, user, password, port or path. The port goes in externalDatabase.port; a full URI goes in externalDatabase.url." -}}
  {{- end -}}
{{- end -}}
{{- if not .Values.postgresql.enabled -}}
  {{- if and $ext.sslmode (not (has (toString $ext.sslmode) (list "disable" "allow" "prefer" "require" "verify-ca" "verify-full"))) -}}
  {{- include "spacefleet.fail" (printf "externalDatabase.sslmode %q is not an sslmode. Use one of disable, allow, prefer, require, verify-ca, verify-full (verify-full for any network you do not fully trust)." (toString $ext.sslmode)) -}}
  {{- end -}}
  {{- if or (and $ext.sslcert (not $ext.sslkey)) (and $ext.sslkey (not $ext.sslcert)) -}}
  {{- include "spacefleet.fail" "externalDatabase.sslcert and externalDatabase.sslkey go together (a client certificate and its key). Set both, or neither." -}}
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

{{/* The migrate Job's "no such file or directory" failure, caught at helm install instead of in a Job log. */}}
{{- define "spacefleet.validate.tlsPaths" -}}
{{- $url := .Values.externalDatabase.url -}}
{{- if not .Values.postgresql.enabled -}}
{{- $mounts := include "spacefleet.database.mountPaths" . | trim | splitList "\n" | compact -}}
{{- $paths := list -}}
{{- range $param := list "sslrootcert" "sslcert" "sslkey" -}}
  {{- $paths = append $paths (list (printf "externalDatabase.url: %s" $param) (include "spacefleet.database.urlParam" (dict "url" $url "param" $param))) -}}
{{- end -}}
{{- range $param := tuple "sslrootcert" "sslcert" "sslkey" -}}
  {{- $paths = append $paths (list (printf "externalDatabase.%s" $param) (index $.Values.externalDatabase $param | default "")) -}}
{{- end -}}
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
{{- include "spacefleet.fail" (printf "postgresql.image.tag %q does not start with a PostgreSQL major version. Pin a versioned tag such as \"16.6\" (14 to 17 are supported)." (include "spacefleet.images.tag" .Values.postgresql.image.tag)) -}}
{{- else if lt (atoi $major) 14 -}}
{{- include "spacefleet.fail" (printf "postgresql.image.tag %q is PostgreSQL %s; Spacefleet needs 14 or newer. Set postgresql.image.tag to a 14–17 release such as \"16.6\"." (include "spacefleet.images.tag" .Values.postgresql.image.tag) $major) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A data directory initialised by one PostgreSQL major cannot be opened by another: the new pod would crash-loop and
the old one is gone. Compare with what runs now (lookup: `helm install/upgrade` against a cluster; `helm template`
sees nothing and passes) and refuse before anything changes.
*/}}
{{- define "spacefleet.validate.postgresqlMajorUpgrade" -}}
{{- if .Values.postgresql.enabled -}}
{{- $name := include "spacefleet.postgresql.fullname" . -}}
{{- $sts := lookup "apps/v1" "StatefulSet" .Release.Namespace $name -}}
{{- if $sts -}}
  {{- $running := include "spacefleet.postgresql.runningMajor" $sts -}}
  {{- $want := include "spacefleet.postgresql.majorVersion" . -}}
  {{- if and $running $want (ne $running $want) -}}
  {{- include "spacefleet.fail" (printf "postgresql.image.tag %q is PostgreSQL %s, but the bundled database (StatefulSet %s) runs PostgreSQL %s: its data directory cannot be opened by another major version, so this upgrade would leave a crash-looping database. Keep postgresql.image.tag on a %s.x release for this release, and move the data to PostgreSQL %s with the runbook in the chart README, section \"PostgreSQL major upgrades\" (dump, new volume, restore)." (include "spacefleet.images.tag" .Values.postgresql.image.tag) $want $name $running $running $want) -}}
  {{- end -}}
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
    {{- if and $pg.tls.clientCertificate.enabled (not $issuer.name) -}}
    {{- include "spacefleet.fail" "postgresql.tls.clientCertificate.enabled=true needs postgresql.tls.certManager.issuerRef.name: cert-manager issues the clients' certificate from that issuer, whose CA the database trusts (the server Secret's ca.crt)." -}}
    {{- end -}}
  {{- else if $pg.tls.required -}}
  {{- include "spacefleet.fail" "postgresql.tls.required=true without postgresql.tls.enabled=true would refuse every connection. Turn TLS on (postgresql.tls.enabled=true) or set required=false." -}}
  {{- else if $pg.tls.clientCertificate.enabled -}}
  {{- include "spacefleet.fail" "postgresql.tls.clientCertificate.enabled=true needs postgresql.tls.enabled=true: client certificates are presented in the TLS handshake. Turn TLS on or set clientCertificate.enabled=false." -}}
  {{- end -}}
{{- end -}}
{{- $cc := include "spacefleet.database.clientCertificateValues" . | fromJson -}}
{{- $ccIssuer := $cc.issuerRef | default dict -}}
{{- if and $ccIssuer.name (not $cc.commonName) -}}
{{- include "spacefleet.fail" "externalDatabase.tls.clientCertificate.certManager.issuerRef needs externalDatabase.tls.clientCertificate.certManager.commonName: the database user the certificate authenticates (its CN)." -}}
{{- end -}}
{{- if and $ccIssuer.name (or .Values.externalDatabase.sslcert .Values.externalDatabase.sslkey) -}}
{{- include "spacefleet.fail" "externalDatabase.tls.clientCertificate.certManager.issuerRef and externalDatabase.sslcert/sslkey both give the client certificate (both would set PGSSLCERT/PGSSLKEY). Keep one: cert-manager issues and mounts it for you, or sslcert/sslkey point at one you mount through config.extraVolumes." -}}
{{- end -}}
{{- if and (not $ccIssuer.name) (or $cc.commonName $cc.duration $cc.renewBefore) -}}
{{- include "spacefleet.fail" "externalDatabase.tls.clientCertificate.certManager.commonName/duration/renewBefore are set without issuerRef.name, so no certificate would be issued. Set externalDatabase.tls.clientCertificate.certManager.issuerRef.name (a cert-manager Issuer or ClusterIssuer) or remove them." -}}
{{- end -}}
{{- $ca := include "spacefleet.database.caValues" . | fromJson -}}
{{- if and $ca.secretName $ca.configMapName -}}
{{- include "spacefleet.fail" "externalDatabase.tls.ca.secretName and externalDatabase.tls.ca.configMapName are both set. The CA comes from one place: keep the Secret or the ConfigMap that holds it." -}}
{{- end -}}
{{- if and (or $ca.secretName $ca.configMapName) .Values.externalDatabase.sslrootcert -}}
{{- include "spacefleet.fail" (printf "externalDatabase.tls.ca and externalDatabase.sslrootcert=%s both name the database CA. Keep externalDatabase.tls.ca (the chart mounts the file and sets PGSSLROOTCERT for you) and remove sslrootcert, or keep sslrootcert for a file you mount yourself and blank tls.ca." .Values.externalDatabase.sslrootcert) -}}
{{- end -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" (toString ($ca.key | default ""))) -}}
{{- include "spacefleet.fail" (printf "externalDatabase.tls.ca.key %q is not a ConfigMap/Secret key (letters, digits, '-', '_', '.'). Set it to the key that holds the CA bundle, e.g. ca.crt." (toString ($ca.key | default ""))) -}}
{{- end -}}
{{- include "spacefleet.validate.postgresqlStorage" . -}}
{{- end -}}

{{/* The bundled database's volume, server parameters and probes. */}}
{{- define "spacefleet.validate.postgresqlStorage" -}}
{{- $pg := .Values.postgresql -}}
{{- if $pg.enabled -}}
{{- $p := $pg.persistence -}}
{{- if and (not $p.enabled) $p.existingClaim -}}
{{- include "spacefleet.fail" (printf "postgresql.persistence.existingClaim=%s is set but postgresql.persistence.enabled=false puts the data on a throwaway emptyDir. Set persistence.enabled=true to use the claim, or remove existingClaim." (toString $p.existingClaim)) -}}
{{- end -}}
{{- if and $p.enabled (not $p.existingClaim) (not $p.accessModes) -}}
{{- include "spacefleet.fail" "postgresql.persistence.accessModes is empty: the claim needs at least one access mode. Set it to [ReadWriteOnce] (one node at a time; enough for the single bundled replica)." -}}
{{- end -}}
{{- range $k := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" -}}
{{- if hasKey ($p.labels | default dict) $k -}}
{{- include "spacefleet.fail" (printf "postgresql.persistence.labels sets %s, which the chart sets on the claim itself (its selector labels). Remove it; use another label name." $k) -}}
{{- end -}}
{{- end -}}
{{- $owned := list "port" "listen_addresses" "data_directory" "hba_file" "ident_file" "config_file" "unix_socket_directories" -}}
{{- range $name, $value := ($pg.parameters | default dict) -}}
  {{- if not (regexMatch "^[a-z][a-z0-9_]*([.][a-z][a-z0-9_]*)?$" $name) -}}
  {{- include "spacefleet.fail" (printf "postgresql.parameters: %q is not a PostgreSQL parameter name (lower-case letters, digits and _, with one optional . for an extension's, e.g. max_connections or pg_stat_statements.track). Fix or remove it." $name) -}}
  {{- end -}}
  {{- if or (has $name $owned) (hasPrefix "ssl" $name) -}}
  {{- include "spacefleet.fail" (printf "postgresql.parameters.%s is set by the chart itself (the Service, the password sync and postgresql.tls depend on it). Remove it from postgresql.parameters; TLS is postgresql.tls.*." $name) -}}
  {{- end -}}
  {{- if or (kindIs "map" $value) (kindIs "slice" $value) (kindIs "invalid" $value) (regexMatch "[\x00\n\r]" (toString $value)) -}}
  {{- include "spacefleet.fail" (printf "postgresql.parameters.%s must be one value on one line (a string, number or boolean), e.g. %s: \"256MB\"." $name $name) -}}
  {{- end -}}
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
{{- $wt := .Values.web.tls -}}
{{- $sources := list -}}
{{- if ($wt.certManager.issuerRef | default dict).name }}{{ $sources = append $sources "web.tls.certManager.issuerRef" }}{{ end -}}
{{- if $wt.existingSecret }}{{ $sources = append $sources "web.tls.existingSecret" }}{{ end -}}
{{- if $wt.selfSigned }}{{ $sources = append $sources "web.tls.selfSigned" }}{{ end -}}
{{- if and $wt.enabled (ne (len $sources) 1) -}}
{{- include "spacefleet.fail" (printf "web.tls.enabled=true needs exactly one certificate source, got %d%s: web.tls.certManager.issuerRef.name (cert-manager), web.tls.existingSecret (a kubernetes.io/tls Secret you manage) or web.tls.selfSigned=true (trials only)." (len $sources) (ternary "" (printf " (%s)" (join ", " $sources)) (eq (len $sources) 0))) -}}
{{- end -}}
{{- if and (not $wt.enabled) $sources -}}
{{- include "spacefleet.fail" (printf "%s is set but web.tls.enabled is false, so web would still serve plain HTTP. Set web.tls.enabled=true or remove it." (join ", " $sources)) -}}
{{- end -}}
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


{{/*
Image tags: YAML reads an unquoted 1.10 as the number 1.1 (and 16.10 as 16.1), so a number with a fraction is refused
rather than rendered as a different tag. An integral number (16, or `--set image.tag=2`) cannot lose digits that way:
it renders as its plain digits (spacefleet.images.tag). A digest pins the image; the bundled database still needs its
tag for the version gate.
*/}}
{{- define "spacefleet.validate.images" -}}
{{- range $key, $img := dict "image" .Values.image "postgresql.image" .Values.postgresql.image -}}
{{- if and (kindIs "float64" $img.tag) (ne (floor $img.tag) $img.tag) -}}
{{- include "spacefleet.fail" (printf "%s.tag is the number %v, not a string: YAML reads an unquoted version such as 16.10 as the number 16.1, so the chart could pull the wrong image. Quote the tag exactly as the image is tagged (%s.tag: \"16.10\", not 16.10), or pass it with --set-string." $key $img.tag $key) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.image.digest (not .Values.postgresql.image.tag) -}}
{{- include "spacefleet.fail" "postgresql.image.digest is set but postgresql.image.tag is empty. The digest decides what is pulled; the chart still reads the PostgreSQL major version from the tag (14 to 17 are supported). Set postgresql.image.tag to the version the digest holds, e.g. \"16.6\"." -}}
{{- end -}}
{{- end -}}

{{/* Selectors use these labels: a commonLabels or podLabels entry may not change them. */}}
{{- define "spacefleet.validate.labels" -}}
{{- $reserved := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" -}}
{{- $sources := dict "commonLabels" .Values.commonLabels "podLabels" .Values.podLabels "web.podLabels" .Values.web.podLabels "worker.podLabels" .Values.worker.podLabels "migrations.podLabels" .Values.migrations.podLabels "postgresql.podLabels" .Values.postgresql.podLabels "tests.podLabels" .Values.tests.podLabels -}}
{{- range $key, $labels := $sources -}}
{{- range $l := $reserved -}}
{{- if hasKey ($labels | default dict) $l -}}
{{- include "spacefleet.fail" (printf "%s sets %s, which the chart's selectors use (it is set for you). Remove it from %s; use another label name for your own purposes." $key $l $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Per-pod checks: extra env must not shadow what the chart sets (each name maps to the key that sets it), and the
extra containers need unique names.
*/}}
{{- define "spacefleet.validate.pods" -}}
{{- $owned := dict "DATABASE_URL" "externalDatabase.url or externalDatabase.existingSecret" "PGHOST" "externalDatabase.host" "PGPORT" "externalDatabase.port" "PGDATABASE" "externalDatabase.database" "PGUSER" "externalDatabase.username" "PGPASSWORD" "externalDatabase.password / postgresql.auth.existingSecret" "PGSSLMODE" "externalDatabase.sslmode" "PGSSLROOTCERT" "externalDatabase.sslrootcert" "PGSSLCERT" "config.extraVolumes and sslcert in the connection" "PGSSLKEY" "config.extraVolumes and sslkey in the connection" "PORT" "web.port / worker.port" "LOG_LEVEL" "config.logLevel" "SPACEFLEET_MIGRATIONS_VIA_HOOK" "migrations.viaHook" "SPACEFLEET_RATE_LIMIT_BACKEND" "rateLimiting.backend" "SPACEFLEET_RATE_LIMIT_REQUESTS" "rateLimiting.requests" "SPACEFLEET_RATE_LIMIT_WINDOW" "rateLimiting.window" "SPACEFLEET_COMPONENT" "nothing: the chart names each pod's component" "SPACEFLEET_METRICS_PORT" "metrics.port" "SPACEFLEET_SHUTDOWN_DELAY" "web.shutdownDelaySeconds" "SPACEFLEET_SHUTDOWN_TIMEOUT" "web.shutdownTimeoutSeconds / worker.shutdownTimeoutSeconds" -}}
{{- range $prefix, $v := dict "" .Values "web." .Values.web "worker." .Values.worker "migrations." .Values.migrations -}}
  {{- range $i, $e := $v.extraEnv | default list -}}
    {{- $name := toString (get ($e | default dict) "name") -}}
    {{- if hasKey $owned $name -}}
    {{- include "spacefleet.fail" (printf "%sextraEnv[%d] sets %s, which the chart sets itself. Set it through %s instead." $prefix $i $name (index $owned $name)) -}}
    {{- else if hasPrefix "SPACEFLEET_" $name -}}
    {{- include "spacefleet.fail" (printf "%sextraEnv[%d] sets %s: SPACEFLEET_* variables belong to the chart (see docs/app-contract.md). Set the chart key that renders it." $prefix $i $name) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- range $c := list "web" "worker" "migrate" "dbcheck" -}}
  {{- $s := include "spacefleet.pod.settings" (dict "ctx" $ "component" $c) | fromJson -}}
  {{- $names := list (ternary "dbcheck" $c (eq $c "dbcheck")) -}}
  {{- range (concat $s.sidecars $s.initContainers) -}}
    {{- if has .name $names -}}
    {{- include "spacefleet.fail" (printf "Two containers of the %s pod are named %q (initContainers, sidecars and the chart's own container share one namespace). Rename one in initContainers/sidecars (or %s.initContainers/%s.sidecars)." $c .name (ternary "migrations" $c (eq $c "migrate")) (ternary "migrations" $c (eq $c "migrate"))) -}}
    {{- end -}}
    {{- $names = append $names .name -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* Autoscaling bounds, and PodDisruptionBudgets that would block every node drain. */}}
{{- define "spacefleet.validate.scaling" -}}
{{- range $c := list "web" "worker" -}}
{{- $v := index $.Values $c -}}
{{- $as := $v.autoscaling -}}
{{- if and $as.enabled (gt (int64 $as.minReplicas) (int64 $as.maxReplicas)) -}}
{{- include "spacefleet.fail" (printf "%s.autoscaling.minReplicas (%s) is greater than %s.autoscaling.maxReplicas (%s). Raise maxReplicas or lower minReplicas." $c (include "spacefleet.int" $as.minReplicas) $c (include "spacefleet.int" $as.maxReplicas)) -}}
{{- end -}}
{{- $pdb := $v.podDisruptionBudget -}}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "string" $pdb.minAvailable)) -}}
{{- $floor := ternary $as.minReplicas $v.replicas (and $as.enabled true) | int64 -}}
{{- if ge (int64 $pdb.minAvailable) $floor -}}
{{- include "spacefleet.fail" (printf "%s.podDisruptionBudget.minAvailable (%s) is not below the %s pod count it can fall to (%s, %s): no pod could ever be evicted, so node drains would hang. Lower minAvailable, use maxUnavailable, or raise the replica count." $c (include "spacefleet.int" $pdb.minAvailable) $c (toString $floor) (ternary (printf "%s.autoscaling.minReplicas" $c) (printf "%s.replicas" $c) (and $as.enabled true))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Service settings the chosen type would ignore. */}}
{{- define "spacefleet.validate.services" -}}
{{- range $key, $svc := dict "web.service" .Values.web.service "postgresql.service" .Values.postgresql.service -}}
{{- $lb := eq $svc.type "LoadBalancer" -}}
{{- $np := or $lb (eq $svc.type "NodePort") -}}
{{- if and (not $np) (not (kindIs "invalid" $svc.nodePort)) -}}
{{- include "spacefleet.fail" (printf "%s.nodePort is set but %s.type is %s, which has no node port. Set %s.type to NodePort or LoadBalancer, or remove nodePort." $key $key $svc.type $key) -}}
{{- end -}}
{{- if and (not $np) $svc.externalTrafficPolicy -}}
{{- include "spacefleet.fail" (printf "%s.externalTrafficPolicy is set but %s.type is %s: it applies to NodePort and LoadBalancer Services only. Remove it or change the type." $key $key $svc.type) -}}
{{- end -}}
{{- if and (not $lb) (or $svc.loadBalancerClass $svc.loadBalancerSourceRanges) -}}
{{- include "spacefleet.fail" (printf "%s.loadBalancerClass / loadBalancerSourceRanges are set but %s.type is %s: they apply to LoadBalancer Services only. Set %s.type=LoadBalancer or remove them." $key $key $svc.type $key) -}}
{{- end -}}
{{- if and (eq $svc.ipFamilyPolicy "SingleStack") (gt (len ($svc.ipFamilies | default list)) 1) -}}
{{- include "spacefleet.fail" (printf "%s.ipFamilyPolicy=SingleStack with two %s.ipFamilies. Use PreferDualStack or RequireDualStack, or list one family." $key $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Gateway API route: it needs a Gateway, and an Ingress beside it only on purpose. */}}
{{- define "spacefleet.validate.route" -}}
{{- $r := .Values.web.route -}}
{{- $bt := $r.backendTLS | default dict -}}
{{- if $bt.enabled -}}
{{- if not (and $r.enabled .Values.web.tls.enabled) -}}
{{- include "spacefleet.fail" "web.route.backendTLS.enabled=true needs web.route.enabled=true and web.tls.enabled=true: the BackendTLSPolicy tells the Gateway of the route how to verify web's HTTPS. Turn both on, or set web.route.backendTLS.enabled=false." -}}
{{- end -}}
{{- if and $bt.caCertificateConfigMaps $bt.wellKnownCACertificates -}}
{{- include "spacefleet.fail" "web.route.backendTLS.caCertificateConfigMaps and web.route.backendTLS.wellKnownCACertificates are both set. The Gateway verifies web against one of them: keep the ConfigMaps of your CA, or System." -}}
{{- end -}}
{{- if not (or $bt.caCertificateConfigMaps $bt.wellKnownCACertificates) -}}
{{- include "spacefleet.fail" "web.route.backendTLS.enabled=true needs the CA the Gateway verifies web's certificate against: web.route.backendTLS.caCertificateConfigMaps (ConfigMaps with key ca.crt, e.g. [spacefleet-web-ca]) or web.route.backendTLS.wellKnownCACertificates=System." -}}
{{- end -}}
{{- if and $bt.wellKnownCACertificates (not (regexMatch "^(System|[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9][-A-Za-z0-9_.]*)$" (toString $bt.wellKnownCACertificates))) -}}
{{- include "spacefleet.fail" (printf "web.route.backendTLS.wellKnownCACertificates %q: use System (the Gateway's system CAs; the only value Gateway API defines) or an implementation's domain-prefixed name." (toString $bt.wellKnownCACertificates)) -}}
{{- end -}}
{{- end -}}
{{- if $r.enabled -}}
{{- if not $r.parentRefs -}}
{{- include "spacefleet.fail" "web.route.enabled=true but web.route.parentRefs is empty: an HTTPRoute attaches to a Gateway. Set web.route.parentRefs, e.g. [{name: my-gateway, namespace: gateway-system}]." -}}
{{- end -}}
{{- if and .Values.web.ingress.enabled (not $r.alongsideIngress) -}}
{{- include "spacefleet.fail" "web.ingress.enabled and web.route.enabled are both true: two front doors to one Service are usually a leftover of a migration. Turn one off, or set web.route.alongsideIngress=true to run both on purpose." -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* extraObjects: each must be a manifest (apiVersion, kind, metadata.name) after tpl. */}}
{{- define "spacefleet.validate.extraObjects" -}}
{{- range $i, $o := .Values.extraObjects -}}
{{- $text := $o -}}
{{- if not (kindIs "string" $o) }}{{ $text = include "spacefleet.yaml" $o }}{{ end -}}
{{- $obj := tpl $text $ | fromYaml -}}
{{- if or (hasKey $obj "Error") (not $obj.apiVersion) (not $obj.kind) (not ($obj.metadata | default dict).name) -}}
{{- include "spacefleet.fail" (printf "extraObjects[%d] is not a Kubernetes manifest after rendering (it needs apiVersion, kind and metadata.name%s). Fix that entry." $i (ternary (printf "; YAML error: %v" (get $obj "Error")) "" (hasKey $obj "Error"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Metrics: the monitoring objects need the metrics port, which must not collide with the app's ports. */}}
{{- define "spacefleet.validate.monitoring" -}}
{{- $m := .Values.metrics -}}
{{- if not $m.enabled -}}
  {{- range $k := list "serviceMonitor" "prometheusRule" -}}
  {{- if (index $m $k).enabled -}}
  {{- include "spacefleet.fail" (printf "metrics.%s.enabled=true needs metrics.enabled=true: it scrapes (or alerts on) the metrics port web and worker only open when metrics are on. Set metrics.enabled=true, or metrics.%s.enabled=false." $k $k) -}}
  {{- end -}}
  {{- end -}}
{{- else -}}
  {{- range $c := list "web" "worker" -}}
  {{- if eq (int64 $m.port) (int64 (index $.Values $c).port) -}}
  {{- include "spacefleet.fail" (printf "metrics.port and %s.port are both %s: metrics need a port of their own (so the %s Service never exposes them). Set metrics.port to another port, e.g. 9090." $c (include "spacefleet.int" $m.port) $c) -}}
  {{- end -}}
  {{- end -}}
  {{- range $l := list "severity" "namespace" "cause" "reason" "alertname" -}}
  {{- if hasKey ($m.prometheusRule.additionalAlertLabels | default dict) $l -}}
  {{- include "spacefleet.fail" (printf "metrics.prometheusRule.additionalAlertLabels sets %s, which the alerts set themselves (each alert has its own severity; namespace and cause identify what fails). Remove it; route on another label (e.g. team) in Alertmanager." $l) -}}
  {{- end -}}
  {{- end -}}
  {{- $sm := $m.serviceMonitor -}}
  {{- if $sm.enabled -}}
  {{- $interval := include "spacefleet.monitoring.durationMs" $sm.interval -}}
  {{- $timeout := include "spacefleet.monitoring.durationMs" $sm.scrapeTimeout -}}
  {{- if or (not $interval) (not $timeout) -}}
  {{- include "spacefleet.fail" (printf "metrics.serviceMonitor.interval (%v) and scrapeTimeout (%v) must be Prometheus durations such as 30s, 1m or 1m30s." $sm.interval $sm.scrapeTimeout) -}}
  {{- end -}}
  {{- if gt (int64 $timeout) (int64 $interval) -}}
  {{- include "spacefleet.fail" (printf "metrics.serviceMonitor.scrapeTimeout (%s) is longer than metrics.serviceMonitor.interval (%s): Prometheus refuses such a scrape configuration. Lower scrapeTimeout or raise interval." $sm.scrapeTimeout $sm.interval) -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* Renamed and removed values keys: the table lives in _deprecations.tpl. */}}
{{- define "spacefleet.validate.deprecations" -}}
{{- include "spacefleet.deprecations.check" (dict "values" .Values "table" (include "spacefleet.deprecations.table" . | fromJsonArray)) -}}
{{- end -}}

{{/*
NetworkPolicies: settings the chosen mode would ignore, and combinations that would cut the app off (from its
database, or web from the front door the chart renders for it).
*/}}
{{- define "spacefleet.validate.networkPolicy" -}}
{{- $np := .Values.networkPolicy -}}
{{- if $np.enabled -}}
{{- $in := $np.ingress -}}
{{- $sources := or $in.namespaceSelector $in.podSelector $in.cidrs -}}
{{- if and $np.allowExternal $sources -}}
{{- include "spacefleet.fail" "networkPolicy.ingress (namespaceSelector, podSelector, cidrs) is set while networkPolicy.allowExternal=true admits every client, so it would change nothing. Set networkPolicy.allowExternal=false to admit only those sources, or remove networkPolicy.ingress." -}}
{{- end -}}
{{- $svcType := toString .Values.web.service.type -}}
{{- $exposed := or .Values.web.ingress.enabled .Values.web.route.enabled (eq $svcType "LoadBalancer") (eq $svcType "NodePort") -}}
{{- if and (not $np.allowExternal) $exposed (not $sources) (not $np.extraIngress) -}}
{{- include "spacefleet.fail" "networkPolicy.allowExternal=false, but web is exposed (web.ingress, web.route or a NodePort/LoadBalancer web.service) and no source may reach it: your ingress controller, Gateway or load balancer would be refused. Admit it with networkPolicy.ingress.namespaceSelector (e.g. {kubernetes.io/metadata.name: ingress-nginx}), networkPolicy.ingress.podSelector, networkPolicy.ingress.cidrs or networkPolicy.extraIngress, or set networkPolicy.allowExternal=true." -}}
{{- end -}}
{{- $db := $np.egress.database -}}
{{- if .Values.postgresql.enabled -}}
  {{- if $db.cidrs -}}
  {{- include "spacefleet.fail" "networkPolicy.egress.database.cidrs is for an external database, but postgresql.enabled=true: the app reaches the bundled PostgreSQL by its pod labels. Remove networkPolicy.egress.database.cidrs, or set postgresql.enabled=false." -}}
  {{- end -}}
  {{- if and (ne (toString .Values.postgresql.service.type) "ClusterIP") (not $np.postgresql.extraIngress) -}}
  {{- include "spacefleet.fail" (printf "postgresql.service.type=%s exposes the bundled database outside the cluster, but networkPolicy admits only this release's pods to it. List the outside clients in networkPolicy.postgresql.extraIngress (e.g. an ipBlock), or set postgresql.service.type=ClusterIP." (toString .Values.postgresql.service.type)) -}}
  {{- end -}}
{{- else -}}
  {{- if $np.postgresql.extraIngress -}}
  {{- include "spacefleet.fail" "networkPolicy.postgresql.extraIngress is set but postgresql.enabled=false: there is no bundled database to admit clients to. Remove it (your external database's own firewall decides who connects)." -}}
  {{- end -}}
  {{- $port := .Values.externalDatabase.port -}}
  {{- if and $db.cidrs .Values.externalDatabase.host (not (kindIs "invalid" $port)) (not (.Values.externalDatabase.existingSecretKeys | default dict).port) -}}
  {{- $ports := list -}}
  {{- range $db.ports }}{{ $ports = append $ports (include "spacefleet.int" .) }}{{ end -}}
  {{- if not (has (include "spacefleet.int" $port) $ports) -}}
  {{- include "spacefleet.fail" (printf "externalDatabase.port is %s but networkPolicy.egress.database.ports (%s) does not include it: the app pods could not reach the database. Add %s to networkPolicy.egress.database.ports." (include "spacefleet.int" $port) (join ", " $ports) (include "spacefleet.int" $port)) -}}
  {{- end -}}
  {{- end -}}
  {{- if and (not $np.allowExternalEgress) (not $db.cidrs) (not $np.extraEgress) -}}
  {{- include "spacefleet.fail" "networkPolicy.enabled=true with an external database (postgresql.enabled=false) allows the app pods DNS only: they could not reach the database. Set networkPolicy.egress.database.cidrs (and .ports) to its addresses, or add a rule to networkPolicy.extraEgress (an in-cluster database: namespaceSelector/podSelector), or set networkPolicy.allowExternalEgress=true." -}}
  {{- end -}}
{{- end -}}
{{- if and $np.allowExternalEgress (or $db.cidrs $np.extraEgress) -}}
{{- include "spacefleet.fail" "networkPolicy.egress.database.cidrs / networkPolicy.extraEgress are set while networkPolicy.allowExternalEgress=true lets the pods connect anywhere, so they would change nothing. Set networkPolicy.allowExternalEgress=false to restrict egress to them, or remove them." -}}
{{- end -}}
{{- end -}}
{{- end -}}
