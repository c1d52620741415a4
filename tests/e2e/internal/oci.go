//go:build e2e

package harness

// The chart as operators get it: signed packages in the harness's local OCI registry (scripts/registry.sh, `make
// package-push`), installed with `helm install oci://... --version V --verify --keyring K`, and the images the
// harness built pulled by the kind node from the same registry, by digest.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// OCI is what `make e2e` published for the OCI suites (SPACEFLEET_E2E_REGISTRY* / _PACKAGES / _KEYRING / ...).
type OCI struct {
	Registry    string            // localhost:PORT: the same name on the host and in the kind node
	Images      map[string]string // local image (repo:tag) -> localhost:PORT/repo@sha256:..., as pushed
	Packages    string            // directory of the signed packages spacefleet-<version>.tgz and .tgz.prov
	Keyring     string            // the public keyring the packages verify with
	Version     string            // the chart version of the working copy (the package "N")
	PrevVersion string            // the newest released version (the package "N-1")
	PrevValues  string            // examples/values as they were at the release the N-1 package was cut from
	InCluster   string            // NAME:5000: the registry as pods reach it (SPACEFLEET_E2E_REGISTRY_HOST; gitops.go)
}

func loadOCI() OCI {
	s := OCI{
		Registry:    os.Getenv("SPACEFLEET_E2E_REGISTRY"),
		Packages:    os.Getenv("SPACEFLEET_E2E_PACKAGES"),
		Keyring:     os.Getenv("SPACEFLEET_E2E_KEYRING"),
		Version:     os.Getenv("SPACEFLEET_E2E_CHART_VERSION"),
		PrevVersion: os.Getenv("SPACEFLEET_E2E_PREV_CHART_VERSION"),
		PrevValues:  os.Getenv("SPACEFLEET_E2E_PREV_VALUES"),
		InCluster:   os.Getenv("SPACEFLEET_E2E_REGISTRY_HOST"),
		Images:      map[string]string{},
	}
	if f := os.Getenv("SPACEFLEET_E2E_REGISTRY_IMAGES"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) == 2 {
					s.Images[f[0]] = f[1]
				}
			}
		}
	}
	return s
}

// RequireOCI skips the test when `make e2e` published no registry and packages (e.g. a hand-run `go test`).
func RequireOCI(t testing.TB, env *Env) OCI {
	t.Helper()
	s := env.OCI
	var missing []string
	for k, v := range map[string]string{"SPACEFLEET_E2E_REGISTRY": s.Registry, "SPACEFLEET_E2E_PACKAGES": s.Packages,
		"SPACEFLEET_E2E_KEYRING": s.Keyring, "SPACEFLEET_E2E_CHART_VERSION": s.Version} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Skipf("no local registry and signed packages (%s unset): run the suites with `make e2e`", strings.Join(missing, ", "))
	}
	return s
}

// ChartURL is the OCI repository the packages are pushed to.
func (s OCI) ChartURL() string { return "oci://" + s.Registry + "/charts/spacefleet" }

// Digest is the registry reference of a harness image by digest ("localhost:PORT/repo@sha256:..."), failing the
// test when it was not pushed.
func (s OCI) Digest(t testing.TB, image string) (repo, digest string) {
	t.Helper()
	ref, ok := s.Images[image]
	if !ok {
		t.Fatalf("image %s was not pushed to the registry (SPACEFLEET_E2E_REGISTRY_IMAGES)", image)
	}
	at := strings.LastIndex(ref, "@")
	return ref[:at], ref[at+1:]
}

// FromOCI makes r install and upgrade the signed package of version from the registry, verified: the way an
// operator installs it.
func (r *Release) FromOCI(s OCI, version string) {
	r.ChartRef = s.ChartURL()
	r.ChartArgs = []string{"--version", version, "--verify", "--keyring", s.Keyring, "--plain-http"}
}

// Helm runs the release's helm binary (v3 or v4) with args, outside any release (push, pull, package), bounded.
func (r *Release) Helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin := r.Env.Helm
	if r.Helm4 {
		bin = r.Env.Helm4
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return Redact(string(b)), err
}

// Tamper writes a copy of the signed package whose values.yaml has one byte more, under the same file name, next
// to the ORIGINAL provenance file (so its signature and the sha256 it signs are the genuine ones), into a new
// directory, and returns the package path. What a compromised registry or a man in the middle would serve.
func Tamper(t testing.TB, pkg string) string {
	t.Helper()
	in, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	changed := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(hdr.Name, "/values.yaml") && strings.Count(hdr.Name, "/") == 1 {
			body = append(body, []byte("# tampered\n")...)
			hdr.Size = int64(len(body))
			changed = true
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if !changed {
		t.Fatalf("%s has no top-level values.yaml to tamper with", pkg)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, filepath.Base(pkg))
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	prov, err := os.ReadFile(pkg + ".prov")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".prov", prov, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
