{{/*
Metrics and zero-downtime settings of the web and worker containers, and the names the monitoring objects share.
The app's side is docs/app-contract.md (SPACEFLEET_METRICS_PORT, SPACEFLEET_SHUTDOWN_DELAY/_TIMEOUT).
*/}}

{{/* The metrics Service of a component (web or worker): (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.monitoring.serviceName" -}}
{{- include "spacefleet.names.object" (dict "ctx" .ctx "suffix" (printf "%s-metrics" .component)) -}}
{{- end -}}

{{/* The label the ServiceMonitor selects the metrics Services by (and only them: never the web Service). */}}
{{- define "spacefleet.monitoring.serviceLabel" -}}
spacefleet.io/metrics: "true"
{{- end -}}

{{/* The container port of /metrics (web and worker), when metrics are on. */}}
{{- define "spacefleet.monitoring.containerPort" -}}
{{- if .Values.metrics.enabled }}
- name: metrics
  containerPort: {{ include "spacefleet.int" .Values.metrics.port }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/* Env of the metrics listener and the graceful shutdown: (dict "ctx" $ "component" "web"). */}}
{{- define "spacefleet.monitoring.env" -}}
{{- $ctx := .ctx -}}
{{- $c := index $ctx.Values .component -}}
{{- if $ctx.Values.metrics.enabled }}
- name: SPACEFLEET_METRICS_PORT
  value: {{ include "spacefleet.int" $ctx.Values.metrics.port | quote }}
{{- end }}
{{- if eq .component "web" }}
- name: SPACEFLEET_SHUTDOWN_DELAY
  value: {{ printf "%ss" (include "spacefleet.int" $c.shutdownDelaySeconds) | quote }}
{{- end }}
- name: SPACEFLEET_SHUTDOWN_TIMEOUT
  value: {{ printf "%ss" (include "spacefleet.int" $c.shutdownTimeoutSeconds) | quote }}
{{- end -}}

{{/* A Prometheus duration (30s, 1m, 1h30m, 500ms) in milliseconds: "" when it is not one. */}}
{{- define "spacefleet.monitoring.durationMs" -}}
{{- $d := toString . -}}
{{- if regexMatch "^([0-9]+(ms|s|m|h|d|w|y))+$" $d -}}
{{- $unit := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 "y" 31536000000 -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" $d -1 -}}
{{- $n := regexFind "^[0-9]+" . -}}
{{- $u := trimPrefix $n . -}}
{{- $total = add $total (mul (atoi $n) (index $unit $u)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
{{- end -}}

{{/*
Graceful shutdown must fit in the grace period: web keeps serving shutdownDelaySeconds after SIGTERM, then drains for
up to shutdownTimeoutSeconds; the worker finishes its job within shutdownTimeoutSeconds. The kubelet kills the pod at
terminationGracePeriodSeconds (Kubernetes' default 30). A NOTES warning per component that does not fit, with 5 s to
spare (it still works, but a rollout or drain may then fail requests or hand a job back late).
*/}}
{{- define "spacefleet.monitoring.graceWarnings" -}}
{{- $out := list -}}
{{- range $c := list "web" "worker" -}}
{{- $v := index $.Values $c -}}
{{- $s := include "spacefleet.pod.settings" (dict "ctx" $ "component" $c) | fromJson -}}
{{- $grace := ternary 30 $s.terminationGracePeriodSeconds (kindIs "invalid" $s.terminationGracePeriodSeconds) | int64 -}}
{{- $delay := ternary $v.shutdownDelaySeconds 0 (eq $c "web") | int64 -}}
{{- $need := add $delay $v.shutdownTimeoutSeconds 5 | int64 -}}
{{- if lt $grace $need -}}
{{- $what := ternary (printf "%s.shutdownDelaySeconds + %s.shutdownTimeoutSeconds" $c $c) (printf "%s.shutdownTimeoutSeconds" $c) (eq $c "web") -}}
{{- $harm := ternary "while it still serves or drains: requests fail during rollouts and drains" "before it finishes its job (the job goes back to the queue, late)" (eq $c "web") -}}
{{- $text := printf "%s gets %d s to stop (%s.terminationGracePeriodSeconds, else terminationGracePeriodSeconds, else Kubernetes' 30) but needs %d: %s (%d s) plus 5 s. The kubelet kills %s %s. Set %s.terminationGracePeriodSeconds to at least %d, or lower %s." $c $grace $c $need $what (sub $need 5) $c $harm $c $need $what -}}
{{- if eq $c "web" -}}
{{- $out = append $out (dict "warning" "web-grace-period" "text" $text) -}}
{{- else -}}
{{- $out = append $out (dict "warning" "worker-grace-period" "text" $text) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}
