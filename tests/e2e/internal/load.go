//go:build e2e

package harness

// The in-cluster load generator (`spacefleet loadgen` in a pod of the app image), the Prometheus Operator CRDs,
// a metrics scrape through a port-forward, the Eviction API, and an interactive psql session that holds a lock.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/spacefleet/spacefleet/internal/loadgen"
	"github.com/spacefleet/spacefleet/internal/metrics/metricstest"
)

// Loadgen is a running `spacefleet loadgen` pod whose output is followed from the start, so its result is read
// even when the pod is deleted to stop it early (SIGTERM: the generator stops and prints its result).
type Loadgen struct {
	NS   *NS
	Name string
	done chan struct{}
	out  bytes.Buffer
	err  error
}

// StartLoadgen starts a loadgen pod with these flags and waits until it runs and its log is followed.
func StartLoadgen(t testing.TB, ns *NS, name string, args ...string) *Loadgen {
	t.Helper()
	return StartLoadgenOn(t, ns, name, nil, args...)
}

// StartLoadgenOn is StartLoadgen with the pod spec adjusted by place (e.g. OnControlPlane), when not nil.
func StartLoadgenOn(t testing.TB, ns *NS, name string, place func(*corev1.PodSpec), args ...string) *Loadgen {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "e2e-loadgen", "e2e-loadgen": name}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
				RunAsGroup: ptr.To[int64](65532), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "loadgen", Image: ns.Env.AppImage.String(), ImagePullPolicy: corev1.PullIfNotPresent,
				Args: append([]string{"loadgen"}, args...),
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	if place != nil {
		place(&pod.Spec)
	}
	ctx := context.Background()
	if _, err := ns.Client.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create loadgen pod %s: %v", name, err)
	}
	err := Eventually(3*time.Minute, time.Second, func() (bool, error) {
		p, err := ns.Client.CoreV1().Pods(ns.Name).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.Status.Phase != corev1.PodPending, fmt.Errorf("loadgen pod %s is %s", name, p.Status.Phase)
	})
	if err != nil {
		t.Fatal(err)
	}
	l := &Loadgen{NS: ns, Name: name, done: make(chan struct{})}
	stream, err := ns.Client.CoreV1().Pods(ns.Name).GetLogs(name, &corev1.PodLogOptions{Container: "loadgen", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatalf("follow the log of %s: %v", name, err)
	}
	go func() {
		defer close(l.done)
		defer stream.Close()
		_, l.err = io.Copy(&l.out, stream)
	}()
	t.Logf("loadgen %s started: %s", name, strings.Join(args, " "))
	return l
}

// Stop ends the generator early (SIGTERM) and returns its result.
func (l *Loadgen) Stop(t testing.TB) loadgen.Result {
	t.Helper()
	if err := l.NS.Client.CoreV1().Pods(l.NS.Name).Delete(context.Background(), l.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("stop loadgen %s: %v", l.Name, err)
	}
	return l.Wait(t, 2*time.Minute)
}

// Wait waits for the generator to end by itself (its -duration or -requests bound) and returns its result.
func (l *Loadgen) Wait(t testing.TB, timeout time.Duration) loadgen.Result {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(timeout):
		t.Fatalf("loadgen %s did not finish within %s", l.Name, timeout)
	}
	if r, ok := parseResult(l.out.String()); ok {
		return r
	}
	// A follow stream can end before a short-lived container's last line reaches it: read the finished log.
	var logs string
	err := Eventually(time.Minute, time.Second, func() (bool, error) {
		p, err := l.NS.Client.CoreV1().Pods(l.NS.Name).Get(context.Background(), l.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return false, fmt.Errorf("loadgen pod %s is %s", l.Name, p.Status.Phase)
		}
		logs, err = l.NS.Logs(t, l.Name, "loadgen", 0)
		return err == nil, err
	})
	if r, ok := parseResult(logs); err == nil && ok {
		return r
	}
	t.Fatalf("loadgen %s printed no result (stream error %v, %v):\n%s\n%s", l.Name, l.err, err, Redact(l.out.String()), Redact(logs))
	return loadgen.Result{}
}

// parseResult finds the generator's JSON line in its output.
func parseResult(out string) (loadgen.Result, bool) {
	var r loadgen.Result
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &r) == nil {
			found = true
		}
	}
	return r, found
}

// Summary is one line for the log and the report.
func Summary(r loadgen.Result) string {
	return fmt.Sprintf("%d requests in %.1fs: %d ok, %d failed %v %v; p50 %.1f ms, p99 %.1f ms, max %.1f ms; failure window %.2fs; samples %q",
		r.Requests, r.ElapsedS, r.OK, r.Failed, r.ByStatus, r.Errors, r.LatencyMS.P50, r.LatencyMS.P99, r.LatencyMS.Max, r.FailureWindow, r.Samples)
}

var crdOnce sync.Mutex

// ApplyPrometheusOperatorCRDs applies the ServiceMonitor and PrometheusRule CRDs (server-side: they are too big
// for client-side apply) from SPACEFLEET_E2E_PROM_CRDS (make e2e points it at the pinned prometheus-operator
// module's example/prometheus-operator-crd) and waits until they are Established.
func ApplyPrometheusOperatorCRDs(t testing.TB, env *Env) {
	t.Helper()
	dir := os.Getenv("SPACEFLEET_E2E_PROM_CRDS")
	if dir == "" {
		t.Fatal("SPACEFLEET_E2E_PROM_CRDS is not set: run the suites with `make e2e` (it downloads the pinned prometheus-operator module)")
	}
	crdOnce.Lock()
	defer crdOnce.Unlock()
	kube := env.Kube("")
	for _, crd := range []string{"servicemonitors", "prometheusrules"} {
		f := filepath.Join(dir, "monitoring.coreos.com_"+crd+".yaml")
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("CRD file: %v", err)
		}
		if out, err := kube.Run(t, "apply", "--server-side", "--force-conflicts", "--field-manager", "spacefleet-e2e", "-f", f); err != nil {
			t.Fatalf("kubectl apply --server-side %s: %v\n%s", f, err, out)
		}
		RequireCondition(t, kube, "Established", 2*time.Minute, "crd/"+crd+".monitoring.coreos.com")
	}
}

// ScrapePod scrapes /metrics of a pod through a port-forward to its metrics port.
func ScrapePod(t testing.TB, ns *NS, pod string, port int) metricstest.Families {
	t.Helper()
	var addr string
	var closeFn func()
	err := Eventually(time.Minute, 2*time.Second, func() (bool, error) {
		var err error
		addr, closeFn, err = ns.Kube.forward(pod, port)
		return err == nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	return metricstest.Scrape(t, "http://"+addr+"/metrics")
}

// Evict asks the Eviction API to evict a pod (what `kubectl drain` does). It returns whether the eviction was
// accepted; a PodDisruptionBudget refusal (429) is false, any other error fails the test.
func (ns *NS) Evict(t testing.TB, pod string) bool {
	t.Helper()
	err := ns.Client.PolicyV1().Evictions(ns.Name).Evict(context.Background(), &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns.Name}})
	switch {
	case err == nil:
		return true
	case apierrors.IsTooManyRequests(err):
		return false
	default:
		t.Fatalf("evict %s: %v", pod, err)
		return false
	}
}

// PsqlSession is an interactive psql in a database pod (local socket): statements go in one at a time, so a test
// can hold a transaction (and its locks) open for as long as it needs.
type PsqlSession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
	done  chan error
}

// StartPsql opens the session.
func StartPsql(t testing.TB, ns *NS, pod, container, user, db string) *PsqlSession {
	t.Helper()
	args := []string{"--kubeconfig", ns.Env.Kubeconfig}
	if ns.Env.KubeContext != "" {
		args = append(args, "--context", ns.Env.KubeContext)
	}
	args = append(args, "--namespace", ns.Name, "exec", "-i", pod, "-c", container, "--",
		"psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", db, "-At")
	s := &PsqlSession{cmd: exec.Command(ns.Env.Kubectl, args...), done: make(chan error, 1)}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("psql session: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { _ = s.stdin.Close(); _ = s.cmd.Process.Kill() })
	return s
}

// Send writes statements to the session.
func (s *PsqlSession) Send(t testing.TB, sql string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, sql+"\n"); err != nil {
		t.Fatalf("psql session: %v", err)
	}
}

// Close ends the input and waits for psql to exit; it fails the test when psql failed.
func (s *PsqlSession) Close(t testing.TB) string {
	t.Helper()
	_ = s.stdin.Close()
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("psql session: %v", err)
		}
		if err != nil {
			t.Fatalf("psql session failed: %v\n%s", err, Redact(s.out.String()))
		}
	case <-time.After(time.Minute):
		t.Fatal("psql session did not end")
	}
	return s.out.String()
}
