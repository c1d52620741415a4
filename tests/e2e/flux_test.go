//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

const fluxTimeout = 10 * time.Minute

// TestFlux: the chart as a real Flux (source-controller and helm-controller; scripts/gitops.sh) reconciles it: an
// OCIRepository of the signed package in the harness registry and a HelmRelease of it with the default values (only
// the image values the harness must set), drift detection enabled and tests enabled. helm-controller runs the Helm
// SDK: hooks and `lookup` work as under `helm install`.
//   - Ready, the chart's tests passed (TestSuccess, every test hook Succeeded), the API writes and reads;
//   - three forced reconciles (reconcile.fluxcd.io/requestedAt): never Drifted (no DriftDetected event either: drift
//     that helm-controller corrects in place leaves the condition False), no new release, the Secrets' data (compared
//     by hash) and every pod unchanged;
//   - a values change that rolls web and worker: one upgrade, the migrate Job runs once and completes before any
//     new app pod is created, the tests pass again.
func TestFlux(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	oci := h.RequireOCI(t, env)
	h.RequireGitOps(t, env, "flux")
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-flux")
	rel := h.NewRelease(ns, release)
	rec := h.Record(t, ns)
	images := rel.ImageParameters()
	start := time.Now()
	f := h.NewFluxRelease(t, ns, oci, h.NestedValues(images))
	took := f.WaitReady(t, fluxTimeout, testsDone(1))
	t.Logf("TIMING install-to-Ready (Flux, default values, tests included): %s", took.Round(time.Second))
	logMigrate(t, rec, start, "install")
	s, err := f.Get(t)
	require.NoError(t, err)
	t.Logf("HelmRelease after install: %s", s.Summary())
	assertTestsPassed(t, s)

	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "flux-"+h.RandHex(4))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")

	version := s.Status.History[0].Version
	secrets, pods := ns.SecretHashes(t), ns.AllPodUIDs(t)
	for i := 1; i <= 3; i++ {
		s := f.Reconcile(t)
		t.Logf("reconcile %d: %s", i, s.Summary())
		if d := s.Condition("Drifted"); d != nil {
			assert.Equal(t, "False", d.Status, "reconcile %d: Drifted %s: %s", i, d.Reason, d.Message)
		}
		// Drift that helm-controller corrected leaves Drifted False: its DriftDetected events tell.
		n, msgs := f.DriftDetections(t)
		assert.Zero(t, n, "reconcile %d: helm-controller found (and corrected) drift: %q", i, msgs)
		if r := s.Condition("Ready"); assert.NotNil(t, r, "reconcile %d: Ready condition", i) {
			assert.Equal(t, "True", r.Status, "reconcile %d: Ready %s: %s", i, r.Reason, r.Message)
		}
		if assert.NotEmpty(t, s.Status.History) {
			assert.Equal(t, version, s.Status.History[0].Version, "reconcile %d: no new release (helm-controller corrects drift by upgrading)", i)
		}
		assert.Empty(t, changedKeys(secrets, ns.SecretHashes(t)), "reconcile %d: Secrets whose data changed", i)
		assert.Empty(t, changedPods(pods, ns.AllPodUIDs(t)), "reconcile %d: pods created or replaced", i)
	}

	web := ns.PodUIDs(t, rel.Selector("web"))
	changed := time.Now()
	values := h.NestedValues(images)
	roll := h.RandHex(4)
	values = h.Merge(values, map[string]any{"web": map[string]any{"podAnnotations": map[string]any{"e2e-rollout": roll}},
		"worker": map[string]any{"podAnnotations": map[string]any{"e2e-rollout": roll}}})
	f.SetValues(t, values)
	took = f.WaitReady(t, fluxTimeout, func(s *h.FluxStatus) bool {
		return testsDone(version+1)(s) && noneLeft(web, ns.PodUIDs(t, rel.Selector("web")))
	})
	t.Logf("TIMING values-change-to-Ready (Flux upgrade, tests included): %s", took.Round(time.Second))
	s, err = f.Get(t)
	require.NoError(t, err)
	t.Logf("HelmRelease after the values change: %s", s.Summary())
	assertTestsPassed(t, s)
	migrate := logMigrate(t, rec, changed, "values change")
	mpods := rec.Since(changed, "Pod", "migrate")
	assert.Len(t, mpods, 1, "the migrate Job ran once for the upgrade (its pods):%s", h.Describe(mpods))
	require.NotEmpty(t, migrate, "a migrate Job ran for the upgrade")
	require.False(t, migrate[0].Completed.IsZero(), "the migrate Job %s completed", migrate[0].Name)
	for _, c := range []string{"web", "worker"} {
		fresh := rec.Since(changed, "Pod", c)
		assert.NotEmpty(t, fresh, "the %s pods rolled", c)
		for _, p := range fresh {
			assert.False(t, p.Created.Before(migrate[0].Completed), "%s pod %s was created at %s, before the migrate Job %s completed at %s",
				c, p.Name, p.Created.Format(time.TimeOnly), migrate[0].Name, migrate[0].Completed.Format(time.TimeOnly))
		}
	}
}

// testsDone: release version v is the latest, deployed, and its tests have run (TestSuccess set for it).
func testsDone(v int) func(*h.FluxStatus) bool {
	return func(s *h.FluxStatus) bool {
		if len(s.Status.History) == 0 || s.Status.History[0].Version != v || s.Status.History[0].Status != "deployed" {
			return false
		}
		c := s.Condition("TestSuccess")
		return c != nil && c.ObservedGeneration == s.Metadata.Generation && len(s.Status.History[0].TestHooks) > 0
	}
}

func assertTestsPassed(t *testing.T, s *h.FluxStatus) {
	t.Helper()
	c := s.Condition("TestSuccess")
	if assert.NotNil(t, c, "TestSuccess condition") {
		assert.Equal(t, "True", c.Status, "TestSuccess %s: %s", c.Reason, c.Message)
	}
	if assert.NotEmpty(t, s.Status.History) {
		hooks := s.Status.History[0].TestHooks
		assert.NotEmpty(t, hooks, "the chart's tests ran")
		for name, hk := range hooks {
			assert.Equal(t, "Succeeded", hk.Phase, fmt.Sprintf("test hook %s", name))
		}
	}
}
