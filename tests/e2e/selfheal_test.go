//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestSelfHeal: delete the bundled database pod of a running release. web turns unready (its readiness probe
// checks the database), comes back Ready on its own once the StatefulSet has recreated the database, and no
// container restarts (liveness never touches the database; pgxpool reconnects).
func TestSelfHeal(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-heal")
	rel := h.NewRelease(ns, release)
	res := rel.Install(t, []string{"dev.yaml"}, nil)
	require.NoError(t, res.Err, "helm install (bundled)")
	api := h.PortForward(t, ns, rel.Web())
	before := api.CreateShip(t, "before-"+h.RandHex(3))

	webPods := ns.Pods(t, rel.Selector("web"))
	require.Len(t, webPods, 1)
	webName := webPods[0].Name
	dbPod := rel.PostgresPod()
	old, err := ns.Client.CoreV1().Pods(ns.Name).Get(context.Background(), dbPod, metav1.GetOptions{})
	require.NoError(t, err)

	deleted := time.Now()
	require.NoError(t, ns.Client.CoreV1().Pods(ns.Name).Delete(context.Background(), dbPod, metav1.DeleteOptions{}))
	t.Logf("deleted %s", dbPod)

	err = h.Eventually(3*time.Minute, time.Second, func() (bool, error) {
		return ns.ReadyPods(t, rel.Selector("web")) == 0, fmt.Errorf("web still Ready")
	})
	require.NoError(t, err, "web must turn unready while its database is gone")
	unready := time.Since(deleted)
	t.Logf("web unready %s after the database pod was deleted", unready.Round(time.Second))

	err = h.Eventually(5*time.Minute, 2*time.Second, func() (bool, error) {
		p, err := ns.Client.CoreV1().Pods(ns.Name).Get(context.Background(), dbPod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.UID != old.UID && h.PodReady(p), fmt.Errorf("new database pod not Ready")
	})
	require.NoError(t, err, "the StatefulSet recreates the database pod")
	ns.WaitReadyPods(t, rel.Selector("web"), 1, 5*time.Minute)
	t.Logf("TIMING self-heal: web Ready again %s after the database pod was deleted", time.Since(deleted).Round(time.Second))

	for _, comp := range []string{"web", "worker"} {
		for _, p := range ns.Pods(t, rel.Selector(comp)) {
			assert.Zero(t, h.Restarts(&p), "%s container restarts", p.Name)
			if comp == "web" {
				assert.Equal(t, webName, p.Name, "the same web pod healed (not replaced)")
			}
		}
	}
	api = h.PortForward(t, ns, rel.Web())
	assert.Equal(t, before.Name, api.GetShip(t, before.ID).Name, "data survived (PVC kept)")
	api.CreateShip(t, "after-"+h.RandHex(3))
}
