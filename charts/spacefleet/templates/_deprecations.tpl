{{/*
Renamed and removed values keys (Temporal's pattern). One entry per key in spacefleet.deprecations.table, newest
first:
  (dict "key" "web.oldName" "new" "web.newName" "since" "0.2.0" "until" "0.3.0")   renamed
  (dict "key" "web.gone" "new" "" "since" "0.3.0" "note" "why/what")               removed
A renamed key keeps working until "until": spacefleet.deprecations.apply copies its value to the new key before
anything reads the values (the old key wins over the new key's default; a map is merged over it), and NOTES prints a
warning naming the new key. A removed key fails at `helm template`/`install`/`upgrade` naming what to do, instead of
being ignored silently. values.schema.json keeps accepting every old key (its old type, `"deprecated": true`), so the
operator reads this, not the schema's "additional property" error. UPGRADING.md names each change.
*/}}
{{- define "spacefleet.deprecations.table" -}}
{{- list
  (dict "key" "externalDatabase.existingSecretKey" "new" "externalDatabase.existingSecretKeys.url" "since" "0.2.0" "until" "0.3.0")
  (dict "key" "externalDatabase.clientCertificate" "new" "externalDatabase.tls.clientCertificate" "since" "0.2.0" "until" "0.3.0")
  (dict "key" "postgresql.auth.secretKey" "new" "postgresql.auth.existingSecretKeys.password" "since" "0.2.0" "until" "0.3.0")
  (dict "key" "postgresql.tls.clientCertificates" "new" "postgresql.tls.clientCertificate" "since" "0.2.0" "until" "0.3.0")
  | toJson -}}
{{- end -}}

{{/* The node at a dotted path of a values tree: {"found": bool, "value": any}. */}}
{{- define "spacefleet.deprecations.lookup" -}}
{{- $node := .values -}}
{{- $found := true -}}
{{- range (splitList "." .key) -}}
  {{- if and $found (kindIs "map" $node) (hasKey $node .) -}}
    {{- $node = index $node . -}}
  {{- else -}}
    {{- $found = false -}}
  {{- end -}}
{{- end -}}
{{- dict "found" $found "value" (ternary $node nil $found) | toJson -}}
{{- end -}}

{{/*
spacefleet.deprecations.rename: (dict "values" .Values "table" LIST) copies every renamed key that is set to its new
key and returns the entries it applied (JSON list). Removed keys are left to spacefleet.deprecations.check.
*/}}
{{- define "spacefleet.deprecations.rename" -}}
{{- $applied := list -}}
{{- range .table -}}
  {{- if .new -}}
  {{- $old := include "spacefleet.deprecations.lookup" (dict "values" $.values "key" .key) | fromJson -}}
  {{- if $old.found -}}
    {{- $node := $.values -}}
    {{- $parts := splitList "." .new -}}
    {{- range (initial $parts) -}}
      {{- if not (kindIs "map" (index $node .)) -}}{{- $_ := set $node . dict -}}{{- end -}}
      {{- $node = index $node . -}}
    {{- end -}}
    {{- $leaf := last $parts -}}
    {{- $value := $old.value -}}
    {{- if and (kindIs "map" $value) (kindIs "map" (index $node $leaf)) -}}
      {{- $value = mergeOverwrite (deepCopy (index $node $leaf)) $value -}}
    {{- end -}}
    {{- $_ := set $node $leaf $value -}}
    {{- $applied = append $applied . -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- toJson $applied -}}
{{- end -}}

{{/*
spacefleet.deprecations.apply: the renames for this render, once (cached on the root context, shared by every
template of the chart). Every template includes it first, so no template reads a value before its rename.
*/}}
{{- define "spacefleet.deprecations.apply" -}}
{{- if not (hasKey . "spacefleetDeprecations") -}}
{{- $_ := set . "spacefleetDeprecations" (include "spacefleet.deprecations.rename" (dict "values" .Values "table" (include "spacefleet.deprecations.table" . | fromJsonArray))) -}}
{{- end -}}
{{- end -}}

{{/* The NOTES warning of each renamed key the values still use (JSON list of strings). */}}
{{- define "spacefleet.deprecations.warnings" -}}
{{- include "spacefleet.deprecations.apply" . -}}
{{- $out := list -}}
{{- range (index . "spacefleetDeprecations" | fromJsonArray) -}}
{{- $out = append $out (printf "%s was renamed to %s in chart %s; it still works until chart %s. Move your value to %s and remove %s (UPGRADING.md, %s)." .key .new .since .until .new .key .since) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* spacefleet.deprecations.check: (dict "values" .Values "table" LIST) fails on the first removed key that is set. */}}
{{- define "spacefleet.deprecations.check" -}}
{{- range .table -}}
  {{- if not .new -}}
  {{- if (include "spacefleet.deprecations.lookup" (dict "values" $.values "key" .key) | fromJson).found -}}
    {{- include "spacefleet.fail" (printf "%s was removed in chart %s: %s Remove %s from your values (UPGRADING.md, %s)." .key .since (default "" .note) .key .since) -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- end -}}
