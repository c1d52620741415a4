//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

var (
	gatewayOnce sync.Once
	gatewayErr  error
)

// applyGatewayCRDs applies the Gateway API CRDs the chart renders, HTTPRoute's and BackendTLSPolicy's, server-side
// (too big for client-side apply). Only those: the standard bundle's TLSRoute CRD has CEL rules (isIP()) that older
// API servers may not compile, and the chart renders no TLSRoute.
func applyGatewayCRDs(t *testing.T, env *h.Env) {
	t.Helper()
	require.NotEmpty(t, env.GatewayCRDs, "SPACEFLEET_E2E_GATEWAY_API_CRDS is not set: make e2e resolves it from the pinned sigs.k8s.io/gateway-api module")
	// every caller gets the outcome of the one apply (not only the first)
	gatewayOnce.Do(func() {
		for _, kind := range []string{"httproutes", "backendtlspolicies"} {
			f := filepath.Join(env.GatewayCRDs, "gateway.networking.k8s.io_"+kind+".yaml")
			var out []byte
			out, gatewayErr = exec.Command(env.Kubectl, "--kubeconfig", env.Kubeconfig, "--context", env.KubeContext,
				"apply", "--server-side", "--force-conflicts", "-f", f).CombinedOutput()
			if gatewayErr != nil {
				gatewayErr = fmt.Errorf("%w: %s", gatewayErr, out)
				return
			}
			if gatewayErr = h.WaitCondition(t, env.Kube(""), "Established", 2*time.Minute, "crd/"+kind+".gateway.networking.k8s.io"); gatewayErr != nil {
				return
			}
		}
	})
	require.NoError(t, gatewayErr, "apply the Gateway API HTTPRoute and BackendTLSPolicy CRDs")
}

// TestEveryRenderIsStoredAsSent: every example in examples/values/, the defaults, and a render with every optional
// feature on (tests/e2e/testdata/all-features.yaml), rendered for this cluster's Kubernetes version, are sent to
// its API server (server-side apply, dry run, strict field validation) and what it would store is compared with
// what was sent: nothing may be refused, warned about, silently dropped or changed. Runs on the newest version and
// on the floor: a field a floor API server does not know, or keeps behind a feature gate that is off there, fails
// here although kubeconform's schemas and the deprecated-API scan pass.
func TestEveryRenderIsStoredAsSent(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	version := h.ServerVersion(t, env)
	t.Logf("Kubernetes %s", version)
	// the CRDs of what the renders contain: HTTPRoute, ServiceMonitor/PrometheusRule, cert-manager's Certificate
	applyGatewayCRDs(t, env)
	h.ApplyPrometheusOperatorCRDs(t, env)
	h.ApplyCertManagerCRDs(t, env)
	ns := h.NewNamespace(t, env, "e2e-stored")
	storedControls(t, env, ns, version)

	files, err := filepath.Glob(filepath.Join(env.Examples, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	// the layered stacks, each as base.yaml + overlay ("a.yaml+b.yaml")
	overlays, err := filepath.Glob(filepath.Join(env.Examples, "layered", "*.yaml"))
	require.NoError(t, err)
	for _, o := range overlays {
		if filepath.Base(o) != "base.yaml" {
			files = append(files, filepath.Join(env.Examples, "layered", "base.yaml")+"+"+o)
		}
	}
	renders := append([]string{"", filepath.Join(h.RepoRoot(), "tests", "e2e", "testdata", "all-features.yaml")}, files...)
	total, clean := 0, 0
	var failed []string
	for _, f := range renders {
		name := "defaults"
		args := []string{"template", "ex", env.Chart, "-n", ns.Name, "--kube-version", version,
			"--set-string", "image.repository=" + env.AppImage.Repository, "--set-string", "image.tag=" + env.AppImage.Tag,
			"--set-string", "postgresql.image.repository=" + env.PGImage.Repository, "--set-string", "postgresql.image.tag=" + env.PGImage.Tag}
		if f != "" {
			name = filepath.Base(f)
			if strings.Contains(f, "+") { // a layered stack: its overlay's name, prefixed
				name = "layered-" + name
			}
			for _, layer := range strings.Split(f, "+") {
				args = append(args, "-f", layer)
			}
		}
		manifest, err := exec.Command(env.Helm, args...).Output()
		if !assert.NoErrorf(t, err, "helm template %s", name) {
			continue
		}
		// A Pod is admitted only when its ServiceAccount exists, and a dry run creates nothing: the render's
		// ServiceAccounts are applied for real first.
		res := h.RoundTrip(t, env, ns.Name, manifest, h.RoundTripOptions{Create: []string{"ServiceAccount"}})
		total += res.Objects
		if len(res.Findings) == 0 {
			clean++
			t.Logf("%s: %d objects stored as sent", name, res.Objects)
			continue
		}
		failed = append(failed, name)
		t.Errorf("%s on Kubernetes %s: %d of %d objects not stored as sent:\n%s", name, version, countObjects(res.Findings), res.Objects, h.FindingsText(res.Findings))
	}
	t.Logf("MEASURE stored-as-sent on Kubernetes %s: %d renders (%d objects), %d clean, failed: %s", version, len(renders), total, clean, strings.Join(failed, " "))
}

// Positive controls: the round trip sees what an API server silently drops. Every version resets the status a
// Deployment is created with; a 1.30 server keeps Service.spec.trafficDistribution behind a feature gate that is off
// (alpha until 1.31) and drops it without an error, even under strict field validation.
func storedControls(t *testing.T, env *h.Env, ns *h.NS, version string) {
	t.Helper()
	controls := []struct{ manifest, dropped string }{{`apiVersion: apps/v1
kind: Deployment
metadata: {name: stored-control}
spec:
  selector: {matchLabels: {app: stored-control}}
  template:
    metadata: {labels: {app: stored-control}}
    spec: {containers: [{name: c, image: stored-control:1}]}
status: {replicas: 7}
`, ".status.replicas"}}
	var minor int
	_, err := fmt.Sscanf(version, "v1.%d", &minor)
	require.NoError(t, err, "version %s", version)
	if minor < 31 {
		controls = append(controls, struct{ manifest, dropped string }{`apiVersion: v1
kind: Service
metadata: {name: stored-control}
spec:
  selector: {app: stored-control}
  ports: [{port: 80}]
  trafficDistribution: PreferClose
`, ".spec.trafficDistribution"})
	}
	for _, c := range controls {
		res := h.RoundTrip(t, env, ns.Name, []byte(c.manifest), h.RoundTripOptions{})
		if assert.Len(t, res.Findings, 1, "control: exactly one finding expected:\n%s", h.FindingsText(res.Findings)) {
			f := res.Findings[0]
			assert.Equal(t, "dropped", f.What, f.String())
			assert.Equal(t, c.dropped, f.Path, f.String())
			t.Logf("control on Kubernetes %s: %s", version, f)
		}
	}
}

func countObjects(fs []h.Finding) int {
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.Object] = true
	}
	return len(seen)
}
