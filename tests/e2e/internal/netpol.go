//go:build e2e

package harness

// NetworkPolicy enforcement for the suites that need it: the controller (images/netpol, installed by
// images/netpol/install.sh while a suite holds it) and probe pods that report whether a TCP connection opens, is
// refused, or times out. Every failure of a NetworkPolicy setup fails open, so a test must see a connection that
// does NOT open.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var (
	netpolMu    sync.Mutex
	netpolUsers int // suites of this test binary holding the controller (InstallNetworkPolicyController)
)

// InstallNetworkPolicyController installs kube-network-policies into the cluster and returns once it enforces. It
// is held for the calling test: the last holder's cleanup removes it again, so no suite that comes later runs beside
// it by accident (see WithoutNetworkPolicyController). Idempotent: a second holder finds it running.
func InstallNetworkPolicyController(t testing.TB, env *Env) {
	t.Helper()
	if env.Kind == "" || env.NetpolImage == "" {
		t.Fatal("SPACEFLEET_E2E_KIND and SPACEFLEET_E2E_NETPOL_IMAGE must be set (make e2e sets them)")
	}
	netpolMu.Lock()
	defer netpolMu.Unlock()
	if netpolUsers == 0 {
		script := filepath.Join(RepoRoot(), "images", "netpol", "install.sh")
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, env.Cluster)
		cmd.Env = append(os.Environ(), "KIND="+env.Kind, "KUBECTL="+env.Kubectl, "KUBECONFIG="+env.Kubeconfig,
			"KUBE_CONTEXT="+env.KubeContext, "NETPOL_IMAGE="+env.NetpolImage)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("install the NetworkPolicy controller: %v\n%s", err, b)
		}
		t.Logf("TIMING netpol-controller install-to-Ready: %s\n%s", time.Since(start).Round(time.Second), strings.TrimSpace(string(b)))
	} else {
		t.Logf("the NetworkPolicy controller is already enforcing (held by %d other suite(s))", netpolUsers)
	}
	netpolUsers++
	t.Cleanup(func() {
		netpolMu.Lock()
		defer netpolMu.Unlock()
		if netpolUsers--; netpolUsers == 0 {
			uninstallNetworkPolicyController(t, env)
		}
	})
}

// WithoutNetworkPolicyController is for the suites that count failed requests: while the controller runs, the first
// packet of EVERY new forwarded connection in the cluster waits for its userspace verdict: new connections cost ~3x
// (p50 3 ms -> 10 ms, measured) and on a loaded machine can stall past a 5 s timeout (a run on a cluster an earlier
// run had left it in failed 15 of 589 requests: "connect-timeout", "lookup spacefleet-web: i/o timeout"). It removes a
// controller left running (a kept cluster, E2E_KEEP=1) and refuses to run beside a suite of this binary holding it.
func WithoutNetworkPolicyController(t testing.TB, env *Env) {
	t.Helper()
	netpolMu.Lock()
	defer netpolMu.Unlock()
	if netpolUsers > 0 {
		t.Fatalf("the NetworkPolicy controller is held by %d running suite(s): a suite counting failed requests must not run beside it", netpolUsers)
	}
	out, err := kubectlStdout(env.Kube("kube-system"), "get", "daemonset", "kube-network-policies", "--ignore-not-found", "-o", "name")
	if err != nil {
		t.Fatalf("look for a NetworkPolicy controller: %v", err)
	}
	if strings.TrimSpace(out) != "" {
		t.Logf("removing the NetworkPolicy controller an earlier run left in this cluster (it would stall new connections)")
		uninstallNetworkPolicyController(t, env)
	}
}

// uninstallNetworkPolicyController removes the controller's DaemonSet and waits until its pods are gone. Its
// NFQUEUE rule stays on the nodes, inert: it was added with --queue-bypass, so with nobody bound to the queue the
// kernel accepts every packet itself. Called with netpolMu held.
func uninstallNetworkPolicyController(t testing.TB, env *Env) {
	t.Helper()
	kube := env.Kube("kube-system")
	if out, err := kube.Run(t, "delete", "daemonset", "kube-network-policies", "--ignore-not-found", "--wait=true", "--timeout=2m"); err != nil {
		t.Errorf("delete the NetworkPolicy controller: %v\n%s", err, out)
		return
	}
	err := Eventually(2*time.Minute, time.Second, func() (bool, error) {
		out, err := kubectlStdout(kube, "get", "pods", "-l", "app=kube-network-policies", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "", fmt.Errorf("controller pods left: %s %v", out, err)
	})
	if err != nil {
		t.Errorf("uninstall the NetworkPolicy controller: %v", err)
	}
}

// Probe outcomes.
const (
	Open    = "open"    // the TCP handshake completed
	Timeout = "timeout" // no answer: what a NetworkPolicy drop looks like
	Refused = "refused" // RST: something answered (no policy drop, nothing listening)
)

// ProbePod is a pod of the PostgreSQL image (bash, pg_isready) with chosen labels: NetworkPolicies select pods by
// label, so its labels decide whether it stands inside or outside the release.
type ProbePod struct {
	NS   *NS
	Name string
}

// NewProbePod starts the pod and waits until it runs; place, when given, adjusts its spec (e.g. OnControlPlane).
func NewProbePod(t testing.TB, ns *NS, name string, labels map[string]string, place ...func(*corev1.PodSpec)) *ProbePod {
	t.Helper()
	l := map[string]string{"e2e-probe": name}
	for k, v := range labels {
		l[k] = v
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](999), RunAsGroup: ptr.To[int64](999),
				RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "probe", Image: ns.Env.PGImage.String(), ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sleep", "86400"},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	for _, p := range place {
		p(&pod.Spec)
	}
	if _, err := ns.Client.CoreV1().Pods(ns.Name).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create probe pod %s: %v", name, err)
	}
	ns.WaitReadyPods(t, "e2e-probe="+name, 1, 3*time.Minute)
	return &ProbePod{NS: ns, Name: name}
}

// probeScript opens a TCP connection with bash's /dev/tcp under `timeout` and prints one word: open, timeout
// (124: killed while the SYN went unanswered) or refused; anything else is printed as it is (DNS errors...).
const probeScript = `out=$(timeout "$2" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$0" "$1" 2>&1); rc=$?
case $rc in 0) echo open ;; 124) echo timeout ;; *) case $out in *"Connection refused"*) echo refused ;; *) echo "rc=$rc $out" ;; esac ;; esac`

// TCP reports what a connection from this pod to host:port does within wait.
func (p *ProbePod) TCP(t testing.TB, host string, port int, wait time.Duration) string {
	t.Helper()
	out, err := p.NS.Exec(t, "", p.Name, "--", "bash", "-c", probeScript, host, fmt.Sprint(port), fmt.Sprint(int(wait.Seconds())))
	out = strings.TrimSpace(out)
	if err != nil {
		return fmt.Sprintf("exec error %v: %s", err, out)
	}
	return out
}

// PgIsReady runs pg_isready against host:port: "accepting connections" when the server answered, "no response"
// when nothing did (the connection was dropped).
func (p *ProbePod) PgIsReady(t testing.TB, host string, port int, wait time.Duration) string {
	t.Helper()
	out, _ := p.NS.Exec(t, "", p.Name, "--", "pg_isready", "-h", host, "-p", fmt.Sprint(port), "-t", fmt.Sprint(int(wait.Seconds())))
	return strings.TrimSpace(out)
}

// EventuallyTCP polls until the probe reports want (a new pod is only known to the policy controller once the
// API server has its IP) and returns the last outcome.
func (p *ProbePod) EventuallyTCP(t testing.TB, host string, port int, want string, timeout time.Duration) string {
	t.Helper()
	var got string
	_ = Eventually(timeout, time.Second, func() (bool, error) {
		got = p.TCP(t, host, port, 3*time.Second)
		return got == want, nil
	})
	return got
}

// NetworkPolicyControllerLogs returns the controller's recent log (one line per verdict at --v=2).
func NetworkPolicyControllerLogs(t testing.TB, env *Env) string {
	out, err := env.Kube("kube-system").Run(t, "logs", "-l", "app=kube-network-policies",
		"-c", "kube-network-policies", "--tail=80")
	if err != nil {
		return err.Error()
	}
	return out
}
