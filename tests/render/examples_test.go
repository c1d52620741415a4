package render

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every examples/values file renders, decodes strictly, and keeps the promise its comment makes.
func TestExamplesRender(t *testing.T) {
	files := chart.ExampleFiles()
	require.GreaterOrEqual(t, len(files), 7)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := render(t, []string{f})
			for _, c := range []string{"web", "worker", "migrate"} {
				assert.Containsf(t, res.Workloads(), c, "%s missing", c)
			}
			up, err := chart.Render(chart.Options{Files: []string{f}, Upgrade: true})
			require.NoError(t, err, "must render as an upgrade too")
			assert.Equal(t, len(res.Objects), len(up.Objects))
		})
	}
}

func TestExamplesKeepTheirPromises(t *testing.T) {
	mode := func(name string) string {
		res := render(t, example(name))
		web := container(t, res, "web")
		return chart.Env(web, "DATABASE_URL").ValueFrom.SecretKeyRef.Name
	}
	assert.Equal(t, "spacefleet-database", mode("dev.yaml"))
	assert.NotNil(t, render(t, example("dev.yaml")).Find("StatefulSet", "spacefleet-postgresql"))
	assert.Equal(t, "spacefleet-database", mode("external-url.yaml"))
	assert.Equal(t, "spacefleet-db", mode("external-secret.yaml"))
	assert.Equal(t, "spacefleet-pg-app", mode("cloudnativepg.yaml"))
	res := render(t, example("cloudnativepg.yaml"))
	assert.Equal(t, "uri", chart.Env(container(t, res, "migrate"), "DATABASE_URL").ValueFrom.SecretKeyRef.Key)

	cm := render(t, example("cert-manager.yaml"))
	assert.Len(t, cm.All("Certificate"), 3, "cert-manager.yaml: database server, database client and web certificates")
	assert.NotNil(t, chart.Env(container(t, cm, "web"), "SPACEFLEET_TLS_CERT_FILE"), "cert-manager.yaml: web serves HTTPS")

	mtls := render(t, example("mtls.yaml"))
	var secretVol bool
	for _, v := range mtls.Workloads()["migrate"].Pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "spacefleet-db-client" {
			secretVol = true
		}
	}
	assert.True(t, secretVol, "the client certificate comes from a Secret, in the migrate Job too")
}

func TestEveryExampleIsDocumentedInTheChartReadme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chart.Dir(), "README.md"))
	require.NoError(t, err)
	for _, f := range chart.ExampleFiles() {
		assert.Containsf(t, string(readme), filepath.Base(f), "charts/spacefleet/README.md must mention %s", filepath.Base(f))
	}
}
