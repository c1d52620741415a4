{{/* Names, labels, image and pod-level settings shared by every Spacefleet workload. */}}

{{- define "spacefleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's name prefix before any length limit: the release name, plus the chart name when they differ. */}}
{{- define "spacefleet.fullname.untruncated" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
spacefleet.names.object: the one naming rule for every object the chart renders (and every name that reaches the
app, such as the database Service's host name). `<fullname>-<suffix>` when that is a valid DNS-1035 label of at
most `max` characters (63; a StatefulSet takes 52 because Kubernetes appends a revision hash to it in a label).
Otherwise the name is cut *after* the suffix is added, and a hash of the whole wanted name keeps it unique and
stable: `<fullname, cut and cleaned>-<8 hex>-<suffix>`. DNS-1035 (a letter first, no dots) suits every kind, Services
included, so a component's objects share one name. Takes (dict "ctx" $ "suffix" "web" ["max" 52] ["base" "name"]).
*/}}
{{- define "spacefleet.names.object" -}}
{{- $cache := index .ctx "spacefleetNames" | default dict -}}
{{- if not (hasKey .ctx "spacefleetNames") }}{{ $_ := set .ctx "spacefleetNames" $cache }}{{ end -}}
{{- $key := printf "%s|%s|%v" (.base | default "") (.suffix | default "") (.max | default 63) -}}
{{- if not (hasKey $cache $key) -}}
{{- $_ := set $cache $key (include "spacefleet.names.compute" .) -}}
{{- end -}}
{{- index $cache $key -}}
{{- end -}}

{{- define "spacefleet.names.compute" -}}
{{- $base := .base | default (include "spacefleet.fullname.untruncated" .ctx) -}}
{{- $suffix := .suffix | default "" -}}
{{- $max := .max | default 63 | int -}}
{{- $want := ternary (printf "%s-%s" $base $suffix) $base (ne $suffix "") -}}
{{- if and (le (len $want) $max) (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $want) -}}
{{- $want -}}
{{- else -}}
{{- $hash := $want | sha256sum | trunc 8 -}}
{{- $room := sub $max (add (len $hash) 1 (ternary (add (len $suffix) 1) 0 (ne $suffix ""))) | int -}}
{{- $prefix := regexReplaceAll "^[^a-z]+" (regexReplaceAll "[^-a-z0-9]" (lower $base) "-") "" | trunc $room | trimSuffix "-" -}}
{{- $parts := compact (list (default "sf" $prefix) $hash $suffix) -}}
{{- join "-" $parts -}}
{{- end -}}
{{- end -}}

{{/* The release's own name (ServiceAccount and the stem of every other name): at most 63 characters. */}}
{{- define "spacefleet.fullname" -}}
{{- include "spacefleet.names.object" (dict "ctx" .) -}}
{{- end -}}

{{/* A component's object name: (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.names.component" -}}
{{- include "spacefleet.names.object" (dict "ctx" .ctx "suffix" .component) -}}
{{- end -}}

{{- define "spacefleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
spacefleet.labels: every object's labels, (dict "ctx" $ "component" "web" ["extra" map]): the chart's own, then
`extra` (the object's or pod's own labels) and `commonLabels`, which never replace the chart's (_validate.tpl refuses
a commonLabels/podLabels key the selectors use). Rendered as text: this runs for every object.
*/}}
{{- define "spacefleet.labels" -}}
helm.sh/chart: {{ include "spacefleet.chart" .ctx | quote }}
{{ include "spacefleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service | quote }}
app.kubernetes.io/part-of: spacefleet
{{- $user := .ctx.Values.commonLabels | default dict }}
{{- if .extra }}{{ $user = merge (deepCopy .extra) $user }}{{ end }}
{{- range $k, $v := $user }}
{{- if not (or (hasPrefix "app.kubernetes.io/" $k) (eq $k "helm.sh/chart")) }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "spacefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spacefleet.name" .ctx | quote }}
app.kubernetes.io/instance: {{ .ctx.Release.Name | quote }}
app.kubernetes.io/component: {{ .component | quote }}
{{- end -}}

{{/* Annotations as text: (dict "a" map "b" map ...) merged, earlier maps winning; nothing when all are empty. */}}
{{- define "spacefleet.annotations" -}}
{{- $all := dict -}}
{{- range $m := list .a .b .c -}}{{- if $m }}{{ $all = merge $all $m }}{{ end -}}{{- end -}}
{{- range $k, $v := $all }}
{{ $k }}: {{ $v | quote }}
{{- end -}}
{{- end -}}

{{/*
spacefleet.metadata: name, namespace, labels and annotations of an object, with `commonLabels` and
`commonAnnotations`. (dict "ctx" $ "component" "web" "name" $name ["labels" dict] ["annotations" dict])
*/}}
{{- define "spacefleet.metadata" -}}
name: {{ .name | quote }}
namespace: {{ .ctx.Release.Namespace | quote }}
labels:
  {{- include "spacefleet.labels" (dict "ctx" .ctx "component" .component "extra" .labels) | nindent 2 }}
{{- /* what the migrate Job needs (the database, its Secrets, the release ServiceAccount) is the "database" step of _ordering.tpl */ -}}
{{- $order := dict -}}
{{- if has .component (list "postgresql" "database" "database-client" "spacefleet") -}}
{{- $order = include "spacefleet.ordering.annotations" (dict "ctx" .ctx "step" "database") | fromJson -}}
{{- end -}}
{{- with include "spacefleet.annotations" (dict "a" .annotations "b" .ctx.Values.commonAnnotations "c" $order) }}
annotations:
  {{- . | trim | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Numbers. Helm reads values numbers as float64, and `quote`, `toString` and `printf "%v"` print a float64 of 1e6 or
more as 1e+06: an env var the app cannot parse, an int32 field the API server refuses. Every scalar number the chart
renders goes through spacefleet.int; objects go through spacefleet.yaml (toYaml marshals through encoding/json,
which prints whole floats in plain digits below 1e21; TestNumbersInsidePassedThroughObjects holds it to that).
The schema refuses a fraction where a whole number belongs, and values beyond a field's range.
*/}}
{{- define "spacefleet.int" -}}
{{- int64 . | toString -}}
{{- end -}}

{{/* An image tag as text: an integral number (an unquoted 16, `--set tag=2`) in plain digits, never 1.6e+01. */}}
{{- define "spacefleet.images.tag" -}}
{{- include "spacefleet.scalar" . -}}
{{- end -}}

{{/* A scalar value as text: an integral number in plain digits, anything else as toString prints it. */}}
{{- define "spacefleet.scalar" -}}
{{- if and (or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .)) (eq (floor .) (float64 .)) -}}{{ include "spacefleet.int" . }}{{- else -}}{{ toString . }}{{- end -}}
{{- end -}}

{{- define "spacefleet.yaml" -}}
{{- toYaml . -}}
{{- end -}}

{{/*
Images: (dict "ctx" $ "image" .Values.image "default" appVersion). `[registry/]repository@digest` when a digest is
set (it wins), else `[registry/]repository:tag`. `global.imageRegistry` wins over the image's own registry.
*/}}
{{- define "spacefleet.images.ref" -}}
{{- $img := .image -}}
{{- $registry := "" -}}
{{- with .ctx.Values.global }}{{ $registry = .imageRegistry | default "" }}{{ end -}}
{{- $registry = $registry | default $img.registry | default "" -}}
{{- $repo := ternary (printf "%s/%s" (trimSuffix "/" $registry) $img.repository) $img.repository (ne $registry "") -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "spacefleet.images.tag" (default .default $img.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.image" -}}
{{- include "spacefleet.images.ref" (dict "ctx" . "image" .Values.image "default" .Chart.AppVersion) -}}
{{- end -}}

{{/* imagePullSecrets plus global.imagePullSecrets (names or {name: …}), de-duplicated, as a list of {name}. */}}
{{- define "spacefleet.images.pullSecrets" -}}
{{- $all := concat (.Values.imagePullSecrets | default list) ((.Values.global | default dict).imagePullSecrets | default list) -}}
{{- $names := list -}}
{{- range $all -}}
{{- $n := . -}}
{{- if kindIs "map" . }}{{ $n = .name }}{{ end -}}
{{- if and $n (not (has $n $names)) }}{{ $names = append $names $n }}{{ end -}}
{{- end -}}
{{- $out := list -}}
{{- range $names }}{{ $out = append $out (dict "name" .) }}{{ end -}}
{{- with $out }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* The ServiceAccount a component runs as: (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.serviceAccountNameFor" -}}
{{- if and (eq .component "migrate") (include "spacefleet.migrate.hasServiceAccount" .ctx) -}}
{{- include "spacefleet.names.object" (dict "ctx" .ctx "base" (include "spacefleet.serviceAccountName" .ctx) "suffix" "migrate") -}}
{{- else -}}
{{- include "spacefleet.serviceAccountName" .ctx -}}
{{- end -}}
{{- end -}}

{{- define "spacefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spacefleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* A PodDisruptionBudget for one component: (dict "ctx" $ "component" "web" "pdb" .Values.web.podDisruptionBudget). */}}
{{- define "spacefleet.pdb" -}}
{{- if .pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "spacefleet.metadata" (dict "ctx" .ctx "component" .component "name" (include "spacefleet.names.component" .)) | nindent 2 }}
spec:
  {{- if not (kindIs "invalid" .pdb.minAvailable) }}
  minAvailable: {{ include "spacefleet.intOrString" .pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ include "spacefleet.intOrString" .pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "spacefleet.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* An int-or-string value: "50%" stays a string, a number renders as an integer. */}}
{{- define "spacefleet.intOrString" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ include "spacefleet.int" . }}{{ end -}}
{{- end -}}

{{/* A resource quantity: a string as it is ("8Gi"), a number in plain digits. */}}
{{- define "spacefleet.quantity" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ include "spacefleet.int" . | quote }}{{ end -}}
{{- end -}}
