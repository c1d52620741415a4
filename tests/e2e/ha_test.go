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

const (
	haBudget = 20
	haBurst  = 60
	// A fixed window (both backends truncate time to it) long enough that one burst never straddles two
	// windows: the burst starts early in a window (waitWindowStart).
	haWindow = 5 * time.Minute
)

// TestHA: examples/values/prod-ha.yaml (3 web replicas, postgres rate-limit backend, no session affinity) with a
// budget of 20 per window. A burst of 60 requests through the Service from one client pod:
//  1. prod-ha as written (postgres backend): exactly the budget gets through, not three times it.
//  2. memory backend with ClientIP affinity: exactly the budget again. With the memory backend each pod has its own
//     budget, so exactly 20 of 60 means all 60 requests reached ONE pod: affinity keeps the client on one pod.
//     (The API sends no pod-identifying header and web logs no requests; the per-pod budget identifies the pod.)
//  3. memory backend, no affinity (prod-ha's own setting): more than the budget gets through (the multiplied cap),
//     which is why prod-ha keeps the postgres backend.
//
// Not parallel (it counts failed requests): it runs alone, before the parallel suites start (see
// TestArgoCDValuesChangeUnderLoad).
func TestHA(t *testing.T) {
	env := h.Load(t)
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{})
	ns := h.NewNamespace(t, env, "e2e-ha")
	rel := h.NewRelease(ns, release)
	db := externalTLS(t, pg, ns, "existingSecret") // Secret spacefleet-db, as prod-ha.yaml expects
	base := h.Merge(db, map[string]any{
		"rateLimiting": map[string]any{"requests": haBudget, "window": haWindow.String()},
		"worker":       map[string]any{"replicas": 1}, // a 2-core cluster: the worker count is not under test
	})
	url := fmt.Sprintf("http://%s/api/ships", rel.Web())

	res := rel.Install(t, []string{"prod-ha.yaml"}, base)
	require.NoError(t, res.Err, "helm install -f examples/values/prod-ha.yaml")
	ns.WaitReadyPods(t, rel.Selector("web"), 3, 3*time.Minute)
	svc := service(t, ns, rel.Web())
	assert.Equal(t, "None", string(svc.Spec.SessionAffinity), "prod-ha asks for no affinity: Spacefleet keeps no sessions")
	assert.Equal(t, "postgres", deploymentEnv(t, ns, rel.Web(), "SPACEFLEET_RATE_LIMIT_BACKEND"))

	burst := func(phase string) h.BurstResult {
		c := h.NewClientPod(t, ns, "client-"+phase)
		waitWindowStart(t)
		r := c.Burst(t, url, haBurst)
		t.Logf("%s: %d requests from one pod: %d OK, %d rate limited (429), %d errors %v", phase, haBurst, r.OK, r.Limited, r.Errors, r.FirstErrors)
		assert.Zero(t, r.Errors, "%s: requests failed otherwise than 429", phase)
		return r
	}

	r := burst("postgres")
	assert.Equal(t, haBudget, r.OK, "postgres backend: one budget shared by 3 replicas")
	assert.Equal(t, haBurst-haBudget, r.Limited)

	memAffinity := h.Merge(base, map[string]any{"rateLimiting": map[string]any{"backend": "memory"},
		"web": map[string]any{"service": map[string]any{"sessionAffinity": "ClientIP"}}})
	up := rel.Upgrade(t, []string{"prod-ha.yaml"}, memAffinity)
	require.NoError(t, up.Err, "helm upgrade: memory backend, ClientIP")
	ns.WaitReadyPods(t, rel.Selector("web"), 3, 3*time.Minute)
	assert.Equal(t, "ClientIP", string(service(t, ns, rel.Web()).Spec.SessionAffinity))
	assert.Equal(t, "memory", deploymentEnv(t, ns, rel.Web(), "SPACEFLEET_RATE_LIMIT_BACKEND"))
	r = burst("memory-clientip")
	assert.Equal(t, haBudget, r.OK, "memory backend with ClientIP: all requests on one pod, one pod's budget")

	memSpread := h.Merge(base, map[string]any{"rateLimiting": map[string]any{"backend": "memory"}})
	up = rel.Upgrade(t, []string{"prod-ha.yaml"}, memSpread)
	require.NoError(t, up.Err, "helm upgrade: memory backend, no affinity")
	svc = service(t, ns, rel.Web())
	assert.Equal(t, "None", string(svc.Spec.SessionAffinity))
	ns.WaitReadyPods(t, rel.Selector("web"), 3, 3*time.Minute)
	r = burst("memory-none")
	assert.Greater(t, r.OK, haBudget, "memory backend without affinity: each pod has its own budget, more than the budget gets through")
}

// waitWindowStart sleeps into the next rate-limit window when the current one has less than 90s left
// (kind runs on this host: one clock).
func waitWindowStart(t *testing.T) {
	now := time.Now()
	left := now.Truncate(haWindow).Add(haWindow).Sub(now)
	if left < 90*time.Second {
		t.Logf("waiting %s for the next %s rate-limit window", (left + 2*time.Second).Round(time.Second), haWindow)
		time.Sleep(left + 2*time.Second)
	}
}
