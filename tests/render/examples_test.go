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

// The by-parts examples: each operator's Secret read as it is, the TLS default the connection type gives, and the
// CA mounted without the CA's private key.
func TestPartsExamplesKeepTheirPromises(t *testing.T) {
	cases := []struct {
		file, host, hostRef, passwordSecret, typ string
	}{
		{"cloudnativepg-parts.yaml", "spacefleet-pg-rw", "", "spacefleet-pg-app", "in-cluster"},
		{"zalando.yaml", "acid-spacefleet", "", "spacefleet.acid-spacefleet.credentials.postgresql.acid.zalan.do", "in-cluster"},
		{"crunchy-pgo.yaml", "", "hippo-pguser-spacefleet", "hippo-pguser-spacefleet", "unknown"},
		{"rds-parts.yaml", "mydb.abc123.us-east-1.rds.amazonaws.com", "", "spacefleet-rds", "external"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res := render(t, example(tc.file))
			for _, c := range dbClients {
				ctr := container(t, res, c)
				assert.Nilf(t, chart.Env(ctr, "DATABASE_URL"), "%s: by parts, no DATABASE_URL", c)
				if tc.host != "" {
					assert.Equal(t, tc.host, chart.Env(ctr, "PGHOST").Value, c)
				} else {
					require.NotNil(t, chart.Env(ctr, "PGHOST").ValueFrom)
					assert.Equal(t, tc.hostRef, chart.Env(ctr, "PGHOST").ValueFrom.SecretKeyRef.Name, c)
				}
				pw := chart.Env(ctr, "PGPASSWORD")
				require.NotNil(t, pw)
				require.NotNil(t, pw.ValueFrom, "%s: the password is a secretKeyRef", c)
				assert.Equal(t, tc.passwordSecret, pw.ValueFrom.SecretKeyRef.Name, c)
				assert.Equal(t, "verify-full", chart.Env(ctr, "PGSSLMODE").Value, "%s: every example verifies the server", c)
				for _, v := range res.Workloads()[c].Pod.Volumes {
					if v.Secret != nil {
						require.Lenf(t, v.Secret.Items, 1, "%s: volume %s mounts the whole Secret (a CA Secret holds ca.key too)", c, v.Name)
						assert.Equal(t, "ca.crt", v.Secret.Items[0].Key)
					}
				}
			}
			assert.Contains(t, res.Notes, "connection type: "+tc.typ+" (")
			assert.Contains(t, res.Notes, "sslmode: verify-full (")
			assert.Empty(t, res.All("Secret"), "the password stays in the operator's Secret: the chart creates none")
		})
	}
}
