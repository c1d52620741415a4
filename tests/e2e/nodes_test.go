//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// The suites of this file drain a worker: they are not parallel, so they run alone, before the parallel suites
// start, and no other suite's pods are evicted under them. Each uncordons its node when it ends.

// TestWorkerDrainUnderLoad: examples/values/prod-ha.yaml (3 web replicas, PodDisruptionBudget maxUnavailable 1,
// topology spread over kubernetes.io/hostname) on a control plane and two workers, the external database and the
// load generators on the control plane:
//  1. the spread is honoured: web runs on both workers, no worker more than one pod ahead of the other;
//  2. `kubectl drain` of the worker with the most web pods while the load generators run: no request fails, the
//     PodDisruptionBudget holds the drain (kubectl's evictions are refused while a replacement is not Ready, so
//     never fewer than 2 of 3 web pods are Ready), and every web pod ends up on the other worker.
func TestWorkerDrainUnderLoad(t *testing.T) {
	env := h.Load(t)
	workers := h.RequireWorkers(t, env, 2)
	h.WithoutNetworkPolicyController(t, env)
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{Place: h.OnControlPlane})
	ns := h.NewNamespace(t, env, "e2e-drain")
	rel := h.NewRelease(ns, release)
	// prod-ha's budget is 100 requests a minute, shared: the load generators send 80 a second
	values := h.Merge(externalTLS(t, pg, ns, "existingSecret"), map[string]any{"worker": map[string]any{"replicas": 1},
		"rateLimiting": map[string]any{"requests": 900000}})
	res := rel.Install(t, []string{"prod-ha.yaml"}, values)
	require.NoError(t, res.Err, "helm install -f examples/values/prod-ha.yaml")
	ns.WaitReadyPods(t, rel.Selector("web"), 3, 3*time.Minute)

	byNode := ns.PodsByNode(t, rel.Selector("web"))
	t.Logf("web pods per node: %v", byNode)
	var counts []int
	for _, w := range workers {
		counts = append(counts, byNode[w])
	}
	assert.Len(t, byNode, 2, "web runs on both workers and nowhere else (the control plane is tainted): %v", byNode)
	assert.NotContains(t, counts, 0, "a worker without a web pod: the topology spread was not honoured (%v)", byNode)
	assert.LessOrEqual(t, slices.Max(counts)-slices.Min(counts), 1, "maxSkew 1 over kubernetes.io/hostname: %v", byNode)

	target := workers[0]
	for _, w := range workers {
		if byNode[w] > byNode[target] {
			target = w
		}
	}
	require.GreaterOrEqual(t, byNode[target], 2, "the drained worker holds two web pods: the PodDisruptionBudget must hold the second eviction")
	url := fmt.Sprintf("http://%s/api/ships", rel.Web())
	a := h.StartLoadgenOn(t, ns, "drain-newconn-"+h.RandHex(2), h.OnControlPlane, append([]string{"-url", url}, loadFlags...)...)
	b := h.StartLoadgenOn(t, ns, "drain-keepalive-"+h.RandHex(2), h.OnControlPlane, append([]string{"-url", url, "-keepalive"}, loadFlags...)...)
	time.Sleep(5 * time.Second) // load before the drain

	watch := ns.WatchReady(t, rel.Selector("web"))
	start := time.Now()
	dr := h.Drain(t, env, target, 5*time.Minute)
	require.NoError(t, dr.Err, "kubectl drain %s:\n%s", target, dr.Output)
	ns.WaitReadyPods(t, rel.Selector("web"), 3, 3*time.Minute)
	replaced := time.Since(start)
	minReady, samples := watch.Stop()
	time.Sleep(5 * time.Second) // load after the drain
	ra, rb := a.Stop(t), b.Stop(t)

	t.Logf("MEASURE %s; all 3 web pods Ready again %s after it started; fewest Ready web pods during it: %d (%d samples)",
		dr, replaced.Round(time.Second), minReady, samples)
	checkNoFailures(t, "drain of "+target, dr.Took, ra, rb)
	webEvicted := 0
	for _, p := range dr.Evicted {
		if strings.HasPrefix(p, rel.Web()+"-") {
			webEvicted++
		}
	}
	assert.Equal(t, byNode[target], webEvicted, "kubectl drain evicted every web pod of %s:\n%s", target, dr.Output)
	assert.Positive(t, dr.Refusals, "no eviction was refused: the PodDisruptionBudget never held the drain back\n%s", dr.Output)
	assert.GreaterOrEqual(t, minReady, 2, "maxUnavailable 1 of 3: never fewer than 2 Ready web pods during the drain")
	after := ns.PodsByNode(t, rel.Selector("web"))
	assert.Zero(t, after[target], "no web pod on the drained (cordoned) node: %v", after)
}

// TestBundledDatabaseOnADrainedNode: the bundled database's volume is local (kind's local-path provisioner, like any
// node-local storage): its PersistentVolume is pinned to one node, so the pod cannot move. What the chart README
// ("Draining the node of the bundled database") tells an operator, asserted:
//   - `kubectl drain` of that node completes (the bundled database has no PodDisruptionBudget);
//   - the recreated postgresql-0 stays Pending: FailedScheduling, "didn't match PersistentVolume's node affinity"
//     (older schedulers: "had volume node affinity conflict");
//   - web stops being Ready (/readyz checks the database);
//   - `kubectl uncordon` of the node brings the database back there, with its data, and web Ready again.
func TestBundledDatabaseOnADrainedNode(t *testing.T) {
	env := h.Load(t)
	h.RequireWorkers(t, env, 2)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-dbdrain")
	rel := h.NewRelease(ns, release)
	res := rel.Install(t, []string{"dev.yaml"}, nil)
	require.NoError(t, res.Err, "helm install (bundled)")
	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "before-drain-"+h.RandHex(3))

	dbNode := ns.NodeOf(t, rel.PostgresPod())
	ctx := context.Background()
	pvc, err := ns.Client.CoreV1().PersistentVolumeClaims(ns.Name).Get(ctx, rel.PostgresPVC(), metav1.GetOptions{})
	require.NoError(t, err)
	pv, err := ns.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, pv.Spec.NodeAffinity, "the database's volume is node-local (PersistentVolume %s has a node affinity)", pv.Name)
	assert.Contains(t, fmt.Sprint(pv.Spec.NodeAffinity.Required), dbNode, "the volume is pinned to the database's node")
	old, err := ns.Client.CoreV1().Pods(ns.Name).Get(ctx, rel.PostgresPod(), metav1.GetOptions{})
	require.NoError(t, err)

	drainStart := time.Now()
	dr := h.Drain(t, env, dbNode, 5*time.Minute)
	require.NoError(t, dr.Err, "kubectl drain %s completes although the database cannot move:\n%s", dbNode, dr.Output)
	assert.Contains(t, dr.Evicted, rel.PostgresPod(), "the drain evicted the database pod")

	// What the operator sees: postgresql-0 recreated and Pending, the scheduler naming the volume's node affinity.
	var msg string
	err = h.Eventually(3*time.Minute, 2*time.Second, func() (bool, error) {
		p, err := ns.Client.CoreV1().Pods(ns.Name).Get(ctx, rel.PostgresPod(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				msg = c.Message
			}
		}
		return p.UID != old.UID && p.Status.Phase == corev1.PodPending && msg != "", fmt.Errorf("postgresql-0 is not (yet) the recreated, unschedulable pod: %s", p.Status.Phase)
	})
	require.NoError(t, err)
	t.Logf("postgresql-0 Pending: %s", msg)
	assert.True(t, namesVolumeAffinity(msg), "the scheduler names the volume's node affinity: %s", msg)
	assert.True(t, failedSchedulingEvent(t, ns, rel.PostgresPod()), "a FailedScheduling event names the volume's node affinity")

	// web: not Ready while the database is away (/readyz checks it)
	err = h.Eventually(3*time.Minute, 2*time.Second, func() (bool, error) {
		n := ns.ReadyPods(t, rel.Selector("web"))
		return n == 0, fmt.Errorf("%d web pods still Ready", n)
	})
	require.NoError(t, err, "web stops being Ready without its database")
	down := time.Since(drainStart)

	// What the operator does after the maintenance: uncordon. The database comes back on its node, with its data.
	start := time.Now()
	h.Uncordon(t, env, dbNode)
	ns.WaitReadyPods(t, rel.Selector("postgresql"), 1, 5*time.Minute)
	assert.Equal(t, dbNode, ns.NodeOf(t, rel.PostgresPod()), "the database returns to its volume's node")
	ns.WaitReadyPods(t, rel.Selector("web"), 1, 5*time.Minute)
	back := time.Since(start)
	api = h.PortForward(t, ns, rel.Web())
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "the row written before the drain is still there")
	t.Logf("MEASURE bundled database drain: %s; database unschedulable and web not Ready (%s after the drain began); uncordon -> database and web Ready in %s",
		dr, down.Round(time.Second), back.Round(time.Second))
}

// namesVolumeAffinity: the scheduler's reason for a pod whose volume is on another node, in the words of the
// versions CI runs (the chart README quotes both).
func namesVolumeAffinity(msg string) bool {
	return strings.Contains(msg, "didn't match PersistentVolume's node affinity") || strings.Contains(msg, "had volume node affinity conflict")
}

func failedSchedulingEvent(t *testing.T, ns *h.NS, pod string) bool {
	t.Helper()
	evs, err := ns.Client.CoreV1().Events(ns.Name).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + pod + ",reason=FailedScheduling"})
	require.NoError(t, err)
	for _, e := range evs.Items {
		if namesVolumeAffinity(e.Message) {
			return true
		}
	}
	return false
}
