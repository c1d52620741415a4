//go:build e2e

package harness

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NS is a namespace a test created; it is deleted when the test ends (unless SPACEFLEET_E2E_KEEP_NAMESPACES=1).
type NS struct {
	Name   string
	Env    *Env
	Kube   *Kubectl
	Client kubernetes.Interface
}

// NewNamespace creates "<prefix>-<random>" with a cleanup that dumps its state when the test failed and
// then deletes it.
func NewNamespace(t *testing.T, env *Env, prefix string) *NS {
	t.Helper()
	name := fmt.Sprintf("%s-%s", prefix, RandHex(3))
	kube := env.Kube(name)
	client, err := kube.Client()
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	_, err = client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"spacefleet.io/e2e": "true"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	ns := &NS{Name: name, Env: env, Kube: kube, Client: client}
	t.Cleanup(func() {
		if t.Failed() {
			ns.Dump(t)
		}
		if env.KeepNS {
			t.Logf("keeping namespace %s (SPACEFLEET_E2E_KEEP_NAMESPACES=1)", name)
			return
		}
		_ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	t.Logf("namespace %s", name)
	return ns
}

// Kubectl runs kubectl in the namespace and returns its combined output.
func (ns *NS) Kubectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return ns.Kube.Run(t, args...)
}

// Exec runs `kubectl exec ARGS...` in the namespace, with stdin when it is not empty (how a password reaches a pod
// without argv). stdout and stderr are kept apart: the result is what the command printed on stdout, and on failure
// stdout followed by stderr. kubectl's own client-side log lines (klog, e.g. "E1123 ... websocket.go:297] Unknown
// stream id 1, discarding message") are dropped, so they never end up in a value a test compares.
func (ns *NS) Exec(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	full := []string{"--kubeconfig", ns.Env.Kubeconfig}
	if ns.Env.KubeContext != "" {
		full = append(full, "--context", ns.Env.KubeContext)
	}
	full = append(append(full, "--namespace", ns.Name, "exec"), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ns.Env.Kubectl, full...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	return stdout.String() + klogLine.ReplaceAllString(stderr.String(), ""), err
}

// klogLine matches one line of kubectl's own logging: "E1123 03:53:07.280793   29357 websocket.go:297] ...".
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+ +\d+ [^ \]]+:\d+\] .*\n?`)

// Dump logs the namespace's pods, events and every container's log tail (redacted): the diagnosis of a failure.
func (ns *NS) Dump(t testing.TB) {
	t.Helper()
	out, _ := ns.Kubectl(t, "get", "all,pvc,configmap,secret", "-o", "wide")
	Logf(t, "---- %s: resources ----\n%s", ns.Name, out)
	out, _ = ns.Kubectl(t, "get", "events", "--sort-by=.lastTimestamp")
	Logf(t, "---- %s: events ----\n%s", ns.Name, tail(out, 40))
	pods, err := ns.Client.CoreV1().Pods(ns.Name).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			logs, _ := ns.Logs(t, p.Name, c.Name, 30)
			Logf(t, "---- %s: logs of %s/%s ----\n%s", ns.Name, p.Name, c.Name, logs)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Logs returns a container's log (the last tailLines lines when tailLines > 0).
func (ns *NS) Logs(t testing.TB, pod, container string, tailLines int64) (string, error) {
	opts := &corev1.PodLogOptions{Container: container}
	if tailLines > 0 {
		opts.TailLines = &tailLines
	}
	b, err := ns.Client.CoreV1().Pods(ns.Name).GetLogs(pod, opts).DoRaw(context.Background())
	return string(b), err
}

// KubectlLogs is `kubectl logs <ref>` (e.g. job/spacefleet-migrate): what the operator docs tell people to run.
func (ns *NS) KubectlLogs(t testing.TB, ref string, extra ...string) (string, error) {
	return ns.Kubectl(t, append([]string{"logs", ref}, extra...)...)
}

// Pods lists pods by label selector.
func (ns *NS) Pods(t testing.TB, selector string) []corev1.Pod {
	t.Helper()
	l, err := ns.Client.CoreV1().Pods(ns.Name).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods %q: %v", selector, err)
	}
	return l.Items
}

// ComponentSelector selects one chart component of a release.
func ComponentSelector(release, component string) string {
	return fmt.Sprintf("app.kubernetes.io/instance=%s,app.kubernetes.io/component=%s", release, component)
}

// PodReady reports the pod's Ready condition.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Restarts sums the restart counts of a pod's containers.
func Restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

// ReadyPods counts Ready pods for a selector.
func (ns *NS) ReadyPods(t testing.TB, selector string) int {
	n := 0
	for _, p := range ns.Pods(t, selector) {
		if PodReady(&p) {
			n++
		}
	}
	return n
}

// WaitReadyPods waits until exactly want pods match the selector and all are Ready.
func (ns *NS) WaitReadyPods(t testing.TB, selector string, want int, timeout time.Duration) {
	t.Helper()
	err := Eventually(timeout, 2*time.Second, func() (bool, error) {
		pods := ns.Pods(t, selector)
		ready := 0
		for _, p := range pods {
			if PodReady(&p) {
				ready++
			}
		}
		return ready == want && len(pods) == want, fmt.Errorf("%d/%d pods ready (%s)", ready, len(pods), selector)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Job returns a Job (nil when it does not exist).
func (ns *NS) Job(t testing.TB, name string) *batchv1.Job {
	t.Helper()
	j, err := ns.Client.BatchV1().Jobs(ns.Name).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get job %s: %v", name, err)
	}
	return j
}

// JobCondition reports whether the Job has condition typ=True.
func JobCondition(j *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// WaitJobComplete waits for the Job's Complete condition (failing fast on Failed).
func (ns *NS) WaitJobComplete(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	err := Eventually(timeout, 2*time.Second, func() (bool, error) {
		j := ns.Job(t, name)
		if j == nil {
			return false, fmt.Errorf("job %s does not exist", name)
		}
		if JobCondition(j, batchv1.JobFailed) {
			return false, fmt.Errorf("job %s failed", name)
		}
		return JobCondition(j, batchv1.JobComplete), fmt.Errorf("job %s not complete", name)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CreateSecret creates an Opaque Secret through the API (its data never appears on a command line or in a log).
func (ns *NS) CreateSecret(t testing.TB, name string, data map[string][]byte, mutate ...func(*corev1.Secret)) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeOpaque, Data: data}
	for _, m := range mutate {
		m(s)
	}
	if _, err := ns.Client.CoreV1().Secrets(ns.Name).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
}

// CreateConfigMap creates a ConfigMap.
func (ns *NS) CreateConfigMap(t testing.TB, name string, data map[string]string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	if _, err := ns.Client.CoreV1().ConfigMaps(ns.Name).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap %s: %v", name, err)
	}
}
