//go:build e2e

package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The add-ons (cert-manager, CloudNativePG) are installed into the cluster by scripts/addons.sh the first time a
// suite asks for one in this run; every later caller waits for that one install and shares its result.
var (
	addonMu    sync.Mutex
	addonState = map[string]*addonResult{}
)

type addonResult struct {
	once sync.Once
	err  string
	took time.Duration
}

// Names the CA ClusterIssuer `addons.sh cert-manager` bootstraps (self-signed -> CA Certificate -> CA issuer), and
// the Secret (namespace cert-manager) holding that CA.
const (
	CAClusterIssuer = "spacefleet-ca"
	CASecretNS      = "cert-manager"
	CASecretName    = "spacefleet-ca"
)

// RequireAddon makes sure addon ("cert-manager" or "cnpg") is installed and working in the cluster.
func RequireAddon(t testing.TB, env *Env, addon string) {
	t.Helper()
	addonMu.Lock()
	r, ok := addonState[addon]
	if !ok {
		r = &addonResult{}
		addonState[addon] = r
	}
	addonMu.Unlock()
	r.once.Do(func() {
		script := os.Getenv("SPACEFLEET_E2E_ADDONS")
		if script == "" {
			script = filepath.Join(RepoRoot(), "scripts", "addons.sh")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute) // a cold image build included
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, script, addon, env.Cluster)
		cmd.Env = append(os.Environ(), "KIND="+env.Kind, "KUBECTL="+env.Kubectl)
		out, err := cmd.CombinedOutput()
		r.took = time.Since(start)
		if err != nil {
			r.err = "scripts/addons.sh " + addon + ": " + err.Error() + "\n" + tail(string(out), 40)
			return
		}
		t.Logf("add-on %s installed in %s:\n%s", addon, r.took.Round(time.Second), strings.TrimSpace(string(out)))
	})
	if r.err != "" {
		t.Fatal(r.err)
	}
}

var certManagerCRDs sync.Mutex

// ApplyCertManagerCRDs applies cert-manager's CRDs only (no controller, no webhook: enough for the API server to
// validate and store a Certificate), from the pinned module (images/cert-manager/build.sh crds), server-side, and
// waits until they are Established. Where the add-on is installed too, both apply the same CRDs.
func ApplyCertManagerCRDs(t testing.TB, env *Env) {
	t.Helper()
	certManagerCRDs.Lock()
	defer certManagerCRDs.Unlock()
	out, err := exec.Command(filepath.Join(RepoRoot(), "images", "cert-manager", "build.sh"), "crds").Output()
	if err != nil {
		t.Fatalf("images/cert-manager/build.sh crds: %v", err)
	}
	args := []string{"apply", "--server-side", "--force-conflicts", "--field-manager", "spacefleet-e2e"}
	for _, f := range strings.Fields(string(out)) {
		args = append(args, "-f", f)
	}
	kube := env.Kube("")
	if o, err := kubectlStdout(kube, args...); err != nil {
		t.Fatalf("kubectl apply the cert-manager CRDs: %v\n%s", err, o)
	}
	RequireCondition(t, kube, "Established", 2*time.Minute, "crd/certificates.cert-manager.io")
}
