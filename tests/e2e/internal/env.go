//go:build e2e

// Package harness holds the shared helpers of the end-to-end suites in tests/e2e: the cluster and tool
// configuration (from the SPACEFLEET_E2E_* variables `make e2e` exports), namespaces, Helm wrappers,
// an in-cluster PostgreSQL with TLS, certificate generation, HTTP through port-forward or a client pod,
// and psql through `kubectl exec`. Nothing here prints a password: see redact.go.
package harness

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Env is the cluster and the tools the suites run against.
type Env struct {
	Cluster      string // kind cluster name (informational)
	Kubeconfig   string
	KubeContext  string
	AppImage     Image
	PGImage      Image
	BusyboxImage string
	NetpolImage  string // the NetworkPolicy controller's image (images/netpol), installed by the suites that need it
	Chart        string // absolute path of charts/spacefleet
	Examples     string // absolute path of examples/values
	Helm         string // helm v3 binary
	Helm4        string // helm v4 binary ("" when absent: the Helm 4 tests skip)
	Kubectl      string
	Kind         string
	GatewayCRDs  string // directory of the Gateway API standard CRDs (SPACEFLEET_E2E_GATEWAY_API_CRDS, from make)
	Verbose      bool   // SPACEFLEET_E2E_VERBOSE=1: every kubectl command and its output are logged (redacted)
	KeepNS       bool   // SPACEFLEET_E2E_KEEP_NAMESPACES=1: leave the test namespaces for debugging
	OCI          OCI    // the local OCI registry and the signed packages (oci.go); zero when `make e2e` set none up
}

// Image is a repository and tag, as the chart's values take them.
type Image struct{ Repository, Tag string }

func (i Image) String() string { return i.Repository + ":" + i.Tag }

// ParseImage splits "repo/name:tag" (the tag defaults to "latest").
func ParseImage(s string) Image {
	slash := strings.LastIndex(s, "/")
	if c := strings.LastIndex(s, ":"); c > slash {
		return Image{Repository: s[:c], Tag: s[c+1:]}
	}
	return Image{Repository: s, Tag: "latest"}
}

// RepoRoot is the repository root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var (
	loadOnce sync.Once
	loaded   *Env
	loadErr  string
	skipMsg  string
)

func load() {
	root := RepoRoot()
	e := &Env{
		Cluster:      getenv("SPACEFLEET_E2E_CLUSTER", "spacefleet-e2e"),
		Kubeconfig:   os.Getenv("SPACEFLEET_E2E_KUBECONFIG"),
		KubeContext:  os.Getenv("SPACEFLEET_E2E_KUBE_CONTEXT"),
		AppImage:     ParseImage(getenv("SPACEFLEET_E2E_APP_IMAGE", "spacefleet/spacefleet:0.1.0")),
		PGImage:      ParseImage(getenv("SPACEFLEET_E2E_PG_IMAGE", "spacefleet/postgres:15")),
		BusyboxImage: getenv("SPACEFLEET_E2E_BUSYBOX_IMAGE", "spacefleet/busybox:1.35"),
		NetpolImage:  os.Getenv("SPACEFLEET_E2E_NETPOL_IMAGE"),
		Chart:        getenv("SPACEFLEET_E2E_CHART", filepath.Join(root, "charts", "spacefleet")),
		Examples:     filepath.Join(root, "examples", "values"),
		Helm:         os.Getenv("SPACEFLEET_E2E_HELM"),
		Helm4:        os.Getenv("SPACEFLEET_E2E_HELM4"),
		Kubectl:      os.Getenv("SPACEFLEET_E2E_KUBECTL"),
		Kind:         os.Getenv("SPACEFLEET_E2E_KIND"),
		GatewayCRDs:  os.Getenv("SPACEFLEET_E2E_GATEWAY_API_CRDS"),
		Verbose:      os.Getenv("SPACEFLEET_E2E_VERBOSE") == "1",
		KeepNS:       os.Getenv("SPACEFLEET_E2E_KEEP_NAMESPACES") == "1",
	}
	e.OCI = loadOCI()
	if e.Kubeconfig == "" {
		skipMsg = "SPACEFLEET_E2E_KUBECONFIG is not set: run the suites with `make e2e` (or export the SPACEFLEET_E2E_* variables of mk/kind.mk)"
		return
	}
	if e.Helm4 == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if p := filepath.Join(home, ".cache", "spacefleet", "bin", "helm4"); isExecutable(p) {
				e.Helm4 = p
			}
		}
	}
	var problems []string
	if _, err := os.Stat(e.Kubeconfig); err != nil {
		problems = append(problems, "SPACEFLEET_E2E_KUBECONFIG="+e.Kubeconfig+": "+err.Error())
	}
	for name, p := range map[string]string{"SPACEFLEET_E2E_HELM": e.Helm, "SPACEFLEET_E2E_KUBECTL": e.Kubectl} {
		if p == "" {
			problems = append(problems, name+" is not set (the helm v3 / kubectl binary the suites run)")
		} else if !isExecutable(p) {
			problems = append(problems, name+"="+p+" is not an executable file")
		}
	}
	if _, err := os.Stat(filepath.Join(e.Chart, "Chart.yaml")); err != nil {
		problems = append(problems, "SPACEFLEET_E2E_CHART="+e.Chart+" has no Chart.yaml")
	}
	if len(problems) > 0 {
		loadErr = "e2e environment is incomplete:\n  " + strings.Join(problems, "\n  ")
		return
	}
	loaded = e
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Load returns the environment, skipping the test when no cluster is configured and failing it when the
// configuration is there but broken.
func Load(t testing.TB) *Env {
	t.Helper()
	loadOnce.Do(load)
	switch {
	case skipMsg != "":
		t.Skip(skipMsg)
	case loadErr != "":
		t.Fatal(loadErr)
	}
	return loaded
}

// PrepareTools makes `helm` and `kubectl` (the harness runs them by bare name) resolve to the binaries the
// environment names, by prepending a directory of symlinks to PATH. Called once from TestMain; a no-op when
// the environment is not configured. It returns a cleanup function.
func PrepareTools() func() {
	loadOnce.Do(load)
	if loaded == nil {
		return func() {}
	}
	dir, err := os.MkdirTemp("", "spacefleet-e2e-bin-")
	if err != nil {
		panic(err)
	}
	for name, target := range map[string]string{"helm": loaded.Helm, "kubectl": loaded.Kubectl} {
		abs, _ := filepath.Abs(target)
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			panic(err)
		}
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() { os.RemoveAll(dir) }
}

// Kube is kubectl for a namespace of the cluster ("" for none).
func (e *Env) Kube(namespace string) *Kubectl {
	return &Kubectl{Kubeconfig: e.Kubeconfig, Context: e.KubeContext, Namespace: namespace, Verbose: e.Verbose}
}
