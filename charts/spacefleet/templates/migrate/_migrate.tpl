{{/*
When the migrate Job runs. As a hook it always runs pre-upgrade (the database and its Secret exist, and a
failure stops the upgrade before any app pod changes). On install it runs pre-install when the database
lives outside the release, and post-install for the bundled one (which this release creates).
"" means a plain Job (migrations.useHelmHooks=false: Argo CD, Flux, `helm --wait` without hooks).
*/}}
{{- define "spacefleet.migrate.hookPhases" -}}
{{- if .Values.migrations.useHelmHooks -}}
{{- if .Values.postgresql.enabled -}}post-install,pre-upgrade{{- else -}}pre-install,pre-upgrade{{- end -}}
{{- end -}}
{{- end -}}

{{/*
What a hooked migrate Job needs must exist before it, so it is a hook too (weight -10), scoped to the hook
phase: `before-hook-creation,hook-succeeded` removes it once the phase ends (Helm also removes it when the Job
fails). Nothing the running app reads is a hook, so a failed pre-upgrade Job leaves the app's Secret and
ServiceAccount exactly as they were, and `helm uninstall` removes them.
*/}}
{{- define "spacefleet.migrate.hookDependencyAnnotations" -}}
{{- include "spacefleet.ordering.annotations" (dict "ctx" . "step" "migrate-deps") | fromJson | toYaml -}}
{{- end -}}

{{/*
An inline URL (or, by parts, a literal password) lives in the chart's Secret, a release resource that a
pre-install hook cannot see yet and that a pre-upgrade hook must not change before it succeeds; the hooked Job
reads a copy of it instead. (Bundled: the hook runs post-install/pre-upgrade against the release's Secret.
existingSecret: yours.)
*/}}
{{- define "spacefleet.migrate.copiesSecret" -}}
{{- if and (include "spacefleet.migrate.hookPhases" .) (or (eq (include "spacefleet.database.mode" .) "url") (include "spacefleet.database.ownsPassword" .)) }}true{{ end -}}
{{- end -}}

{{- define "spacefleet.migrate.secretName" -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" "migrate-database") -}}
{{- end -}}

{{/* The hooked Job's own ServiceAccount (the release's does not exist yet at pre-install). */}}
{{- define "spacefleet.migrate.hasServiceAccount" -}}
{{- if and (include "spacefleet.migrate.hookPhases" .) .Values.serviceAccount.create }}true{{ end -}}
{{- end -}}

{{/*
Job name. A hook is recreated on every install/upgrade, so it keeps the fixed name the docs use
(kubectl logs job/<fullname>-migrate). A plain Job is immutable: its name carries a hash of what it runs,
so a new image or connection makes a new Job and an unchanged one is left alone (never .Release.Revision,
which GitOps tools do not advance).
*/}}
{{- define "spacefleet.migrate.jobName" -}}
{{- if include "spacefleet.migrate.hookPhases" . -}}
{{- include "spacefleet.names.component" (dict "ctx" . "component" "migrate") -}}
{{- else -}}
{{- $in := list (include "spacefleet.image" .) (include "spacefleet.database.checksum" .) (toJson .Values.config) .Chart.Version -}}
{{- include "spacefleet.names.object" (dict "ctx" . "suffix" (printf "migrate-%s" (toJson $in | sha256sum | trunc 8))) -}}
{{- end -}}
{{- end -}}

{{/* Env for web and worker: present only when the migrate Job alone owns the schema (the negative case matters). */}}
{{- define "spacefleet.migrate.podEnv" -}}
{{- if .Values.migrations.viaHook -}}
- name: SPACEFLEET_MIGRATIONS_VIA_HOOK
  value: "true"
{{- end -}}
{{- end -}}
