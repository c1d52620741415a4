package render

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/internal/config"
	"github.com/spacefleet/spacefleet/internal/web"
	"github.com/spacefleet/spacefleet/internal/worker"
	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Numbers (issue 15). Helm reads values numbers as float64 and Go prints a float64 of 1e6 or more as 1e+06:
// `rateLimiting.requests: 1000000` once reached the app as "1e+06" and crash-looped web. Every number the chart
// renders must come out in plain digits whatever its size, or be refused by the schema naming the key.

// integerKeys lists every values key the schema types as an integer (outside the Kubernetes definitions), with
// its maximum.
func integerKeys(t *testing.T) map[string]float64 {
	b, err := os.ReadFile(filepath.Join(chart.Dir(), "values.schema.json"))
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(b, &schema))
	out := map[string]float64{}
	var walk func(prefix string, s map[string]any)
	walk = func(prefix string, s map[string]any) {
		if isInteger(s) {
			max, _ := s["maximum"].(float64)
			if max == 0 {
				max = 1 << 62
			}
			out[strings.TrimSuffix(prefix, ".")] = max
		}
		for _, alt := range []string{"oneOf", "anyOf"} {
			if list, ok := s[alt].([]any); ok {
				for _, a := range list {
					if am, ok := a.(map[string]any); ok && isInteger(am) {
						max, _ := am["maximum"].(float64)
						out[strings.TrimSuffix(prefix, ".")] = max
					}
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, sub := range props {
			if sm, ok := sub.(map[string]any); ok {
				walk(prefix+k+".", sm)
			}
		}
	}
	walk("", schema)
	return out
}

func isInteger(s map[string]any) bool {
	switch ty := s["type"].(type) {
	case string:
		return ty == "integer"
	case []any:
		for _, x := range ty {
			if x == "integer" {
				return true
			}
		}
	}
	return false
}

// numberCase builds values (as a values file gives them: float64) with key set to n, plus what the key needs to
// be rendered at all.
func numberCase(key string, n float64) map[string]any {
	vals := map[string]any{}
	setPath(vals, strings.Split(key, "."), n, false)
	extra := map[string][]string{
		"web.autoscaling":                  {"web.autoscaling.enabled=true", "web.autoscaling.maxReplicas=2000000000"},
		"worker.autoscaling":               {"worker.autoscaling.enabled=true", "worker.autoscaling.maxReplicas=2000000000"},
		"web.service.nodePort":             {"web.service.type=NodePort"},
		"postgresql.service.nodePort":      {"postgresql.service.type=NodePort"},
		"podDisruptionBudget.minAvailable": {"web.replicas=100", "worker.replicas=100"},
	}
	for prefix, sets := range extra {
		if strings.Contains(key, prefix) {
			for _, s := range sets {
				kv := strings.SplitN(s, "=", 2)
				if kv[0] == key {
					continue
				}
				var v any = kv[1]
				if kv[1] == "true" {
					v = true
				} else {
					var f float64
					if _, err := fmt.Sscan(kv[1], &f); err == nil {
						v = f
					}
				}
				setPath(vals, strings.Split(kv[0], "."), v, false)
			}
		}
	}
	return vals
}

func TestEveryNumberRendersInPlainDigits(t *testing.T) {
	keys := integerKeys(t)
	require.Contains(t, keys, "rateLimiting.requests")
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var rows []string
	for _, key := range names {
		for _, n := range []float64{1e6, 1 << 31} {
			res, err := chart.RenderValues(numberCase(key, n), false)
			if n > keys[key] {
				require.Errorf(t, err, "%s=%.0f is above the schema's maximum %.0f but rendered", key, n, keys[key])
				require.Containsf(t, err.Error(), "/"+strings.ReplaceAll(key, ".", "/"), "the refusal of %s=%.0f does not name the key", key, n)
				rows = append(rows, fmt.Sprintf("%s=%.0f refused", key, n))
				continue
			}
			if err != nil { // within the schema's range, but a template check may still refuse it, naming the key
				require.Containsf(t, err.Error(), "spacefleet: "+key, "%s=%.0f refused without naming the key", key, n)
				rows = append(rows, fmt.Sprintf("%s=%.0f refused by _validate.tpl", key, n))
				continue
			}
			requirePlainDigits(t, res, fmt.Sprintf("%s=%.0f", key, n))
			requireAppCanStart(t, res)
			rows = append(rows, fmt.Sprintf("%s=%.0f rendered", key, n))
		}
	}
	t.Logf("%d integer keys, %d cases:\n%s", len(names), len(rows), strings.Join(rows, "\n"))
}

// Numbers inside the Kubernetes objects an operator passes through (probes, security contexts, tolerations, HPA
// behaviour, extra containers) come out in plain digits too.
func TestNumbersInsidePassedThroughObjects(t *testing.T) {
	res, err := chart.Render(chart.Options{Values: map[string]any{
		"podSecurityContext": map[string]any{"runAsUser": 1000680000.0, "runAsGroup": 1000680000.0, "fsGroup": 1000680000.0},
		"tolerations":        []any{map[string]any{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10000000.0}},
		"web": map[string]any{
			"livenessProbe": map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080.0}, "periodSeconds": 1000000.0},
			"resources":     map[string]any{"limits": map[string]any{"memory": 2000000000.0}},
			"sidecars":      []any{map[string]any{"name": "s", "image": "x:1", "ports": []any{map[string]any{"containerPort": 9090.0}}}},
			"autoscaling":   map[string]any{"enabled": true, "behavior": map[string]any{"scaleDown": map[string]any{"stabilizationWindowSeconds": 3600.0}}},
		},
	}})
	require.NoError(t, err)
	requirePlainDigits(t, res, "passed-through objects")
	pod := res.Workloads()["web"].Pod
	require.Equal(t, int64(1000680000), *pod.SecurityContext.RunAsUser)
	require.Equal(t, int32(1000000), pod.Containers[0].LivenessProbe.PeriodSeconds)
	require.Equal(t, int64(2000000000), pod.Containers[0].Resources.Limits.Memory().Value())
}

// requirePlainDigits: no number in any manifest is printed in exponent form.
func requirePlainDigits(t *testing.T, res *chart.Result, what string) {
	t.Helper()
	for _, o := range res.Objects {
		y, _ := yaml.Marshal(o.Raw)
		for _, line := range strings.Split(string(y), "\n") {
			if strings.Contains(line, "e+") && !strings.Contains(line, "://") {
				t.Fatalf("%s: %s/%s prints a number in exponent form: %s", what, o.Kind, o.Name, strings.TrimSpace(line))
			}
		}
	}
}

// requireAppCanStart parses the env the chart gives each app container the way the app does (its own config
// readers): a render the app cannot start with is a failure, whatever the schema accepted.
func requireAppCanStart(t *testing.T, res *chart.Result) {
	t.Helper()
	for comp, w := range res.Workloads() {
		for _, c := range w.Pod.Containers {
			if len(c.Args) != 1 {
				continue
			}
			if err := appContract(c); err != nil {
				t.Fatalf("%s container %s: the app would refuse its env: %v", comp, c.Name, err)
			}
		}
	}
}

// appContract applies docs/app-contract.md to one container: LOG_LEVEL for every subcommand, and web's and
// worker's own configuration. Secret-backed values are outside the render, so they are stood in for.
func appContract(c corev1.Container) error {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			env[e.Name] = "from-a-secret"
			continue
		}
		env[e.Name] = e.Value
	}
	get := func(k string) string { return env[k] }
	if _, err := config.LogLevel(get); err != nil {
		return err
	}
	switch c.Args[0] {
	case "web":
		_, err := web.ConfigFromEnv(get)
		return err
	case "worker":
		_, err := worker.ConfigFromEnv(get)
		return err
	}
	return nil
}
