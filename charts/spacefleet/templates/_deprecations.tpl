{{/*
Renamed and removed values keys (Temporal's pattern): an old key still set in a user's values fails at
`helm template`/`install`/`upgrade` with the key that replaced it, instead of being ignored silently.
One entry per key in spacefleet.deprecations.table, newest first:
  (dict "key" "web.oldName" "new" "web.newName" "since" "0.3.0")      renamed: move the value to "new"
  (dict "key" "web.gone" "new" "" "since" "0.3.0" "note" "why/what")  removed
values.schema.json must keep accepting the old key (any type, `"deprecated": true`) so that this message, not the
schema's "additional property" error, is what the operator reads. UPGRADING.md names the change.
*/}}
{{- define "spacefleet.deprecations.table" -}}
{{- list | toJson -}}
{{- end -}}

{{/* spacefleet.deprecations.check: (dict "values" .Values "table" LIST) fails on the first old key that is set. */}}
{{- define "spacefleet.deprecations.check" -}}
{{- range .table -}}
  {{- $node := $.values -}}
  {{- $found := true -}}
  {{- range (splitList "." .key) -}}
    {{- if and $found (kindIs "map" $node) (hasKey $node .) -}}
      {{- $node = index $node . -}}
    {{- else -}}
      {{- $found = false -}}
    {{- end -}}
  {{- end -}}
  {{- if $found -}}
    {{- if .new -}}
    {{- include "spacefleet.fail" (printf "%s was renamed to %s in chart %s: move your value to %s and remove %s (UPGRADING.md, %s)." .key .new .since .new .key .since) -}}
    {{- else -}}
    {{- include "spacefleet.fail" (printf "%s was removed in chart %s: %s Remove %s from your values (UPGRADING.md, %s)." .key .since (default "" .note) .key .since) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- end -}}
