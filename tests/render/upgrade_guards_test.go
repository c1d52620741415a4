package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runningPostgres is the bundled StatefulSet as `lookup` returns it from a live release: annotated with its major
// (chart 0.2.0 on) or, as 0.1.0 rendered it, only a repository:tag image.
func runningPostgres(annotationMajor, image string) map[string]any {
	meta := map[string]any{"name": "spacefleet-postgresql", "namespace": chart.Namespace}
	if annotationMajor != "" {
		meta["annotations"] = map[string]any{"spacefleet.io/postgresql-major": annotationMajor}
	}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "password-sync", "image": "busybox:1.36"},
			map[string]any{"name": "postgresql", "image": image},
		}}}},
	}
}

func pgValues(tag string, extra map[string]any) map[string]any {
	img := map[string]any{"tag": tag}
	for k, v := range extra {
		img[k] = v
	}
	return map[string]any{"postgresql": map[string]any{"image": img, "auth": map[string]any{"password": "Fixed-Passw0rd"}}}
}

// A `helm upgrade` that changes the bundled database's major version is refused before anything changes, naming
// the key, both majors and the runbook; a minor change, the same major, and a first install pass.
func TestPostgresMajorUpgradeRefused(t *testing.T) {
	refused := []struct {
		name    string
		running map[string]any
		vals    map[string]any
		want    []string
	}{
		{"0.2.0 release, annotated 16, to 17", runningPostgres("16", "postgres:16.6"), pgValues("17.2", nil),
			[]string{"postgresql.image.tag \"17.2\" is PostgreSQL 17", "runs PostgreSQL 16", "PostgreSQL major upgrades", "16.x"}},
		{"0.1.0 release (tag only, no annotation), 15 to 16", runningPostgres("", "registry.local:5000/postgres:15.8"), pgValues("16.6", nil),
			[]string{"is PostgreSQL 16", "runs PostgreSQL 15"}},
		{"downgrade 16 to 15", runningPostgres("16", "postgres:16.6"), pgValues("15", nil),
			[]string{"is PostgreSQL 15", "runs PostgreSQL 16"}},
		{"running by digest: the annotation decides", runningPostgres("15", "postgres@sha256:"+sha('a')), pgValues("16.6", nil),
			[]string{"runs PostgreSQL 15"}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			_, err := chart.RenderUpgradeAgainst(c.vals, c.running)
			require.Error(t, err, "the major change must be refused")
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	allowed := []struct {
		name    string
		running []map[string]any
		vals    map[string]any
	}{
		{"minor upgrade 16.4 to 16.6", []map[string]any{runningPostgres("16", "postgres:16.4")}, pgValues("16.6", nil)},
		{"same major, now pinned by digest", []map[string]any{runningPostgres("16", "postgres:16.6")}, pgValues("16.6", map[string]any{"digest": "sha256:" + sha('b')})},
		{"no database running yet (first install, or after the runbook removed it)", nil, pgValues("17.2", nil)},
		{"running image without a readable major and no annotation", []map[string]any{runningPostgres("", "postgres@sha256:"+sha('c'))}, pgValues("17.2", nil)},
	}
	for _, c := range allowed {
		t.Run(c.name, func(t *testing.T) {
			out, err := chart.RenderUpgradeAgainst(c.vals, c.running...)
			require.NoError(t, err)
			assert.Contains(t, out["spacefleet/templates/postgresql/statefulset.yaml"], "spacefleet.io/postgresql-major:")
		})
	}

	t.Run("external database: nothing to compare", func(t *testing.T) {
		vals := map[string]any{"postgresql": map[string]any{"enabled": false, "image": map[string]any{"tag": "17"}},
			"externalDatabase": map[string]any{"existingSecret": "db"}}
		_, err := chart.RenderUpgradeAgainst(vals, runningPostgres("15", "postgres:15"))
		require.NoError(t, err)
	})
}

// The StatefulSet records the major its data directory is initialised with, for the next upgrade to compare.
func TestPostgresMajorAnnotation(t *testing.T) {
	sts := postgresSTS(t, render(t, nil, "postgresql.image.tag=15.8"))
	assert.Equal(t, "15", sts.Annotations["spacefleet.io/postgresql-major"])
	assert.NotContains(t, sts.Spec.Template.Annotations, "spacefleet.io/postgresql-major", "on the StatefulSet, not the pod: no restart")
}

func sha(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// _deprecations.tpl: a renamed key still set fails naming its new key; a removed key fails with the note; unset
// keys, or a parent map without the old key, pass. A fixture table (the chart has no renamed key yet).
func TestDeprecations(t *testing.T) {
	fixture := func(table string) map[string]string {
		return map[string]string{"templates/zz-deprecations-fixture.yaml": `{{- include "spacefleet.deprecations.check" (dict "values" .Values "table" (list ` + table + `)) -}}`}
	}
	renamed := `(dict "key" "web.oldReplicas" "new" "web.replicas" "since" "0.2.0")`
	removed := `(dict "key" "legacy.flag" "new" "" "since" "0.2.0" "note" "it had no effect since 0.1.0.")`

	_, err := chart.RenderFixture(fixture(renamed), map[string]any{"web": map[string]any{"oldReplicas": 3}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "web.oldReplicas was renamed to web.replicas in chart 0.2.0: move your value to web.replicas")

	_, err = chart.RenderFixture(fixture(removed), map[string]any{"legacy": map[string]any{"flag": false}})
	require.Error(t, err, "a removed key set to false is still set")
	assert.Contains(t, err.Error(), "legacy.flag was removed in chart 0.2.0: it had no effect since 0.1.0.")

	for name, vals := range map[string]map[string]any{
		"unset":             nil,
		"parent without it": {"web": map[string]any{"replicas": 2}},
		"parent is no map":  {"legacy": "x"},
	} {
		_, err := chart.RenderFixture(fixture(renamed+" "+removed), vals)
		assert.NoError(t, err, name)
	}
}

// Every key in the real table stays accepted by values.schema.json, so the operator reads the deprecation
// message rather than the schema's "additional property" error.
func TestDeprecationsTableKeysAcceptedBySchema(t *testing.T) {
	out, err := chart.RenderFixture(map[string]string{"templates/zz-table.yaml": `{{ include "spacefleet.deprecations.table" . }}`}, nil)
	require.NoError(t, err)
	var table []struct{ Key, New string }
	require.NoError(t, jsonUnmarshal(out["spacefleet/templates/zz-table.yaml"], &table))
	for _, e := range table {
		vals := map[string]any{}
		cur := vals
		parts := splitDots(e.Key)
		for i, p := range parts {
			if i == len(parts)-1 {
				cur[p] = "old-value"
			} else {
				next := map[string]any{}
				cur[p] = next
				cur = next
			}
		}
		_, err := chart.RenderUpgradeAgainst(vals)
		require.Error(t, err)
		assert.Contains(t, err.Error(), e.Key+" was ", "schema must accept %s so _deprecations.tpl can name its replacement", e.Key)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func splitDots(s string) []string { return strings.Split(s, ".") }
