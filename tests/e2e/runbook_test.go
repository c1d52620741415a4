//go:build e2e

package e2e

import (
	"context"
	"fmt"
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
// by step, with its commands: stop the app, pg_dump, delete the StatefulSet (its claim stays as the fallback), a new
// claim, `helm upgrade --no-hooks` onto it with postgresql.persistence.existingClaim, pg_restore, start the app. The
// harness has one PostgreSQL major, so the "new" major is the same one: what is proven is that the commands move
// every row onto a new, empty volume and that the release works afterwards, with the old claim kept untouched.
func TestBundledMajorUpgradeRunbook(t *testing.T) {
	h.Parallel(t)
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
	newClaim := rel.PostgresService() + "-new" // the README's $F-postgresql-16
	onNewClaim := map[string]any{"postgresql": map[string]any{"persistence": map[string]any{"existingClaim": newClaim}}}
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
	// 3. Remove the old database; its claim stays (the fallback).
	kubectl(t, ns, "", "", "delete", "statefulset", rel.PostgresService(), "--cascade=foreground", "--wait")
	// 4. A new, empty claim, and the new PostgreSQL on it (existingClaim), app stopped, no hooks.
	claim := filepath.Join(t.TempDir(), "claim.yaml")
	require.NoError(t, os.WriteFile(claim, []byte(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: %s
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
`, newClaim)), 0o600))
	kubectl(t, ns, claim, "", "apply", "-f", "-")
	require.NoError(t, rel.Upgrade(t, []string{"dev.yaml"}, h.Merge(stopped, onNewClaim), "--no-hooks").Err, "step 4: new database on the new claim, --no-hooks")
	// 5. Restore.
	kubectl(t, ns, dump, "", "exec", "-i", rel.PostgresPod(), "-c", "postgresql", "--", "pg_restore", "-U", "spacefleet", "-d", "spacefleet", "--exit-on-error")
	// 6. Start the app, existingClaim now in the values.
	require.NoError(t, rel.Upgrade(t, []string{"dev.yaml"}, onNewClaim).Err, "step 6: start the app")
	t.Logf("TIMING bundled runbook (stop, dump, new claim, restore, start): %s", time.Since(start).Round(time.Second))

	sts, err := ns.Client.AppsV1().StatefulSets(ns.Name).Get(ctx, rel.PostgresService(), metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, sts.Spec.VolumeClaimTemplates, "the database runs on the existing claim, no claim template")
	var claimName string
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "data" && v.PersistentVolumeClaim != nil {
			claimName = v.PersistentVolumeClaim.ClaimName
		}
	}
	assert.Equal(t, newClaim, claimName)
	old, err := ns.Client.CoreV1().PersistentVolumeClaims(ns.Name).Get(ctx, rel.PostgresPVC(), metav1.GetOptions{})
	require.NoError(t, err, "the old claim is kept as the fallback")
	assert.Equal(t, pvc.UID, old.UID)
	assert.Equal(t, corev1.ClaimBound, old.Status.Phase)
	nc, err := ns.Client.CoreV1().PersistentVolumeClaims(ns.Name).Get(ctx, newClaim, metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, pvc.Spec.VolumeName, nc.Spec.VolumeName, "a new volume")

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
