package render

import (
	"encoding/json"
	"os"
	"path/filepath"
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

// _deprecations.tpl: a renamed key keeps working (its value moves to the new key, a map merged over the new key's
// default); a removed key fails with the note; unset keys, or a parent map without the old key, change nothing.
// A fixture table, so the mechanism is tested apart from the chart's own renames.
func TestDeprecations(t *testing.T) {
	renamed := `(dict "key" "web.oldReplicas" "new" "web.replicas" "since" "0.2.0" "until" "0.3.0")`
	tree := `(dict "key" "legacy.service" "new" "web.service" "since" "0.2.0" "until" "0.3.0")`
	removed := `(dict "key" "legacy.flag" "new" "" "since" "0.2.0" "note" "it had no effect since 0.1.0.")`
	fixture := func(table string) map[string]string {
		return map[string]string{"templates/zz-deprecations-fixture.yaml": `{{- $applied := include "spacefleet.deprecations.rename" (dict "values" .Values "table" (list ` + table + `)) -}}
{{- include "spacefleet.deprecations.check" (dict "values" .Values "table" (list ` + table + `)) -}}
{{ dict "applied" ($applied | fromJsonArray) "replicas" .Values.web.replicas "service" .Values.web.service | toJson }}`}
	}
	type out struct {
		Applied  []struct{ Key, New string }
		Replicas float64
		Service  map[string]any
	}
	run := func(table string, vals map[string]any) (out, error) {
		var o out
		res, err := chart.RenderFixture(fixture(table), vals)
		if err != nil {
			return o, err
		}
		require.NoError(t, jsonUnmarshal(res["spacefleet/templates/zz-deprecations-fixture.yaml"], &o))
		return o, nil
	}

	o, err := run(renamed+" "+tree, map[string]any{"web": map[string]any{"oldReplicas": 3}, "legacy": map[string]any{"service": map[string]any{"type": "NodePort"}}})
	require.NoError(t, err, "a renamed key is not an error")
	assert.EqualValues(t, 3, o.Replicas, "the old key's value reaches the new key")
	assert.Equal(t, "NodePort", o.Service["type"], "a renamed tree's keys reach the new tree")
	assert.EqualValues(t, 80, o.Service["port"], "and the new tree keeps its other defaults")
	require.Len(t, o.Applied, 2)
	assert.Equal(t, "web.replicas", o.Applied[0].New)

	_, err = run(removed, map[string]any{"legacy": map[string]any{"flag": false}})
	require.Error(t, err, "a removed key set to false is still set")
	assert.Contains(t, err.Error(), "legacy.flag was removed in chart 0.2.0: it had no effect since 0.1.0.")

	for name, vals := range map[string]map[string]any{
		"unset":             nil,
		"parent without it": {"web": map[string]any{"replicas": 2}},
		"parent is no map":  {"legacy": "x"},
	} {
		o, err := run(renamed+" "+tree+" "+removed, vals)
		assert.NoError(t, err, name)
		assert.Empty(t, o.Applied, name)
	}
}

// Every renamed key of the real table keeps working for its release: the schema accepts the old key, the render is
// the same objects as with the new key, and NOTES names the new key (a "deprecated-key" warning). A rename without a
// case here fails.
func TestRenamedKeysKeepWorking(t *testing.T) {
	out, err := chart.RenderFixture(map[string]string{"templates/zz-table.yaml": `{{ include "spacefleet.deprecations.table" . }}`}, nil)
	require.NoError(t, err)
	var table []struct{ Key, New, Since, Until string }
	require.NoError(t, jsonUnmarshal(out["spacefleet/templates/zz-table.yaml"], &table))
	ext := []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db"}
	pgTLS := []string{"postgresql.tls.enabled=true", "postgresql.tls.certManager.issuerRef.name=ca", "postgresql.auth.password=fixed"} // a generated password differs per render
	cases := map[string]struct {
		base []string
		old  string // --set of the old key; the same with the new key's name must give the same objects
	}{
		"externalDatabase.existingSecretKey": {ext, "externalDatabase.existingSecretKey=uri"},
		"externalDatabase.clientCertificate": {append(append([]string{}, ext...), "externalDatabase.existingSecretKeys.url=DATABASE_URL"),
			"externalDatabase.clientCertificate.certManager.issuerRef.name=db-ca,externalDatabase.clientCertificate.certManager.commonName=app"},
		"postgresql.auth.secretKey":         {[]string{"postgresql.auth.existingSecret=pg"}, "postgresql.auth.secretKey=pw"},
		"postgresql.tls.clientCertificates": {pgTLS, "postgresql.tls.clientCertificates.enabled=true,postgresql.tls.clientCertificates.requirePassword=false"},
	}
	require.NotEmpty(t, table)
	for _, e := range table {
		if e.New == "" {
			continue
		}
		t.Run(e.Key, func(t *testing.T) {
			tc, ok := cases[e.Key]
			require.Truef(t, ok, "renamed key %s has no case in TestRenamedKeysKeepWorking", e.Key)
			assert.Equal(t, "0.2.0", e.Since)
			assert.NotEmpty(t, e.Until)
			old := render(t, nil, append(append([]string{}, tc.base...), tc.old)...)
			cur := render(t, nil, append(append([]string{}, tc.base...), strings.ReplaceAll(tc.old, e.Key, e.New))...)
			require.Equal(t, len(cur.Objects), len(old.Objects))
			for i := range cur.Objects {
				assert.Equal(t, rawString(cur.Objects[i]), rawString(old.Objects[i]), "%s/%s: the old key renders as the new one", cur.Objects[i].Kind, cur.Objects[i].Name)
			}
			msg := e.Key + " was renamed to " + e.New + " in chart 0.2.0; it still works until chart " + e.Until + ". Move your value to " + e.New + " and remove " + e.Key
			assert.Contains(t, old.Notes, "WARNING (deprecated-key): "+msg)
			assert.NotContains(t, cur.Notes, "deprecated-key", "the new key alone clears the warning")
			t.Logf("%s", msg)
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func splitDots(s string) []string { return strings.Split(s, ".") }

// Every template that renders output includes spacefleet.deprecations.apply first, so no template reads a value
// before a renamed key has been moved to its new name (Helm renders templates in an order of its own).
func TestTemplatesApplyRenamesFirst(t *testing.T) {
	root := filepath.Join(chart.Dir(), "templates")
	n := 0
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasPrefix(info.Name(), "_") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		first := strings.SplitN(string(b), "\n", 2)[0]
		rel, _ := filepath.Rel(root, p)
		assert.Regexpf(t, `^\{\{- include "spacefleet\.deprecations\.apply" \. -?\}\}$`, first, "templates/%s must start with the deprecations include", rel)
		n++
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, n, 20)
}
