//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestBundled: `helm install --wait -f examples/values/dev.yaml` (bundled PostgreSQL); the post-install migrate
// Job completes, web is Ready, the API writes and reads a row (and the row is in the database), `helm test` passes.
func TestBundled(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-bundled")
	runBundled(t, h.NewRelease(ns, release))
}

func runBundled(t *testing.T, rel *h.Release) {
	ns := rel.NS
	res := rel.Install(t, []string{"dev.yaml"}, nil)
	require.NoError(t, res.Err, "helm install (bundled)")
	t.Logf("TIMING install-to-Ready (bundled, %s): %s", helmName(rel), res.Duration.Round(1e9))

	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job, "the migrate Job %s exists after install (kept by its hook-delete-policy)", rel.Migrate())
	assert.Equal(t, "post-install,pre-upgrade", job.Annotations["helm.sh/hook"], "bundled database: the migrate hook runs post-install")
	assert.True(t, h.JobCondition(job, "Complete"), "migrate Job is Complete")
	logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
	require.NoError(t, err)
	assert.Contains(t, logs, "schema is current", "migrate log")

	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("web")), "web Ready")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("worker")), "worker Ready")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("postgresql")), "bundled postgresql Ready")

	api := h.PortForward(t, ns, rel.Web())
	name := "bundled-" + h.RandHex(4)
	ship := api.CreateShip(t, name)
	got := api.GetShip(t, ship.ID)
	assert.Equal(t, name, got.Name, "the API reads back what it wrote")
	row := h.Psql(t, ns, rel.PostgresPod(), "postgresql", "spacefleet", "spacefleet",
		fmt.Sprintf("SELECT name FROM ships WHERE id = %d", ship.ID))
	assert.Equal(t, name, row, "the row is in the bundled database")

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck printed its JSON report in `helm test --logs`")
	assert.False(t, check.TLS, "bundled database without postgresql.tls: plain connection")
	assert.Equal(t, "spacefleet-dbcheck", check.ApplicationName)
	assert.True(t, strings.HasPrefix(check.ServerVersion, rel.Env.PGImage.Tag), "server_version %q", check.ServerVersion)
}

func helmName(rel *h.Release) string {
	if rel.Helm4 {
		return "helm v4"
	}
	return "helm v3"
}
