//go:build e2e

package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestOCIInstall: the way an operator installs. `helm install oci://<local registry>/charts/spacefleet --version
// <chart version> --verify --keyring <public keyring>` under Helm 3 and Helm 4, with image.digest and
// postgresql.image.digest taken from the same registry, which the kind node pulls them from (they were never `kind
// load`ed under that name): every container runs the image of that digest. Then the app works and `helm test` passes.
func TestOCIInstall(t *testing.T) {
	h.Parallel(t)
	for _, helm4 := range []bool{false, true} {
		name := "helm3"
		if helm4 {
			name = "helm4"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := h.Load(t)
			oci := h.RequireOCI(t, env)
			if helm4 && env.Helm4 == "" {
				t.Skip("no helm v4 binary")
			}
			h.Timer(t)
			ns := h.NewNamespace(t, env, "e2e-oci")
			rel := h.NewRelease(ns, release)
			rel.Helm4 = helm4
			rel.FromOCI(oci, oci.Version)
			appRepo, appDigest := oci.Digest(t, env.AppImage.String())
			pgRepo, pgDigest := oci.Digest(t, env.PGImage.String())
			rel.Images = registryImages(env, appRepo, appDigest, pgRepo, pgDigest)

			res := rel.Install(t, []string{"dev.yaml"}, nil)
			require.NoError(t, res.Err, "helm install from %s --version %s --verify", oci.ChartURL(), oci.Version)
			t.Logf("TIMING install-from-OCI (%s, --verify, images from the registry): %s", helmName(rel), res.Duration.Round(time.Second))

			// Every container of the release is pinned to a registry digest, and the kubelet pulled each of them from
			// the registry. (The status' image name is not proof: the node also holds the same image content `kind
			// load`ed under its local name, and reports that name.)
			want := map[string]bool{appRepo + "@" + appDigest: false, pgRepo + "@" + pgDigest: false}
			for _, p := range ns.Pods(t, "app.kubernetes.io/instance="+rel.Name) {
				for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
					_, ok := want[c.Image]
					assert.True(t, ok, "pod %s container %s runs %s, not a digest of the registry %s", p.Name, c.Name, c.Image, oci.Registry)
				}
			}
			events, err := ns.Kubectl(t, "get", "events", "--field-selector", "reason=Pulled", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
			require.NoError(t, err)
			// "Successfully pulled image REF", or "Container image REF already present on machine" when an earlier
			// pod pulled it: either way that name@digest only exists on the node because the registry served it.
			for ref := range want {
				assert.Contains(t, events, `image "`+ref+`"`, "the kubelet pulled %s from the registry", ref)
			}
			api := h.PortForward(t, ns, rel.Web())
			ship := api.CreateShip(t, "oci-"+h.RandHex(4))
			assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")
			tr := rel.Test(t)
			require.NoError(t, tr.Err, "helm test")
		})
	}
}

// TestRegistryPushLeavesNoTags: pushing the harness images (scripts/registry.sh push, run by `make e2e`) tags each
// as localhost:PORT/...; the push drops that tag again, or every run (a new port each) would leave one per image in
// the local docker.
func TestRegistryPushLeavesNoTags(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	oci := h.RequireOCI(t, env)
	require.NotEmpty(t, oci.Images, "the harness images were pushed")
	out, err := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").CombinedOutput()
	require.NoError(t, err, "docker images: %s", out)
	var left []string
	for _, ref := range strings.Fields(string(out)) {
		if strings.HasPrefix(ref, oci.Registry+"/") {
			left = append(left, ref)
		}
	}
	assert.Empty(t, left, "push tags of registry %s left in the local docker", oci.Registry)
}

// registryImages: the image values for the registry's copies of the harness images, pinned by the digests the
// registry serves (postgresql.image.tag stays: the chart reads the PostgreSQL major version from it).
func registryImages(env *h.Env, appRepo, appDigest, pgRepo, pgDigest string) map[string]string {
	return map[string]string{
		"image.repository":            appRepo,
		"image.digest":                appDigest,
		"image.pullPolicy":            "IfNotPresent",
		"postgresql.image.repository": pgRepo,
		"postgresql.image.tag":        env.PGImage.Tag,
		"postgresql.image.digest":     pgDigest,
		"postgresql.image.pullPolicy": "IfNotPresent",
	}
}

// TestOCITamperedRefused: a package whose content no longer matches its provenance file (one line appended to
// values.yaml, the genuine .prov kept: what a compromised registry would serve) is pushed next to the real one;
// `helm install --verify` refuses it under Helm 3 and Helm 4, naming the checksum mismatch, and installs nothing.
func TestOCITamperedRefused(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	oci := h.RequireOCI(t, env)
	h.Timer(t)
	pkg := oci.Packages + "/spacefleet-" + oci.Version + ".tgz"
	tampered := h.Tamper(t, pkg)
	ns := h.NewNamespace(t, env, "e2e-tamper")
	pusher := h.NewRelease(ns, release)
	out, err := pusher.Helm(t, "push", "--plain-http", tampered, "oci://"+oci.Registry+"/tampered")
	require.NoError(t, err, "helm push of the tampered package (with the genuine .prov beside it): %s", out)

	for _, helm4 := range []bool{false, true} {
		if helm4 && env.Helm4 == "" {
			continue
		}
		rel := h.NewRelease(ns, "tampered")
		rel.Helm4 = helm4
		rel.ChartRef = "oci://" + oci.Registry + "/tampered/spacefleet"
		rel.ChartArgs = []string{"--version", oci.Version, "--verify", "--keyring", oci.Keyring, "--plain-http"}
		res := rel.Install(t, []string{"dev.yaml"}, nil)
		require.Error(t, res.Err, "%s installed a package that does not match its provenance", helmName(rel))
		// (without a provenance layer the error would be a missing .prov: this one proves the signature was read)
		assert.Contains(t, res.Output, "sha256 sum does not match for spacefleet-"+oci.Version+".tgz", "%s names the checksum mismatch", helmName(rel))
		status, err := rel.Helm(t, "status", "tampered", "--namespace", ns.Name, "--kubeconfig", env.Kubeconfig, "--kube-context", env.KubeContext)
		assert.Error(t, err, "%s: no release was created, got: %s", helmName(rel), status)
		assert.Contains(t, status, "not found", "%s: no release was created", helmName(rel))
		assert.Empty(t, ns.Pods(t, "app.kubernetes.io/instance=tampered"), "%s: no pod was created", helmName(rel))
	}
}
