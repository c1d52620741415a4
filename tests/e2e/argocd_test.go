//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// argoTimeout bounds an install or a sync to Synced and Healthy: a minute or two on the kind cluster; a hook that
// never completes shows up as a sync still Running.
const argoTimeout = 6 * time.Minute

// TestArgoCD: the chart as a real Argo CD (core mode: application controller, repo server, Redis; scripts/gitops.sh)
// reconciles it, from the signed package in the harness's OCI registry, with automated sync (prune, self-heal).
// Argo CD renders with `helm template` (no cluster: `lookup` sees nothing) and runs Helm hooks as sync phases.
//   - default-values: the chart's defaults (only the image values the harness must set), server-side apply and
//     server-side diff: Synced and Healthy, the API writes and reads, then three hard refreshes (the repo server
//     renders again): still Synced, no sync ran, the database password (Secret data, compared by hash) and every pod
//     unchanged;
//   - external-tls: examples/values/mtls.yaml as written (an external database with TLS and a client certificate,
//     the test's PostgreSQL), Argo CD's default apply and diff: Synced and Healthy, every client connected over TLS;
//   - values-change: TestArgoCDValuesChangeUnderLoad.
func TestArgoCD(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	oci := h.RequireOCI(t, env)
	h.RequireGitOps(t, env, "argocd")
	t.Run("default-values", func(t *testing.T) { t.Parallel(); argoDefaultValues(t, env, oci, "") })
	t.Run("external-tls", func(t *testing.T) { t.Parallel(); argoExternalTLS(t, env, oci) })
}

// TestArgoCDValuesChangeUnderLoad: the defaults (and a rate limit the load generators stay under), then a values
// change that rolls web and worker: the migrate Job runs once, and completes before any new app pod is created,
// with no failed request under load.
// Not parallel, like every suite that counts failed requests: it runs alone, before the parallel suites start. In
// the middle of the full run, with the other suites busy on the same 2 cores, new connections stalled for 5 s (DNS
// lookups, connects: 4-5 failed requests of ~1,200, twice) before the rollout had replaced any pod; alone it was 5
// of 5 green.
func TestArgoCDValuesChangeUnderLoad(t *testing.T) {
	env := h.Load(t)
	h.WithoutNetworkPolicyController(t, env)
	oci := h.RequireOCI(t, env)
	h.RequireGitOps(t, env, "argocd")
	argoValuesChange(t, env, oci, "")
}

// argoDefaultValues and argoValuesChange take values (a values file's text) on top of the defaults: none in the
// suite; the chart README's former Argo CD settings when checking the harness against a chart without issue 22.
func argoDefaultValues(t *testing.T, env *h.Env, oci h.OCI, values string) {
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-argo")
	rel := h.NewRelease(ns, release)
	rec := h.Record(t, ns)
	start := time.Now()
	app := h.NewArgoApp(t, ns, oci, h.ArgoHelm{Values: values, Parameters: rel.ImageParameters()},
		[]string{"ServerSideApply=true"}, map[string]string{"argocd.argoproj.io/compare-options": "ServerSideDiff=true"})
	took := app.WaitSyncedHealthy(t, argoTimeout)
	t.Logf("TIMING install-to-Synced+Healthy (Argo CD, default values, server-side apply/diff): %s", took.Round(time.Second))
	logMigrate(t, rec, start, "first sync")

	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "argo-"+h.RandHex(4))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")

	before, err := app.Get(t)
	require.NoError(t, err)
	secrets, pods := ns.SecretHashes(t), ns.AllPodUIDs(t)
	require.NotEmpty(t, secrets, "the release has Secrets (the database password)")
	for i := 1; i <= 3; i++ {
		refreshed := time.Now()
		app.HardRefresh(t)
		// Self-heal would sync a difference within seconds: watch a while for one, then compare.
		var drift []string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
			if s, err := app.Get(t); err == nil {
				drift = appendNew(drift, s.OutOfSync()...)
			}
		}
		after, err := app.Get(t)
		require.NoError(t, err)
		t.Logf("hard refresh %d (%s): %s", i, time.Since(refreshed).Round(time.Second), after.Summary())
		assert.Equal(t, "Synced", after.Status.Sync.Status, "hard refresh %d: still Synced", i)
		assert.Empty(t, drift, "hard refresh %d: resources Argo CD saw OutOfSync after rendering again", i)
		// (a self-heal sync to the same revision adds no history entry: the last operation's start tells)
		assert.Equal(t, opStart(before), opStart(after), "hard refresh %d: no sync ran (the last operation is still the one before the refreshes)", i)
		assert.Empty(t, changedKeys(secrets, ns.SecretHashes(t)), "hard refresh %d: Secrets whose data changed (the database password among them?)", i)
		assert.Empty(t, changedPods(pods, ns.AllPodUIDs(t)), "hard refresh %d: pods created or replaced", i)
		logMigrate(t, rec, refreshed, fmt.Sprintf("hard refresh %d", i))
	}
	// still serving what it stored before the refreshes
	api = h.PortForward(t, ns, rel.Web())
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "after three hard refreshes the API reads back the ship written before them")
}

func argoExternalTLS(t *testing.T, env *h.Env, oci h.OCI) {
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{MTLS: true})
	ns := h.NewNamespace(t, env, "e2e-argo-tls")
	rel := h.NewRelease(ns, release)
	createMTLSExampleObjects(t, ns, pg)
	example, err := os.ReadFile(filepath.Join(env.Examples, "mtls.yaml"))
	require.NoError(t, err)

	rec := h.Record(t, ns)
	start := time.Now()
	app := h.NewArgoApp(t, ns, oci, h.ArgoHelm{Values: string(example), Parameters: rel.ImageParameters()}, nil, nil)
	took := app.WaitSyncedHealthy(t, argoTimeout)
	t.Logf("TIMING install-to-Synced+Healthy (Argo CD, external database with TLS, examples/values/mtls.yaml): %s", took.Round(time.Second))
	logMigrate(t, rec, start, "first sync")
	assertAllTLS(t, pg, "CN="+h.ClientCN)
	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "argo-tls-"+h.RandHex(4))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")
}

func argoValuesChange(t *testing.T, env *h.Env, oci h.OCI, values string) {
	h.Timer(t)
	// The load generators' 80 requests/s come from two pod IPs: above the default budget of 100 requests per client
	// IP per minute, every request past it would be a 429.
	values += "rateLimiting:\n  requests: 1000000\n"
	ns := h.NewNamespace(t, env, "e2e-argo-roll")
	rel := h.NewRelease(ns, release)
	rec := h.Record(t, ns)
	start := time.Now()
	app := h.NewArgoApp(t, ns, oci, h.ArgoHelm{Values: values, Parameters: rel.ImageParameters()}, nil, nil)
	took := app.WaitSyncedHealthy(t, argoTimeout)
	t.Logf("TIMING install-to-Synced+Healthy (Argo CD, default values, default apply/diff): %s", took.Round(time.Second))
	logMigrate(t, rec, start, "first sync")
	before, err := app.Get(t)
	require.NoError(t, err)
	web := ns.PodUIDs(t, rel.Selector("web"))
	require.NotEmpty(t, web)

	a, b := startLoad(t, ns, "argo", fmt.Sprintf("http://%s/api/ships", rel.Web()))
	changed := time.Now()
	params := rel.ImageParameters()
	roll := h.RandHex(4)
	params["web.podAnnotations.e2e-rollout"] = roll
	params["worker.podAnnotations.e2e-rollout"] = roll
	app.SetParameters(t, oci, h.ArgoHelm{Values: values, Parameters: params})
	err = h.Eventually(argoTimeout, 3*time.Second, func() (bool, error) {
		s, err := app.Get(t)
		if err != nil {
			return false, err
		}
		replaced := noneLeft(web, ns.PodUIDs(t, rel.Selector("web"))) && ns.ReadyPods(t, rel.Selector("web")) == len(web)
		running := s.Status.OperationState != nil && s.Status.OperationState.Phase == "Running"
		return opStart(s) != opStart(before) && !running && s.Status.Sync.Status == "Synced" &&
			s.Status.Health.Status == "Healthy" && replaced, fmt.Errorf("web pods replaced %v; %s", replaced, s.Summary())
	})
	rollout := time.Since(changed)
	results := []string{}
	if s, gerr := app.Get(t); gerr == nil {
		results = append(results, s.Summary())
	}
	checkNoFailures(t, "Argo CD sync of a values change", rollout, a.Stop(t), b.Stop(t))
	require.NoError(t, err, "the values change synced and rolled web: %v", results)
	t.Logf("TIMING values-change-to-rolled (Argo CD): %s; %v", rollout.Round(time.Second), results)

	migrate := logMigrate(t, rec, changed, "values change")
	pods := rec.Since(changed, "Pod", "migrate")
	assert.Len(t, pods, 1, "the migrate Job ran once for the values change (its pods):%s", h.Describe(pods))
	require.NotEmpty(t, migrate, "a migrate Job ran for the values change")
	first := migrate[0]
	require.False(t, first.Completed.IsZero(), "the migrate Job %s completed", first.Name)
	for _, c := range []string{"web", "worker"} {
		fresh := rec.Since(changed, "Pod", c)
		assert.NotEmpty(t, fresh, "the %s pods rolled", c)
		for _, p := range fresh {
			assert.False(t, p.Created.Before(first.Completed), "%s pod %s was created at %s, before the migrate Job %s completed at %s",
				c, p.Name, p.Created.Format(time.TimeOnly), first.Name, first.Completed.Format(time.TimeOnly))
		}
	}
}

// opStart is when the Application's last operation (a sync) started.
func opStart(s *h.ArgoStatus) string {
	if s.Status.OperationState == nil {
		return "no operation"
	}
	return s.Status.OperationState.StartedAt.UTC().Format(time.RFC3339)
}

// logMigrate logs the migrate Jobs and pods created since from, and returns the Jobs.
func logMigrate(t *testing.T, rec *h.Recorder, from time.Time, what string) []h.Seen {
	t.Helper()
	jobs := rec.Since(from, "Job", "migrate")
	t.Logf("%s: %d migrate Jobs, %d migrate pods:%s", what, len(jobs), len(rec.Since(from, "Pod", "migrate")),
		h.Describe(append(jobs, rec.Since(from, "Pod", "migrate")...)))
	return jobs
}

// changedKeys lists the names whose value differs between two snapshots (added and removed ones included).
func changedKeys(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
		if after[k] != v {
			out = append(out, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, k+" (new)")
		}
	}
	sort.Strings(out)
	return out
}

// changedPods lists the pods that are new, gone, or another pod under the same name.
func changedPods(before, after map[string]types.UID) []string {
	var out []string
	for n, uid := range before {
		if after[n] != uid {
			out = append(out, n+" (gone or replaced)")
		}
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			out = append(out, n+" (new)")
		}
	}
	sort.Strings(out)
	return out
}

// noneLeft: none of the pods of before is still there, under its name and UID.
func noneLeft(before, after map[string]types.UID) bool {
	for n, uid := range before {
		if after[n] == uid {
			return false
		}
	}
	return true
}

// appendNew appends the values not in list yet.
func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		found := false
		for _, x := range list {
			found = found || x == v
		}
		if !found {
			list = append(list, v)
		}
	}
	return list
}
