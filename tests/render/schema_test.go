package render

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// values.yaml and values.schema.json describe the same keys: a key added to one and not the other fails.
// Free-form maps (annotations, resources, probes, securityContexts...) stop the walk at their own key.
func TestSchemaAndValuesDescribeTheSameKeys(t *testing.T) {
	var values map[string]any
	b, err := os.ReadFile(filepath.Join(chart.Dir(), "values.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &values))
	var schema map[string]any
	b, err = os.ReadFile(filepath.Join(chart.Dir(), "values.schema.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &schema))

	var fromValues, fromSchema, deprecated []string
	var walkValues func(prefix string, v map[string]any, s map[string]any)
	walkValues = func(prefix string, v map[string]any, s map[string]any) {
		for k, val := range v {
			key := prefix + k
			fromValues = append(fromValues, key)
			props, _ := s["properties"].(map[string]any)
			sub, _ := props[k].(map[string]any)
			if m, ok := val.(map[string]any); ok && sub != nil && sub["properties"] != nil {
				walkValues(key+".", m, sub)
			}
		}
	}
	var walkSchema func(prefix string, s map[string]any, v map[string]any)
	walkSchema = func(prefix string, s map[string]any, v map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for k, sub := range props {
			key := prefix + k
			if sm, ok := sub.(map[string]any); ok && sm["deprecated"] == true {
				deprecated = append(deprecated, key) // a renamed key: accepted, no longer in values.yaml
				continue
			}
			fromSchema = append(fromSchema, key)
			m, _ := v[k].(map[string]any)
			if sm, ok := sub.(map[string]any); ok && sm["properties"] != nil && len(m) > 0 {
				walkSchema(key+".", sm, m)
			}
		}
	}
	walkValues("", values, schema)
	walkSchema("", schema, values)
	sort.Strings(fromValues)
	sort.Strings(fromSchema)
	assert.Equal(t, fromValues, fromSchema, "values.yaml and values.schema.json disagree")
	assert.NotEmpty(t, deprecated, "the renamed keys of _deprecations.tpl stay in the schema")
	for _, k := range deprecated {
		assert.NotContainsf(t, fromValues, k, "%s is deprecated in the schema but still in values.yaml", k)
	}
	assert.Equal(t, false, schema["additionalProperties"], "unknown top-level keys must be refused")

	// Every object the schema describes by its properties refuses unknown keys (a typo is never ignored).
	var strict func(path string, s map[string]any)
	strict = func(path string, s map[string]any) {
		props, ok := s["properties"].(map[string]any)
		if !ok || path == "values.global" { // global is shared with a parent chart: open by design
			return
		}
		assert.Equalf(t, false, s["additionalProperties"], "%s: additionalProperties must be false", path)
		for k, sub := range props {
			if sm, ok := sub.(map[string]any); ok {
				strict(path+"."+k, sm)
			}
		}
	}
	strict("values", schema)

	// Helm drops a key whose value is null when it coalesces a subchart's values (and when a user sets one to null
	// to unset it): such a key must never be required, or the chart fails as a dependency.
	var nullable func(path string, v map[string]any, s map[string]any)
	nullable = func(path string, v map[string]any, s map[string]any) {
		req, _ := s["required"].([]any)
		props, _ := s["properties"].(map[string]any)
		for k, val := range v {
			if val == nil {
				assert.NotContainsf(t, req, k, "%s%s defaults to null but the schema requires it", path, k)
			}
			if m, ok := val.(map[string]any); ok {
				if sub, ok := props[k].(map[string]any); ok {
					nullable(path+k+".", m, sub)
				}
			}
		}
	}
	nullable("", values, schema)
}
