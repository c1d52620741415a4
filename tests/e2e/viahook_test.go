//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestViaHook: who applies the schema.
//   - viaHook=true (external database, hooks): only the pre-install migrate Job migrates; web and worker get
//     SPACEFLEET_MIGRATIONS_VIA_HOOK=true and log that they skipped migrations.
//   - viaHook=false with useHelmHooks=false: no hook owns the schema; the plain Job (<fullname>-migrate-<hash>),
//     three web replicas and the worker all start together and race for the advisory lock, and every migration
//     is applied exactly once (one "applied migration" log line per version across all pods, one
//     schema_migrations row per version).
func TestViaHook(t *testing.T) {
	h.Parallel(t)
	t.Run("true", func(t *testing.T) {
		t.Parallel()
		env := h.Load(t)
		h.Timer(t)
		pg := h.StartPostgres(t, env, h.PostgresOptions{})
		ns := h.NewNamespace(t, env, "e2e-viahook")
		rel := h.NewRelease(ns, release)
		values := h.Merge(externalTLS(t, pg, ns, "existingSecret"), map[string]any{"migrations": map[string]any{"viaHook": true}})
		res := rel.Install(t, nil, values)
		require.NoError(t, res.Err, "helm install viaHook=true")

		for _, d := range []string{rel.Web(), rel.Worker()} {
			assert.Equal(t, "true", deploymentEnv(t, ns, d, "SPACEFLEET_MIGRATIONS_VIA_HOOK"), "%s env", d)
		}
		job := ns.Job(t, rel.Migrate())
		require.NotNil(t, job)
		assert.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"])
		versions := schemaVersions(t, pg)
		require.NotEmpty(t, versions)

		jobLogs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
		require.NoError(t, err)
		applied := appliedVersions(jobLogs)
		assert.Len(t, applied, len(versions), "the Job applied every migration")
		for _, v := range versions {
			assert.Equal(t, 1, applied[v], "the Job applied migration %d once", v)
		}
		for _, comp := range []string{"web", "worker"} {
			for _, p := range ns.Pods(t, rel.Selector(comp)) {
				logs, err := ns.Logs(t, p.Name, comp, 0)
				require.NoError(t, err)
				assert.Contains(t, logs, "skipping migrations", "%s %s says it skipped migrations", comp, p.Name)
				assert.Empty(t, appliedVersions(logs), "%s %s applied migrations although the hook owns them", comp, p.Name)
			}
		}
	})

	t.Run("false-three-replicas", func(t *testing.T) {
		t.Parallel()
		env := h.Load(t)
		h.Timer(t)
		pg := h.StartPostgres(t, env, h.PostgresOptions{})
		ns := h.NewNamespace(t, env, "e2e-race")
		rel := h.NewRelease(ns, release)
		values := h.Merge(externalTLS(t, pg, ns, "existingSecret"), map[string]any{
			"migrations": map[string]any{"viaHook": false, "useHelmHooks": false},
			"web":        map[string]any{"replicas": 3},
		})
		res := rel.Install(t, nil, values, "--wait-for-jobs")
		require.NoError(t, res.Err, "helm install viaHook=false useHelmHooks=false")
		ns.WaitReadyPods(t, rel.Selector("web"), 3, 3*time.Minute)

		for _, d := range []string{rel.Web(), rel.Worker()} {
			assert.Equal(t, "", deploymentEnv(t, ns, d, "SPACEFLEET_MIGRATIONS_VIA_HOOK"), "%s must not be told a hook owns migrations", d)
		}
		jobs, err := ns.Client.BatchV1().Jobs(ns.Name).List(context.Background(), metav1.ListOptions{LabelSelector: rel.Selector("migrate")})
		require.NoError(t, err)
		require.Len(t, jobs.Items, 1)
		job := jobs.Items[0]
		assert.True(t, strings.HasPrefix(job.Name, rel.Migrate()+"-"), "plain Job named <fullname>-migrate-<hash>: %s", job.Name)
		assert.Empty(t, job.Annotations["helm.sh/hook"], "useHelmHooks=false: the Job is not a hook")

		versions := schemaVersions(t, pg)
		require.NotEmpty(t, versions)
		total := map[int]int{}
		who := map[int][]string{}
		for _, comp := range []string{"web", "worker", "migrate"} {
			for _, p := range ns.Pods(t, rel.Selector(comp)) {
				assert.Zero(t, h.Restarts(&p), "%s restarted: its earlier log (and migrations) would be lost", p.Name)
				logs, err := ns.Logs(t, p.Name, comp, 0)
				require.NoError(t, err)
				for v, n := range appliedVersions(logs) {
					total[v] += n
					who[v] = append(who[v], p.Name)
				}
			}
		}
		for _, v := range versions {
			assert.Equal(t, 1, total[v], "migration %d applied %d times (by %v)", v, total[v], who[v])
			t.Logf("migration %d applied by %v", v, who[v])
		}
		assert.Len(t, total, len(versions), "applied versions %v vs schema_migrations %v", total, versions)
	})
}

func deploymentEnv(t *testing.T, ns *h.NS, name, key string) string {
	t.Helper()
	d, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return containerEnv(d, key)
}

func containerEnv(d *appsv1.Deployment, key string) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == key {
				return e.Value
			}
		}
	}
	return ""
}

// schemaVersions reads schema_migrations (the versions recorded, each once by its primary key).
func schemaVersions(t *testing.T, pg *h.Postgres) []int {
	t.Helper()
	out := pg.Psql(t, "SELECT version FROM schema_migrations ORDER BY version")
	var vs []int
	for _, l := range strings.Fields(out) {
		var v int
		if _, err := fmt.Sscan(l, &v); err == nil {
			vs = append(vs, v)
		}
	}
	t.Logf("schema_migrations: %v", vs)
	return vs
}

// appliedVersions counts the server's "applied migration" log lines per version.
func appliedVersions(logs string) map[int]int {
	out := map[int]int{}
	for _, l := range h.ParseLogs(logs) {
		if l.Msg() == "applied migration" {
			out[l.Int("version")]++
		}
	}
	return out
}
