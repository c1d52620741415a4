package render

import (
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// certctl DEPL-006: the backend must reach web.
func TestRateLimitBackendReachesWeb(t *testing.T) {
	for _, backend := range []string{"memory", "postgres"} {
		res := render(t, nil, append(external, "rateLimiting.backend="+backend)...)
		env := chart.Env(container(t, res, "web"), "SPACEFLEET_RATE_LIMIT_BACKEND")
		require.NotNil(t, env)
		assert.Equal(t, backend, env.Value)
	}
	res := render(t, nil, external...)
	assert.Equal(t, "memory", chart.Env(container(t, res, "web"), "SPACEFLEET_RATE_LIMIT_BACKEND").Value, "default")
	assert.Equal(t, "100", chart.Env(container(t, res, "web"), "SPACEFLEET_RATE_LIMIT_REQUESTS").Value)
	assert.Equal(t, "1m", chart.Env(container(t, res, "web"), "SPACEFLEET_RATE_LIMIT_WINDOW").Value)
}

func webService(t *testing.T, res *chart.Result) *corev1.Service {
	t.Helper()
	o := res.Find("Service", "spacefleet-web")
	require.NotNil(t, o)
	return o.Typed.(*corev1.Service)
}

// certctl DEPL-006: a documented Service setting needs a render path, and renders nothing when unset.
func TestSessionAffinityRendersOnlyWhenSet(t *testing.T) {
	svc := webService(t, render(t, nil, append(external, "web.service.sessionAffinity=ClientIP", "web.service.sessionAffinityConfig.clientIP.timeoutSeconds=600")...))
	assert.Equal(t, corev1.ServiceAffinityClientIP, svc.Spec.SessionAffinity)
	require.NotNil(t, svc.Spec.SessionAffinityConfig)
	assert.EqualValues(t, 600, *svc.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds)

	unset := render(t, nil, external...)
	spec := unset.Find("Service", "spacefleet-web").Raw["spec"].(map[string]any)
	assert.NotContains(t, spec, "sessionAffinity")
	assert.NotContains(t, spec, "sessionAffinityConfig")

	none := webService(t, render(t, nil, append(external, "web.service.sessionAffinity=None")...))
	assert.Equal(t, corev1.ServiceAffinityNone, none.Spec.SessionAffinity)
}

func TestProdHAExampleIsCoherent(t *testing.T) {
	res := render(t, example("prod-ha.yaml"))
	web := res.Workloads()["web"]
	assert.Equal(t, "postgres", chart.Env(web.Pod.Containers[0], "SPACEFLEET_RATE_LIMIT_BACKEND").Value)
	assert.Empty(t, webService(t, res).Spec.SessionAffinity, "Spacefleet keeps no sessions: no affinity")
	assert.NotContains(t, res.Notes, "WARNING", "the HA example must not trip its own warnings")
	// The spread counts this release's web pods only: the selector carries the instance label too.
	require.Len(t, web.Pod.TopologySpreadConstraints, 1)
	sel := web.Pod.TopologySpreadConstraints[0].LabelSelector
	require.NotNil(t, sel)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "spacefleet", "app.kubernetes.io/instance": "spacefleet",
		"app.kubernetes.io/component": "web"}, sel.MatchLabels)
}

func TestPodDisruptionBudgets(t *testing.T) {
	res := render(t, nil, external...)
	for _, c := range []string{"web", "worker"} {
		o := res.Find("PodDisruptionBudget", "spacefleet-"+c)
		require.NotNilf(t, o, "%s PDB", c)
		pdb := o.Typed.(*policyv1.PodDisruptionBudget)
		assert.Equal(t, c, pdb.Spec.Selector.MatchLabels["app.kubernetes.io/component"])
		assert.EqualValues(t, 1, pdb.Spec.MaxUnavailable.IntValue(), "eviction stays possible with one replica")
		off := render(t, nil, append(external, c+".podDisruptionBudget.enabled=false")...)
		assert.Nilf(t, off.Find("PodDisruptionBudget", "spacefleet-"+c), "%s PDB can be turned off", c)
	}
}
