{{/*
Road 3: pod settings. Every Spacefleet pod (web, worker, the migrate Job, the `helm test` pod) and the bundled
PostgreSQL take their pod-level settings from spacefleet.pod.settings, which merges the top-level defaults with the
component's overrides once per render (cached on the root context, like the database password):
- maps of labels, annotations and node selectors, and the security contexts: merged key by key, the component wins;
- tolerations, affinity, topologySpreadConstraints, dnsConfig, lifecycle and the scalars: the component's value
  replaces the default when it sets one;
- extraEnv (by name), extraEnvFrom, initContainers, sidecars, hostAliases: the defaults first, then the component's.
The bundled PostgreSQL takes only the scheduling and metadata settings (its security contexts are its own, and the
app's env and containers are not for it); the `helm test` pod takes the defaults and the few overrides under `tests`.
*/}}

{{/* Where a component's overrides live in values. */}}
{{- define "spacefleet.pod.values" -}}
{{- $v := .ctx.Values -}}
{{- $c := dict -}}
{{- if eq .component "web" }}{{ $c = $v.web }}
{{- else if eq .component "worker" }}{{ $c = $v.worker }}
{{- else if eq .component "migrate" }}{{ $c = $v.migrations }}
{{- else if eq .component "postgresql" }}{{ $c = $v.postgresql }}
{{- else if eq .component "dbcheck" }}{{ $c = $v.tests | default dict }}
{{- end -}}
{{- toJson $c -}}
{{- end -}}

{{/* The merged settings of one component as JSON: (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.pod.settings" -}}
{{- $ctx := .ctx -}}
{{- $key := printf "spacefleetPodSettings_%s" .component -}}
{{- if not (hasKey $ctx $key) -}}
{{- $v := $ctx.Values -}}
{{- $c := include "spacefleet.pod.values" . | fromJson -}}
{{- $app := ne .component "postgresql" -}}
{{- $s := dict -}}
{{- $maps := list "podAnnotations" "podLabels" "nodeSelector" -}}
{{- if $app }}{{ $maps = concat $maps (list "podSecurityContext" "securityContext") }}{{ end -}}
{{- range $k := $maps -}}
{{- $_ := set $s $k (merge (deepCopy (index $c $k | default dict)) (index $v $k | default dict)) -}}
{{- end -}}
{{- $replace := list "tolerations" "affinity" "topologySpreadConstraints" "priorityClassName" "runtimeClassName" -}}
{{- if $app }}{{ $replace = concat $replace (list "dnsConfig" "lifecycle" "dnsPolicy") }}{{ end -}}
{{- range $k := $replace -}}
{{- $_ := set $s $k (index $c $k | default (index $v $k)) -}}
{{- end -}}
{{- /* null means "not set" (0 and false are real values) */ -}}
{{- $nullable := list "terminationGracePeriodSeconds" -}}
{{- if $app }}{{ $nullable = append $nullable "automountServiceAccountToken" }}{{ end -}}
{{- range $k := $nullable -}}
{{- $_ := set $s $k (ternary (index $v $k) (index $c $k) (kindIs "invalid" (index $c $k))) -}}
{{- end -}}
{{- if $app -}}
{{- $env := list -}}
{{- range $e := concat ($v.extraEnv | default list) ($c.extraEnv | default list) -}}
  {{- $kept := list -}}
  {{- range $env }}{{ if ne .name $e.name }}{{ $kept = append $kept . }}{{ end }}{{ end -}}
  {{- $env = append $kept $e -}}
{{- end -}}
{{- $_ := set $s "extraEnv" (include "spacefleet.pod.tpl" (dict "ctx" $ctx "list" $env) | fromJsonArray) -}}
{{- range $k := list "extraEnvFrom" "initContainers" "sidecars" -}}
{{- $_ := set $s $k (include "spacefleet.pod.tpl" (dict "ctx" $ctx "list" (concat (index $v $k | default list) (index $c $k | default list))) | fromJsonArray) -}}
{{- end -}}
{{- $_ := set $s "hostAliases" (concat ($v.hostAliases | default list) ($c.hostAliases | default list)) -}}
{{- end -}}
{{- $_ := set $ctx $key (toJson $s) -}}
{{- end -}}
{{- index $ctx $key -}}
{{- end -}}

{{/* A user list rendered through tpl (so it may use {{ .Release.Name }} and friends), as JSON. */}}
{{- define "spacefleet.pod.tpl" -}}
{{- if .list -}}
{{- tpl (include "spacefleet.yaml" .list) .ctx | fromYamlArray | toJson -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/*
spacefleet.pod.spec: the pod-level fields every chart pod shares. (dict "ctx" $ "component" "web" "settings" $s
["podSecurityContext" obj] ["serviceAccountName" name]). The settings come from spacefleet.pod.settings | fromJson.
*/}}
{{- define "spacefleet.pod.spec" -}}
{{- $ctx := .ctx -}}
{{- $s := .settings -}}
serviceAccountName: {{ .serviceAccountName | default (include "spacefleet.serviceAccountNameFor" .) | quote }}
automountServiceAccountToken: {{ $s.automountServiceAccountToken | default false }}
{{- with include "spacefleet.images.pullSecrets" $ctx }}
imagePullSecrets:
  {{- . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "spacefleet.yaml" (.podSecurityContext | default $s.podSecurityContext) | nindent 2 }}
{{- with $s.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with $s.runtimeClassName }}
runtimeClassName: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" $s.terminationGracePeriodSeconds) }}
terminationGracePeriodSeconds: {{ include "spacefleet.int" $s.terminationGracePeriodSeconds }}
{{- end }}
{{- with $s.nodeSelector }}
nodeSelector:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- with $s.tolerations }}
tolerations:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- with $s.affinity }}
affinity:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- with $s.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- $own := include "spacefleet.selectorLabels" $ | fromYaml }}
  {{- $out := list }}
  {{- range . }}
  {{- $tsc := deepCopy . }}
  {{- if not $tsc.labelSelector }}{{ $_ := set $tsc "labelSelector" (dict "matchLabels" $own) }}{{ end }}
  {{- $out = append $out $tsc }}
  {{- end }}
  {{- include "spacefleet.yaml" $out | nindent 2 }}
{{- end }}
{{- with $s.hostAliases }}
hostAliases:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- with $s.dnsPolicy }}
dnsPolicy: {{ . | quote }}
{{- end }}
{{- with $s.dnsConfig }}
dnsConfig:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
spacefleet.pod.metadata: a pod template's labels and annotations: the chart's labels (with commonLabels), the pod
labels, and the annotations (commonAnnotations, pod annotations, and what rolls the pod). (dict "ctx" $ "component"
"web" "settings" $s ["annotations" dict])
*/}}
{{- define "spacefleet.pod.metadata" -}}
labels:
  {{- include "spacefleet.labels" (dict "ctx" .ctx "component" .component "extra" .settings.podLabels) | nindent 2 }}
{{- with include "spacefleet.annotations" (dict "a" .annotations "b" .settings.podAnnotations "c" .ctx.Values.commonAnnotations) }}
annotations:
  {{- . | trim | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Init containers of an app pod, from its settings: the native sidecars first (so init containers can use them), then the rest. */}}
{{- define "spacefleet.pod.initContainers" -}}
{{- $out := list -}}
{{- range .sidecars }}{{ $out = append $out (merge (dict "restartPolicy" "Always") (omit . "restartPolicy")) }}{{ end -}}
{{- $out = concat $out .initContainers -}}
{{- with $out }}{{ include "spacefleet.yaml" . }}{{ end -}}
{{- end -}}

{{/* The app container's extra env, after the chart's own: (settings). */}}
{{- define "spacefleet.pod.extraEnv" -}}
{{- with .extraEnv }}{{ include "spacefleet.yaml" . }}{{ end -}}
{{- end -}}

{{- define "spacefleet.pod.envFrom" -}}
{{- with .extraEnvFrom }}{{ include "spacefleet.yaml" . }}{{ end -}}
{{- end -}}

{{/* A Deployment's rollout settings: updateStrategy, revisionHistoryLimit, minReadySeconds (web.* or worker.*). */}}
{{- define "spacefleet.workload.rollout" -}}
{{- with .updateStrategy }}
strategy:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- if not (kindIs "invalid" .revisionHistoryLimit) }}
revisionHistoryLimit: {{ include "spacefleet.int" .revisionHistoryLimit }}
{{- end }}
{{- if not (kindIs "invalid" .minReadySeconds) }}
minReadySeconds: {{ include "spacefleet.int" .minReadySeconds }}
{{- end }}
{{- end -}}
