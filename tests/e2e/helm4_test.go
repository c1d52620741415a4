//go:build e2e

package e2e

import (
	"os/exec"
	"strings"
	"testing"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// Helm 4: the bundled and the external-TLS installs with the helm v4 CLI (SPACEFLEET_E2E_HELM4, default
// ~/.cache/spacefleet/bin/helm4 from `make tools-helm4`). The harness runs the `helm` on PATH (v3 here), and
// the v4 binary for a harness.Release{Helm4: true}.
func helm4Env(t *testing.T) *h.Env {
	env := h.Load(t)
	if env.Helm4 == "" {
		t.Skip("no helm v4 binary: set SPACEFLEET_E2E_HELM4 or run `make tools-helm4`")
	}
	out, err := exec.Command(env.Helm4, "version", "--short").CombinedOutput()
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), "v4") {
		t.Fatalf("%s is not helm v4: %s %v", env.Helm4, out, err)
	}
	t.Logf("helm %s", strings.TrimSpace(string(out)))
	return env
}

func TestHelm4Bundled(t *testing.T) {
	h.Parallel(t)
	env := helm4Env(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-h4-bundled")
	rel := h.NewRelease(ns, release)
	rel.Helm4 = true
	runBundled(t, rel)
}

func TestHelm4ExternalTLS(t *testing.T) {
	h.Parallel(t)
	env := helm4Env(t)
	h.Timer(t)
	runTLS(t, env, "url", true)
}
