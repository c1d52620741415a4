{{/*
Ordering: what must exist before what, in one table, rendered for each tool that applies the chart.
  step           Helm (install / upgrade)                                 Argo CD (one sync)
  secrets-rbac   hook pre-install,pre-upgrade, weight -30, gone after      PreSync hook, wave -30 (mapped from Helm's)
  secrets        hook pre-install,pre-upgrade, weight -20                 PreSync hook, wave -20 (mapped from Helm's)
  password-set   hook pre-install,pre-upgrade, weight 5 (its Secret) and  PreSync hook, waves 5 and 10: before the
                 10 (its Job): after the pre-upgrade migrate Job, which   database rolls onto the new password
                 still connects with the password the database has
  database       release resource                                         Sync, wave -2
  migrate-deps   hook (the migrate Job's phases), weight -10, gone after  Sync hook, wave -1
  migrate        hook post-install (bundled) / pre-install, pre-upgrade   Sync hook, wave -1 (a plain Job: wave -1)
  app            release resource                                         Sync, wave 0 (the default)
Helm runs hooks around its own apply; Argo CD renders with `helm template`, maps pre-* hooks to PreSync and post-*
to PostSync, and applies the Sync phase wave by wave, each wave healthy before the next. A Helm phase list of
"post-install,pre-upgrade" would run the migrate Job twice per sync (PreSync and PostSync, the first before the
bundled database exists), so the migrate steps carry an Argo CD hook annotation, which Argo CD takes instead of
Helm's for that object; Helm and Flux (the Helm SDK) ignore argocd.argoproj.io/* annotations.
*/}}
{{- define "spacefleet.ordering.table" -}}
secrets-rbac: {helm: "pre-install,pre-upgrade", weight: "-30", delete: "before-hook-creation,hook-succeeded"}
secrets: {helm: "pre-install,pre-upgrade", weight: "-20", delete: "before-hook-creation,hook-succeeded"}
password-given: {helm: "pre-install,pre-upgrade", weight: "5", delete: "before-hook-creation,hook-succeeded"}
password-set: {helm: "pre-install,pre-upgrade", weight: "10", delete: "before-hook-creation,hook-succeeded"}
database: {wave: "-2"}
migrate-deps: {helm: migrate, weight: "-10", delete: "before-hook-creation,hook-succeeded", argoHook: Sync, wave: "-1"}
migrate: {helm: migrate, weight: "0", delete: "before-hook-creation", argoHook: Sync, wave: "-1"}
{{- end -}}

{{/*
The ordering annotations of one step: (dict "ctx" $ "step" "migrate"), as a dict. For the migrate steps, Helm's
phases are spacefleet.migrate.hookPhases ("" with migrations.useHelmHooks=false: a plain Job, no hook at all).
*/}}
{{- define "spacefleet.ordering.annotations" -}}
{{- $row := index (include "spacefleet.ordering.table" .ctx | fromYaml) .step -}}
{{- $out := dict -}}
{{- $phases := $row.helm | default "" -}}
{{- if eq $phases "migrate" }}{{ $phases = include "spacefleet.migrate.hookPhases" .ctx }}{{ end -}}
{{- if $phases -}}
{{- $_ := set $out "helm.sh/hook" $phases -}}
{{- $_ := set $out "helm.sh/hook-weight" $row.weight -}}
{{- $_ := set $out "helm.sh/hook-delete-policy" $row.delete -}}
{{- if $row.argoHook -}}
{{- $_ := set $out "argocd.argoproj.io/hook" $row.argoHook -}}
{{- /* Argo CD's own deletion: the previous run's object goes when the next is created (kept for `kubectl logs`) */ -}}
{{- $_ := set $out "argocd.argoproj.io/hook-delete-policy" "BeforeHookCreation" -}}
{{- end -}}
{{- end -}}
{{- with $row.wave }}{{ $_ := set $out "argocd.argoproj.io/sync-wave" . }}{{ end -}}
{{- toJson $out -}}
{{- end -}}
