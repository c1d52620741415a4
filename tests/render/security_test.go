package render

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// Secure defaults on every pod and container the chart renders, the bundled database included.
func TestEveryPodIsLockedDown(t *testing.T) {
	for _, set := range [][]string{nil, external} {
		res := render(t, nil, set...)
		require.NotEmpty(t, res.Workloads())
		for comp, w := range res.Workloads() {
			p := w.Pod
			require.NotNilf(t, p.SecurityContext, "%s: pod securityContext", comp)
			assert.Truef(t, *p.SecurityContext.RunAsNonRoot, "%s: runAsNonRoot", comp)
			require.NotNilf(t, p.SecurityContext.SeccompProfile, "%s: seccompProfile", comp)
			assert.Equalf(t, corev1.SeccompProfileTypeRuntimeDefault, p.SecurityContext.SeccompProfile.Type, "%s", comp)
			require.NotNilf(t, p.AutomountServiceAccountToken, "%s: automountServiceAccountToken", comp)
			// the secrets Job is the one pod that calls the API (with a Role limited to the Secrets it ensures)
			assert.Equalf(t, comp == "secrets", *p.AutomountServiceAccountToken, "%s: an API token only for the secrets Job", comp)
			for _, c := range append(p.InitContainers, p.Containers...) {
				sc := c.SecurityContext
				require.NotNilf(t, sc, "%s/%s: container securityContext", comp, c.Name)
				assert.Falsef(t, *sc.AllowPrivilegeEscalation, "%s/%s", comp, c.Name)
				assert.Truef(t, *sc.ReadOnlyRootFilesystem, "%s/%s: readOnlyRootFilesystem", comp, c.Name)
				require.NotNilf(t, sc.Capabilities, "%s/%s", comp, c.Name)
				assert.Containsf(t, sc.Capabilities.Drop, corev1.Capability("ALL"), "%s/%s: drop ALL", comp, c.Name)
				assert.NotEmptyf(t, c.Resources.Requests, "%s/%s: resource requests", comp, c.Name)
				assert.NotEmptyf(t, c.Resources.Limits, "%s/%s: resource limits", comp, c.Name)
				seen := map[string]bool{}
				for _, e := range c.Env {
					assert.Falsef(t, seen[e.Name], "%s/%s: env %s set twice (server-side apply rejects it)", comp, c.Name, e.Name)
					seen[e.Name] = true
					if e.Name == "DATABASE_URL" || e.Name == "POSTGRES_PASSWORD" {
						assert.Emptyf(t, e.Value, "%s/%s: %s must come from a Secret", comp, c.Name, e.Name)
					}
				}
			}
		}
		sa := res.Find("ServiceAccount", "spacefleet")
		require.NotNil(t, sa)
		assert.False(t, *sa.Typed.(*corev1.ServiceAccount).AutomountServiceAccountToken)
	}
}

func TestSchedulingValuesReachEveryAppPod(t *testing.T) {
	res := render(t, nil, append(external,
		"nodeSelector.pool=apps", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
		"podAnnotations.team=fleet", "podLabels.tier=backend", "imagePullSecrets[0].name=regcred",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
	)...)
	for _, c := range dbClients {
		w := res.Workloads()[c]
		assert.Equalf(t, "apps", w.Pod.NodeSelector["pool"], "%s nodeSelector", c)
		require.NotEmptyf(t, w.Pod.Tolerations, "%s tolerations", c)
		require.NotNilf(t, w.Pod.Affinity, "%s affinity", c)
		require.NotEmptyf(t, w.Pod.ImagePullSecrets, "%s pull secrets", c)
		assert.Equal(t, "regcred", w.Pod.ImagePullSecrets[0].Name)
		if c != "dbcheck" {
			assert.Equalf(t, "fleet", w.Meta["team"], "%s podAnnotations", c)
		}
	}
}

func TestImageDefaultsToAppVersion(t *testing.T) {
	res := render(t, nil, external...)
	assert.Equal(t, "spacefleet/spacefleet:0.1.0", container(t, res, "web").Image)
	res = render(t, nil, append(external, "image.repository=reg.example.com/sf", "image.tag=1.2.3", "image.pullPolicy=Always")...)
	for _, c := range dbClients {
		ctr := container(t, res, c)
		assert.Equal(t, "reg.example.com/sf:1.2.3", ctr.Image)
		assert.Equal(t, corev1.PullAlways, ctr.ImagePullPolicy)
	}
}

func TestWebProbes(t *testing.T) {
	web := container(t, render(t, nil, external...), "web")
	require.NotNil(t, web.LivenessProbe)
	require.NotNil(t, web.ReadinessProbe)
	require.NotNil(t, web.StartupProbe)
	assert.Equal(t, "/healthz", web.LivenessProbe.HTTPGet.Path, "liveness must not depend on the database")
	assert.Equal(t, "/readyz", web.ReadinessProbe.HTTPGet.Path)
}
