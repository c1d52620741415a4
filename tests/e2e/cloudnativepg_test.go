//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestCloudNativePG (issue 13, point 6): a one-instance Cluster made by the real CloudNativePG operator (on our
// PostgreSQL image), and the chart installed with examples/values/cloudnativepg.yaml as it is written: the migrate
// hook runs first, every client connects verify-full to <cluster>-rw with the -ca Secret (only ca.crt mounted),
// web is Ready, the API writes and reads, `helm test` reports TLS and the server sees every connection encrypted.
func TestCloudNativePG(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	h.RequireAddon(t, env, "cnpg")
	ns := h.NewNamespace(t, env, "e2e-cnpg")
	const cluster = "spacefleet-pg" // the name the example is written for
	manifest := h.WriteValues(t, "cnpg-cluster.yaml", map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
		"metadata": map[string]any{"name": cluster},
		"spec": map[string]any{
			"instances": 1, "imageName": env.PGImage.String(), "imagePullPolicy": "IfNotPresent",
			// our Debian image's postgres user (the operator's default is 26, the upstream images' UID)
			"postgresUID": 999, "postgresGID": 999,
			"storage":   map[string]any{"size": "1Gi"},
			"bootstrap": map[string]any{"initdb": map[string]any{"database": "spacefleet", "owner": "spacefleet"}},
		},
	})
	start := time.Now()
	out, err := ns.Kubectl(t, "apply", "-f", manifest)
	require.NoError(t, err, "create the Cluster: %s", out)
	h.RequireCondition(t, ns.Kube, "Ready", 10*time.Minute, "cluster/"+cluster)
	t.Logf("TIMING CloudNativePG Cluster create-to-Ready (1 instance): %s", time.Since(start).Round(time.Second))

	rel := h.NewRelease(ns, release)
	res := rel.Install(t, []string{"cloudnativepg.yaml"}, nil)
	require.NoError(t, res.Err, "helm install -f examples/values/cloudnativepg.yaml")
	t.Logf("TIMING install-to-Ready (CloudNativePG): %s", res.Duration.Round(time.Second))

	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job)
	assert.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"], "migrate runs first (pre-install)")
	assert.True(t, h.JobCondition(job, "Complete"), "migrate Job Complete")

	// only ca.crt of the -ca Secret is mounted (it also holds ca.key)
	dep, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
	require.NoError(t, err)
	assertOnlyCACert(t, dep, cluster+"-ca")

	api := h.PortForward(t, ns, rel.Web())
	name := "cnpg-" + h.RandHex(3)
	ship := api.CreateShip(t, name)
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck report in `helm test --logs`")
	assert.True(t, check.TLS, "helm test reports TLS")

	psql := func(t testing.TB, sql string) string {
		t.Helper()
		var o string
		err := h.Eventually(30*time.Second, 2*time.Second, func() (bool, error) {
			var err error
			// the instance's socket directory is /controller/run; peer auth as the postgres user (UID 999)
			o, err = ns.Exec(t, "", cluster+"-1", "-c", "postgres", "--", "psql", "-X", "-h", "/controller/run", "-U", "postgres",
				"-d", "spacefleet", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql)
			return err == nil, fmt.Errorf("%v: %s", err, h.Redact(o))
		})
		require.NoError(t, err, "psql in %s-1", cluster)
		return strings.TrimSpace(o)
	}
	assert.Equal(t, name, psql(t, fmt.Sprintf("SELECT name FROM ships WHERE id = %d", ship.ID)), "the row is in the CloudNativePG database")
	conns := h.SSLConnections(t, psql)
	require.NotEmpty(t, conns, "web and worker hold connections")
	apps := map[string]bool{}
	for _, c := range conns {
		assert.Equalf(t, "t", c.SSL, "%s connected without TLS", c.App)
		apps[c.App] = true
	}
	assert.True(t, apps["spacefleet-web"] && apps["spacefleet-worker"], "web and worker connections seen: %v", apps)
	unencrypted := psql(t, `SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
		WHERE a.backend_type = 'client backend' AND a.application_name LIKE 'spacefleet-%' AND NOT s.ssl`)
	assert.Equal(t, "0", unencrypted, "no unencrypted Spacefleet connection")

	// The same Cluster by parts (issue 12): examples/values/cloudnativepg-parts.yaml reads the -app Secret's separate
	// keys (dbname, username, password), names the -rw Service as the host and mounts only ca.crt: an in-cluster host
	// with a CA, so the chart picks verify-full. A second release beside the first.
	parts := h.NewRelease(ns, "parts")
	res = parts.Install(t, []string{"cloudnativepg-parts.yaml"}, nil)
	require.NoError(t, res.Err, "helm install -f examples/values/cloudnativepg-parts.yaml")
	t.Logf("TIMING install-to-Ready (CloudNativePG by parts): %s", res.Duration.Round(time.Second))
	notes := parts.Notes(t)
	assert.Contains(t, notes, `connection type: in-cluster (host "spacefleet-pg-rw" is a short Service name)`)
	assert.Contains(t, notes, "sslmode: verify-full")
	api = h.PortForward(t, ns, parts.Web())
	name = "cnpg-parts-" + h.RandHex(3)
	ship = api.CreateShip(t, name)
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name)
	assert.Equal(t, name, psql(t, fmt.Sprintf("SELECT name FROM ships WHERE id = %d", ship.ID)), "by parts, the row is in the same CloudNativePG database")
	tr = parts.Test(t)
	require.NoError(t, tr.Err, "helm test (by parts)")
	check, ok = h.ParseDBCheck(tr.Output)
	require.True(t, ok)
	assert.True(t, check.TLS, "helm test reports TLS (by parts)")
	assert.Equal(t, "verify-full", check.SSLMode, "by parts, the in-cluster host with a CA mounted is verified fully")
	assert.Equal(t, "0", psql(t, `SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
		WHERE a.backend_type = 'client backend' AND a.application_name LIKE 'spacefleet-%' AND NOT s.ssl`), "no unencrypted connection, by URI or by parts")
}

func assertOnlyCACert(t *testing.T, dep *appsv1.Deployment, secret string) {
	t.Helper()
	found := false
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			found = true
			require.Len(t, v.Secret.Items, 1, "only one key of %s is mounted", secret)
			assert.Equal(t, "ca.crt", v.Secret.Items[0].Key, "the mounted key is ca.crt, never ca.key")
		}
	}
	assert.True(t, found, "web mounts Secret %s", secret)
}
