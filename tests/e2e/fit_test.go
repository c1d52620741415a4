//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// Issue 17: every release name Helm accepts installs. 53 characters is Helm's limit; the bundled database
// exercises the StatefulSet, its headless Service and the hooks.
func TestLongReleaseName(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-longname")
	name := "pr-4821-feature-longer-branch-name-for-review-env-053"
	require.Len(t, name, 53)
	rel := h.NewRelease(ns, name)
	res := rel.Install(t, []string{"dev.yaml"}, nil)
	require.NoError(t, res.Err, "helm install with a 53-character release name")
	t.Logf("TIMING install-to-Ready (53-character release name): %s", res.Duration.Round(time.Second))
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("web")), "web Ready")
	sts, err := ns.Client.AppsV1().StatefulSets(ns.Name).Get(context.Background(), rel.PostgresService(), metav1.GetOptions{})
	require.NoError(t, err, "the StatefulSet is named by the chart's rule (the harness computes the same name)")
	assert.LessOrEqual(t, len(sts.Name), 52)
	assert.Equal(t, int32(1), sts.Status.ReadyReplicas)
	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "long-"+h.RandHex(3))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name)
	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
}

// Issue 11: the chart installs as a dependency of an umbrella chart, with values and globals given through the
// parent (Helm 3 and Helm 4).
func TestUmbrellaChart(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	umbrella := buildUmbrella(t, env)
	for _, helm4 := range []bool{false, true} {
		helm4 := helm4
		name := "helm3"
		if helm4 {
			name = "helm4"
			if env.Helm4 == "" {
				t.Fatal("helm v4 is not configured (SPACEFLEET_E2E_HELM4): make e2e installs it")
			}
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := h.NewNamespace(t, env, "e2e-umbrella-"+name)
			rel := h.NewRelease(ns, "platform")
			rel.Helm4, rel.Chart, rel.ValuesPrefix = helm4, umbrella, "spacefleet."
			// the umbrella's own values turn the bundled database off for an existingSecret: give it the bundled one
			// here, through the parent's spacefleet: key, plus a foreign global the chart must accept
			res := rel.Install(t, nil, map[string]any{
				"global":     map[string]any{"imageRegistry": "", "anotherChartsSetting": true},
				"spacefleet": map[string]any{"postgresql": map[string]any{"enabled": true, "persistence": map[string]any{"size": "1Gi"}}, "externalDatabase": map[string]any{"existingSecret": ""}, "web": map[string]any{"replicas": 1}},
			})
			require.NoError(t, res.Err, "helm install of the umbrella chart")
			t.Logf("TIMING install-to-Ready (umbrella, %s): %s", name, res.Duration.Round(time.Second))
			assert.Equal(t, 1, ns.ReadyPods(t, h.ComponentSelector("platform", "web")), "web Ready")
			tr := rel.Test(t)
			require.NoError(t, tr.Err, "helm test of the umbrella release runs the subchart's test")
			check, ok := h.ParseDBCheck(tr.Output)
			require.True(t, ok, "dbcheck report in helm test --logs")
			assert.Equal(t, "spacefleet-dbcheck", check.ApplicationName)
		})
	}
}

// buildUmbrella copies tests/umbrella, points its dependency at the chart under test and runs
// `helm dependency build` (offline: a file:// repository).
func buildUmbrella(t *testing.T, env *h.Env) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "umbrella")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range []string{"Chart.yaml", "values.yaml"} {
		b, err := os.ReadFile(filepath.Join(h.RepoRoot(), "tests", "umbrella", f))
		require.NoError(t, err)
		if f == "Chart.yaml" {
			b = []byte(strings.Replace(string(b), "file://../../charts/spacefleet", "file://"+env.Chart, 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	out, err := exec.Command(env.Helm, "dependency", "build", dir).CombinedOutput()
	require.NoErrorf(t, err, "helm dependency build: %s", out)
	return dir
}

// Issue 11: a migrate Job with a native sidecar that never exits completes, and `helm install --wait` finishes.
func TestNativeSidecarLetsTheMigrateJobComplete(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-sidecar")
	rel := h.NewRelease(ns, release)
	forever := map[string]any{
		"name": "forever", "image": env.BusyboxImage, "imagePullPolicy": "IfNotPresent",
		"command":         []any{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"},
		"securityContext": map[string]any{"runAsUser": 65532, "runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": map[string]any{"drop": []any{"ALL"}}},
		"resources":       map[string]any{"requests": map[string]any{"cpu": "5m", "memory": "8Mi"}, "limits": map[string]any{"memory": "32Mi"}},
	}
	res := rel.Install(t, []string{"dev.yaml"}, map[string]any{"migrations": map[string]any{"sidecars": []any{forever}}})
	require.NoError(t, res.Err, "helm install --wait with a never-exiting sidecar on the migrate Job")
	t.Logf("TIMING install-to-Ready (migrate Job with a native sidecar): %s", res.Duration.Round(time.Second))
	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job)
	assert.True(t, h.JobCondition(job, batchv1.JobComplete), "the Job completed although its sidecar never exits")
	pods := ns.Pods(t, "job-name="+rel.Migrate())
	require.NotEmpty(t, pods)
	require.NotEmpty(t, pods[0].Spec.InitContainers)
	assert.Equal(t, "forever", pods[0].Spec.InitContainers[0].Name, "the sidecar ran, as a native sidecar")
}

// Issue 11: the API server accepts every object the new settings render: HPA, HTTPRoute (Gateway API CRDs applied
// server-side), extra objects, service settings, PDB minAvailable, common labels; and the app works with them.
func TestProductionSettingsAreAccepted(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	applyGatewayCRDs(t, env)
	ns := h.NewNamespace(t, env, "e2e-settings")
	rel := h.NewRelease(ns, release)
	res := rel.Install(t, []string{"dev.yaml"}, map[string]any{
		"commonLabels": map[string]any{"team": "fleet"}, "commonAnnotations": map[string]any{"owner": "ops"},
		"priorityClassName": "", "terminationGracePeriodSeconds": 20,
		"extraEnv": []any{map[string]any{"name": "RELEASE_NAME", "value": "{{ .Release.Name }}"}},
		"web": map[string]any{
			"autoscaling":         map[string]any{"enabled": true, "minReplicas": 2, "maxReplicas": 3},
			"podDisruptionBudget": map[string]any{"minAvailable": 1},
			"service":             map[string]any{"type": "NodePort", "externalTrafficPolicy": "Local", "appProtocol": "http"},
			"route":               map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "public"}}, "hostnames": []any{"fleet.example.com"}, "timeouts": map[string]any{"request": "30s"}},
			"updateStrategy":      map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": 1, "maxUnavailable": 0}},
		},
		"worker":       map[string]any{"autoscaling": map[string]any{"enabled": true, "minReplicas": 1, "maxReplicas": 2}},
		"migrations":   map[string]any{"jobAnnotations": map[string]any{"example.com/note": "schema"}},
		"extraObjects": []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "{{ .Release.Name }}-extra"}, "data": map[string]any{"k": "v"}}},
	})
	require.NoError(t, res.Err, "helm install with HPA, HTTPRoute, extra objects, NodePort, PDB minAvailable")
	for _, kind := range []string{"hpa/" + rel.Web(), "hpa/" + rel.Worker(), "httproute/" + rel.Web(), "configmap/" + release + "-extra", "pdb/" + rel.Web()} {
		out, err := ns.Kubectl(t, "get", kind, "-o", "jsonpath={.metadata.labels.team}")
		require.NoErrorf(t, err, "%s exists", kind)
		assert.Equalf(t, "fleet", out, "%s carries commonLabels", kind)
	}
	// the HPA's minimum is what the Deployment runs (replicas left to the HPA)
	ns.WaitReadyPods(t, rel.Selector("web"), 2, 3*time.Minute)
	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "settings-"+h.RandHex(3))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name)
	pods := ns.Pods(t, rel.Selector("web"))
	require.NotEmpty(t, pods)
	env0 := map[string]string{}
	for _, e := range pods[0].Spec.Containers[0].Env {
		env0[e.Name] = e.Value
	}
	assert.Equal(t, release, env0["RELEASE_NAME"], "extraEnv is tpl-rendered")
}
