//go:build e2e

package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Ship is the API's resource.
type Ship struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// API talks to svc/<fullname>-web through a port-forward (kubectl port-forward svc/... semantics:
// one Ready pod behind the Service).
type API struct {
	Base   string
	client *http.Client
}

// PortForward opens a tunnel to port 80 of the Service; it is closed when the test ends.
func PortForward(t testing.TB, ns *NS, service string) *API {
	t.Helper()
	return &API{Base: "http://" + Tunnel(t, ns, service, 80), client: &http.Client{Timeout: 15 * time.Second}}
}

// Tunnel port-forwards a local port to port of the Service and returns "127.0.0.1:PORT"; closed when the test ends.
// `kubectl port-forward svc/...` semantics: one pod behind the Service. A port-forward is used only once it can be:
// it waits until the Service's pods are Ready and none is terminating (after `helm upgrade --wait` the old pods may
// still be shutting down, and a tunnel to one of them dies with it), then until the local end accepts a connection.
func Tunnel(t testing.TB, ns *NS, service string, port int) string {
	t.Helper()
	var addr string
	var closeFn func()
	err := Eventually(3*time.Minute, 2*time.Second, func() (bool, error) {
		pod, target, err := servicePod(ns, service, port)
		if err != nil {
			return false, err
		}
		if addr, closeFn, err = ns.Kube.forward(pod, target); err != nil {
			return false, err
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			closeFn()
			return false, fmt.Errorf("the tunnel's local end does not accept connections yet: %w", err)
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		t.Fatalf("port-forward svc/%s:%d: %v", service, port, err)
	}
	t.Cleanup(closeFn)
	return addr
}

// servicePod picks the pod a port-forward to port of the Service goes to, and the pod's port behind it, once the
// Service has settled: it exists, at least one of its pods is Ready, and none is terminating.
func servicePod(ns *NS, service string, port int) (string, int, error) {
	svc, err := ns.Client.CoreV1().Services(ns.Name).Get(context.Background(), service, metav1.GetOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("service %s: %w", service, err)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector).String()
	pods, err := ns.Client.CoreV1().Pods(ns.Name).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", 0, fmt.Errorf("pods of service %s: %w", service, err)
	}
	var ready *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil {
			return "", 0, fmt.Errorf("pod %s behind service %s is terminating", p.Name, service)
		}
		if ready == nil && PodReady(p) {
			ready = p
		}
	}
	if ready == nil {
		return "", 0, fmt.Errorf("no Ready pod behind service %s (%d pods)", service, len(pods.Items))
	}
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != port {
			continue
		}
		if sp.TargetPort.Type == intstr.String {
			for _, c := range ready.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal {
						return ready.Name, int(cp.ContainerPort), nil
					}
				}
			}
			return "", 0, fmt.Errorf("service %s port %d targets port %q, which pod %s does not name", service, port, sp.TargetPort.StrVal, ready.Name)
		}
		if sp.TargetPort.IntVal == 0 {
			return ready.Name, port, nil
		}
		return ready.Name, int(sp.TargetPort.IntVal), nil
	}
	return "", 0, fmt.Errorf("service %s has no port %d", service, port)
}

// Do sends a request and returns status and body.
func (a *API) Do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, a.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// CreateShip POSTs a ship and returns it (201 expected).
func (a *API) CreateShip(t testing.TB, name string) Ship {
	t.Helper()
	code, body, err := a.Do("POST", "/api/ships", map[string]string{"name": name})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST /api/ships: status %d, err %v, body %s", code, err, body)
	}
	var s Ship
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("POST /api/ships: %v in %s", err, body)
	}
	return s
}

// GetShip reads a ship back (200 expected).
func (a *API) GetShip(t testing.TB, id int64) Ship {
	t.Helper()
	code, body, err := a.Do("GET", fmt.Sprintf("/api/ships/%d", id), nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /api/ships/%d: status %d, err %v, body %s", id, code, err, body)
	}
	var s Ship
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("GET /api/ships/%d: %v in %s", id, err, body)
	}
	return s
}

// ClientPod is a busybox pod inside the cluster: the "one client" of the rate-limit and affinity checks.
type ClientPod struct {
	NS   *NS
	Name string
}

// NewClientPod starts a busybox pod and waits until it runs.
func NewClientPod(t testing.TB, ns *NS, name string) *ClientPod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "e2e-client", "e2e-client": name}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			SecurityContext:               &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65534), RunAsGroup: ptr.To[int64](65534), RunAsNonRoot: ptr.To(true)},
			Containers: []corev1.Container{{
				Name: "client", Image: ns.Env.BusyboxImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sleep", "86400"},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	if _, err := ns.Client.CoreV1().Pods(ns.Name).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create client pod: %v", err)
	}
	ns.WaitReadyPods(t, "e2e-client="+name, 1, 3*time.Minute)
	return &ClientPod{NS: ns, Name: name}
}

// Sh runs a shell script in the client pod.
func (c *ClientPod) Sh(t testing.TB, script string) (string, error) {
	return c.NS.Exec(t, "", c.Name, "--", "sh", "-c", script)
}

// BurstResult counts the answers of a burst.
type BurstResult struct {
	OK, Limited, Errors int
	FirstErrors         []string
}

// Burst sends n sequential GETs to url from this pod, each on a new connection (busybox wget), and counts
// 2xx, 429 and anything else. (Debian's busybox `wget -T` segfaults: `timeout 5 wget` instead.)
func (c *ClientPod) Burst(t testing.TB, url string, n int) BurstResult {
	t.Helper()
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1));
  if timeout 5 wget -q -O /dev/null %q 2>/tmp/err; then echo OK;
  elif grep -q ' 429 ' /tmp/err; then echo LIMITED;
  else echo "ERR $(tr '\n' ' ' </tmp/err)"; fi; done`, n, url)
	out, err := c.Sh(t, script)
	if err != nil {
		t.Fatalf("burst from %s: %v\n%s", c.Name, err, Redact(out))
	}
	var r BurstResult
	for _, l := range strings.Split(out, "\n") {
		switch l = strings.TrimSpace(l); {
		case l == "OK":
			r.OK++
		case l == "LIMITED":
			r.Limited++
		case strings.HasPrefix(l, "ERR"):
			r.Errors++
			if len(r.FirstErrors) < 3 {
				r.FirstErrors = append(r.FirstErrors, l)
			}
		}
	}
	return r
}
