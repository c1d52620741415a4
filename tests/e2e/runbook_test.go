//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestBundledMajorUpgradeRunbook runs the chart README's bundled-database runbook ("PostgreSQL major upgrades") step
// by step, with its commands: stop the app, pg_dump, keep the old PV, delete the StatefulSet and the claim,
// `helm upgrade --no-hooks` onto a new volume, pg_restore, start the app. The harness has one PostgreSQL major, so
// the "new" major is the same one: what is proven is that the commands move every row onto a new, empty volume and
// that the release works afterwards, with the old volume retained.
func TestBundledMajorUpgradeRunbook(t *testing.T) {
	t.Parallel()
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-runbook")
	rel := h.NewRelease(ns, release)
	res := rel.Install(t, []string{"dev.yaml"}, nil)
	require.NoError(t, res.Err, "helm install")
	api := h.PortForward(t, ns, rel.Web())
	var ships []h.Ship
	for i := 0; i < 3; i++ {
		ships = append(ships, api.CreateShip(t, "runbook-"+h.RandHex(3)))
	}
	ctx := context.Background()
	pvc, err := ns.Client.CoreV1().PersistentVolumeClaims(ns.Name).Get(ctx, rel.PostgresPVC(), metav1.GetOptions{})
	require.NoError(t, err)
	stopped := map[string]any{"web": map[string]any{"replicas": 0}, "worker": map[string]any{"replicas": 0}}
	start := time.Now()

	// 1. Stop the app.
	require.NoError(t, rel.Upgrade(t, []string{"dev.yaml"}, stopped).Err, "step 1: stop the app")
	ns.WaitNoPods(t, rel.Selector("web"), 2*time.Minute)
	// 2. Dump (custom format, streamed to a file as `kubectl exec ... > spacefleet.dump`).
	dump := filepath.Join(t.TempDir(), "spacefleet.dump")
	kubectl(t, ns, "", dump, "exec", rel.PostgresPod(), "-c", "postgresql", "--", "pg_dump", "-U", "spacefleet", "-d", "spacefleet", "-Fc")
	st, err := os.Stat(dump)
	require.NoError(t, err)
	require.Positive(t, st.Size(), "the dump is not empty")
	// 3. Keep the old volume, remove the old database and its claim.
	kubectl(t, ns, "", "", "patch", "pv", pvc.Spec.VolumeName, "-p", `{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}`)
	kubectl(t, ns, "", "", "delete", "statefulset", rel.PostgresService(), "--wait")
	kubectl(t, ns, "", "", "delete", "pvc", rel.PostgresPVC(), "--wait")
	// 4. The new PostgreSQL on a new volume, app stopped, no hooks.
	require.NoError(t, rel.Upgrade(t, []string{"dev.yaml"}, stopped, "--no-hooks").Err, "step 4: new database, --no-hooks")
	// 5. Restore.
	kubectl(t, ns, dump, "", "exec", "-i", rel.PostgresPod(), "-c", "postgresql", "--", "pg_restore", "-U", "spacefleet", "-d", "spacefleet", "--exit-on-error")
	// 6. Start the app.
	require.NoError(t, rel.Upgrade(t, []string{"dev.yaml"}, nil).Err, "step 6: start the app")
	t.Logf("TIMING bundled runbook (stop, dump, new volume, restore, start): %s", time.Since(start).Round(time.Second))

	newPVC, err := ns.Client.CoreV1().PersistentVolumeClaims(ns.Name).Get(ctx, rel.PostgresPVC(), metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, pvc.UID, newPVC.UID, "the database runs on a new claim")
	assert.NotEqual(t, pvc.Spec.VolumeName, newPVC.Spec.VolumeName, "and a new volume")
	old, err := ns.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	require.NoError(t, err, "the old volume is retained")
	assert.Equal(t, corev1.PersistentVolumeReclaimRetain, old.Spec.PersistentVolumeReclaimPolicy)
	t.Cleanup(func() {
		_ = ns.Client.CoreV1().PersistentVolumes().Delete(context.Background(), old.Name, metav1.DeleteOptions{})
	})

	api = h.PortForward(t, ns, rel.Web())
	for _, s := range ships {
		assert.Equal(t, s.Name, api.GetShip(t, s.ID).Name, "ship %d restored onto the new volume", s.ID)
	}
	after := api.CreateShip(t, "after-runbook-"+h.RandHex(2))
	assert.Greater(t, after.ID, ships[len(ships)-1].ID, "sequences were restored too: no id is reused")
	require.NoError(t, rel.Test(t).Err, "helm test after the runbook")
}

// kubectl runs one runbook command in the namespace, stdin from a file and stdout to a file when named (binary-safe:
// a pg_dump custom-format archive), and fails the test with its stderr.
func kubectl(t *testing.T, ns *h.NS, stdinFile, stdoutFile string, args ...string) {
	t.Helper()
	full := append([]string{"--kubeconfig", ns.Env.Kubeconfig, "--context", ns.Env.KubeContext, "--namespace", ns.Name}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ns.Env.Kubectl, full...)
	if stdinFile != "" {
		f, err := os.Open(stdinFile)
		require.NoError(t, err)
		defer f.Close()
		cmd.Stdin = f
	}
	if stdoutFile != "" {
		f, err := os.Create(stdoutFile)
		require.NoError(t, err)
		defer f.Close()
		cmd.Stdout = f
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "kubectl %v: %s", args[:2], h.Redact(stderr.String()))
}

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b) < 64<<10 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}
func (l *limitedBuffer) String() string { return string(l.b) }
