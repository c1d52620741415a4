package render

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// allFeatures is the render with every optional feature on that the e2e suites send to the API server of every
// Kubernetes version CI runs (TestEveryRenderIsStoredAsSent).
var allFeatures = filepath.Join(chart.Root(), "tests", "e2e", "testdata", "all-features.yaml")

// switches lists the dotted paths of every boolean `enabled` key in values, with its value.
func switches(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, e := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if b, isBool := e.(bool); isBool && k == "enabled" {
			out[p] = b
			continue
		}
		switches(p, e, out)
	}
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m))
	return m
}

// The all-features render renders, and turns on every `enabled` switch of values.yaml: a feature added later cannot
// be left out of what the API servers are shown.
func TestAllFeaturesValuesTurnEverySwitchOn(t *testing.T) {
	defaults, on := map[string]bool{}, map[string]bool{}
	switches("", readYAML(t, filepath.Join(chart.Dir(), "values.yaml")), defaults)
	switches("", readYAML(t, allFeatures), on)
	require.NotEmpty(t, defaults)
	var off []string
	for p := range defaults {
		if !on[p] && !(defaults[p] && !has(on, p)) {
			off = append(off, p)
		}
	}
	sort.Strings(off)
	assert.Empty(t, off, "switches of values.yaml that %s leaves off", allFeatures)

	res := render(t, []string{allFeatures})
	kinds := map[string]bool{}
	for _, o := range res.Objects {
		kinds[o.Kind] = true
	}
	for _, k := range []string{"Certificate", "HTTPRoute", "Ingress", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor",
		"PrometheusRule", "PodDisruptionBudget", "StatefulSet", "ConfigMap", "BackendTLSPolicy"} {
		assert.Truef(t, kinds[k], "the all-features render has no %s", k)
	}
}

func has(m map[string]bool, k string) bool { _, ok := m[k]; return ok }
