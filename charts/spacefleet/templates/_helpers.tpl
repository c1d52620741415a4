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
spacefleet.labels: every object's labels, (dict "ctx" $ "component" "web"): `commonLabels`, then the chart's own
(which win; _validate.tpl refuses a commonLabels/podLabels key the selectors use).
*/}}
{{- define "spacefleet.labels" -}}
{{- $l := dict "helm.sh/chart" (include "spacefleet.chart" .ctx) "app.kubernetes.io/version" (toString .ctx.Chart.AppVersion) "app.kubernetes.io/managed-by" .ctx.Release.Service "app.kubernetes.io/part-of" "spacefleet" -}}
{{- $l = merge $l (include "spacefleet.selectorLabels" . | fromYaml) (deepCopy (.ctx.Values.commonLabels | default dict)) -}}
{{- include "spacefleet.yaml" $l -}}
{{- end -}}

{{- define "spacefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spacefleet.name" .ctx | quote }}
app.kubernetes.io/instance: {{ .ctx.Release.Name | quote }}
app.kubernetes.io/component: {{ .component | quote }}
{{- end -}}

{{/*
spacefleet.metadata: name, namespace, labels and annotations of an object, with `commonLabels` and
`commonAnnotations`. (dict "ctx" $ "component" "web" "name" $name ["labels" dict] ["annotations" dict])
*/}}
{{- define "spacefleet.metadata" -}}
name: {{ .name | quote }}
namespace: {{ .ctx.Release.Namespace | quote }}
labels:
  {{- merge (include "spacefleet.labels" . | fromYaml) (deepCopy (.labels | default dict)) | include "spacefleet.yaml" | nindent 2 }}
{{- $ann := merge (deepCopy (.annotations | default dict)) (deepCopy (.ctx.Values.commonAnnotations | default dict)) }}
{{- with $ann }}
annotations:
  {{- include "spacefleet.yaml" . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Numbers. Helm reads values numbers as float64, and Go prints a float64 of 1e6 or more as 1e+06: an env var the app
cannot parse, an int32 field the API server refuses, a runAsUser of 1000680000 gone wrong. Every number the chart
renders goes through spacefleet.int (a scalar) or spacefleet.yaml (an object: whole floats become integers).
The schema refuses a number that is not whole where a whole one is meant.
*/}}
{{- define "spacefleet.int" -}}
{{- int64 . | toString -}}
{{- end -}}

{{/* spacefleet.ints.copy: (dict "in" X "out" dict) sets out.v to a copy of X with every whole float64 an int64. */}}
{{- define "spacefleet.ints.copy" -}}
{{- $in := .in -}}
{{- if kindIs "map" $in -}}
  {{- $m := dict -}}
  {{- range $k, $x := $in -}}
    {{- $box := dict -}}
    {{- include "spacefleet.ints.copy" (dict "in" $x "out" $box) -}}
    {{- $_ := set $m $k $box.v -}}
  {{- end -}}
  {{- $_ := set .out "v" $m -}}
{{- else if kindIs "slice" $in -}}
  {{- $l := list -}}
  {{- range $x := $in -}}
    {{- $box := dict -}}
    {{- include "spacefleet.ints.copy" (dict "in" $x "out" $box) -}}
    {{- $l = append $l $box.v -}}
  {{- end -}}
  {{- $_ := set .out "v" $l -}}
{{- else if and (kindIs "float64" $in) (eq $in (floor $in)) (lt $in 9007199254740992.0) (gt $in -9007199254740992.0) -}}
  {{- $_ := set .out "v" (int64 $in) -}}
{{- else -}}
  {{- $_ := set .out "v" $in -}}
{{- end -}}
{{- end -}}

{{/* spacefleet.yaml: toYaml, with whole numbers printed as integers (see spacefleet.int). */}}
{{- define "spacefleet.yaml" -}}
{{- $box := dict -}}
{{- include "spacefleet.ints.copy" (dict "in" . "out" $box) -}}
{{- toYaml $box.v -}}
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
{{- printf "%s:%s" $repo (toString (default .default $img.tag)) -}}
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
