//go:build e2e

package harness

// Nodes of a multi-node kind cluster (a control plane and workers): where pods run, placing a pod on the control
// plane, and `kubectl drain` with what it reported.

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// Client is a Kubernetes client for the environment's cluster.
func (e *Env) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := e.Kube("").Client()
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	return c
}

// Workers are the cluster's nodes without the control-plane role, sorted by name.
func Workers(t testing.TB, env *Env) []string {
	t.Helper()
	nodes, err := env.Client(t).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	var out []string
	for _, n := range nodes.Items {
		if _, cp := n.Labels[controlPlaneLabel]; !cp {
			out = append(out, n.Name)
		}
	}
	sort.Strings(out)
	return out
}

// RequireWorkers skips the test unless the cluster has at least n workers (`make e2e` creates two: KIND_NODES=3).
func RequireWorkers(t testing.TB, env *Env, n int) []string {
	t.Helper()
	w := Workers(t, env)
	if len(w) < n {
		t.Skipf("needs %d worker nodes, the cluster has %d (make e2e KIND_NODES=3)", n, len(w))
	}
	return w
}

// OnControlPlane places a pod on the control-plane node (selector and toleration): off the workers a test drains
// or compares against. On a one-node cluster the control plane is the only node anyway.
func OnControlPlane(spec *corev1.PodSpec) {
	if spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	spec.NodeSelector[controlPlaneLabel] = ""
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: controlPlaneLabel, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
}

// PodsByNode counts the pods matching selector per node (pods not yet scheduled under "").
func (ns *NS) PodsByNode(t testing.TB, selector string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range ns.Pods(t, selector) {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName]++
		}
	}
	return out
}

// NodeOf is the node a pod runs on.
func (ns *NS) NodeOf(t testing.TB, pod string) string {
	t.Helper()
	p, err := ns.Client.CoreV1().Pods(ns.Name).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", pod, err)
	}
	return p.Spec.NodeName
}

// DrainResult is what `kubectl drain` did.
type DrainResult struct {
	Node     string
	Took     time.Duration
	Evicted  []string // names of the pods kubectl reported evicted
	Refusals int      // eviction attempts refused by a PodDisruptionBudget (kubectl retried them)
	Output   string
	Err      error
}

// Drain runs `kubectl drain NODE --ignore-daemonsets --delete-emptydir-data` (what an operator runs before node
// maintenance) and uncordons the node when the test ends.
func Drain(t testing.TB, env *Env, node string, timeout time.Duration) DrainResult {
	t.Helper()
	t.Cleanup(func() { Uncordon(t, env, node) })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.Kubectl, "--kubeconfig", env.Kubeconfig, "--context", env.KubeContext,
		"drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout", timeout.String())
	out, err := cmd.CombinedOutput()
	r := DrainResult{Node: node, Took: time.Since(start), Output: string(out), Err: err}
	sc := bufio.NewScanner(strings.NewReader(r.Output))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "violate the pod's disruption budget"):
			r.Refusals++
		case strings.HasPrefix(line, "pod/") && strings.HasSuffix(line, " evicted"):
			r.Evicted = append(r.Evicted, strings.TrimSuffix(strings.TrimPrefix(line, "pod/"), " evicted"))
		}
	}
	return r
}

// Uncordon makes the node schedulable again.
func Uncordon(t testing.TB, env *Env, node string) {
	t.Helper()
	if out, err := exec.Command(env.Kubectl, "--kubeconfig", env.Kubeconfig, "--context", env.KubeContext, "uncordon", node).CombinedOutput(); err != nil {
		t.Errorf("kubectl uncordon %s: %v\n%s", node, err, out)
	}
}

// ReadyWatch samples the number of Ready pods matching selector every 250 ms until stopped, keeping the minimum:
// whether a disruption ever took more pods down than a PodDisruptionBudget allows.
type ReadyWatch struct {
	mu      sync.Mutex
	min     int
	samples int
	stop    chan struct{}
	done    chan struct{}
}

// WatchReady starts sampling.
func (ns *NS) WatchReady(t testing.TB, selector string) *ReadyWatch {
	t.Helper()
	w := &ReadyWatch{min: -1, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			pods, err := ns.Client.CoreV1().Pods(ns.Name).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
			if err == nil {
				n := 0
				for i := range pods.Items {
					if PodReady(&pods.Items[i]) {
						n++
					}
				}
				w.mu.Lock()
				if w.min < 0 || n < w.min {
					w.min = n
				}
				w.samples++
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// Stop ends the sampling and returns the fewest Ready pods seen and the number of samples.
func (w *ReadyWatch) Stop() (minReady, samples int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.min, w.samples
}

func (r DrainResult) String() string {
	return fmt.Sprintf("drain %s: %s, %d pods evicted, %d evictions refused by a PodDisruptionBudget", r.Node, r.Took.Round(time.Second), len(r.Evicted), r.Refusals)
}
