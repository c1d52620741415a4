//go:build e2e

package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// The harness runs kubectl and helm itself and port-forwards through client-go: a test library for this (terratest's
// k8s and helm modules) compiled the AWS SDK, a MySQL driver and more into the suites' binary, ~220 packages and
// ~300 s of CPU on a cold machine, for a dozen small calls.

// Kubectl is where kubectl and helm point: a kubeconfig, its context and a namespace ("" for none).
type Kubectl struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Verbose    bool // log every command and its output (redacted): SPACEFLEET_E2E_VERBOSE=1
}

// commandTimeout bounds one kubectl or helm run (helm's own --timeout for a --wait is 5m).
const commandTimeout = 15 * time.Minute

// flags are kubectl's global flags for k.
func (k *Kubectl) flags() []string {
	var f []string
	if k.Kubeconfig != "" {
		f = append(f, "--kubeconfig", k.Kubeconfig)
	}
	if k.Context != "" {
		f = append(f, "--context", k.Context)
	}
	if k.Namespace != "" {
		f = append(f, "--namespace", k.Namespace)
	}
	return f
}

// Run runs `kubectl ARGS...` (the kubectl on PATH: PrepareTools) and returns what it printed on stdout and stderr,
// interleaved as written, without the last newline.
func (k *Kubectl) Run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return runCombined(t, k.Verbose, "kubectl", append(k.flags(), args...)...)
}

// RestConfig is the client configuration of k's kubeconfig and context.
func (k *Kubectl) RestConfig() (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: k.Kubeconfig}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.Context}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
}

// Client is a Kubernetes client for k's kubeconfig and context.
func (k *Kubectl) Client() (kubernetes.Interface, error) {
	cfg, err := k.RestConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// helm runs `helm CMD` (v3, the helm on PATH) against k's cluster and namespace, the namespace unless ARGS name one.
func (k *Kubectl) helm(t testing.TB, cmd string, args ...string) (string, error) {
	t.Helper()
	full := []string{cmd, "--kubeconfig", k.Kubeconfig}
	if k.Context != "" {
		full = append(full, "--kube-context", k.Context)
	}
	if k.Namespace != "" && !slices.Contains(args, "--namespace") {
		full = append(full, "--namespace", k.Namespace)
	}
	return runCombined(t, false, "helm", append(full, args...)...)
}

// setStringArgs are --set-string flags for values, in key order (one command line for one set of values).
func setStringArgs(values map[string]string) []string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, "--set-string", k+"="+values[k])
	}
	return out
}

// runCombined runs NAME ARGS... and returns stdout and stderr as written (one pipe, so in order), without the last
// newline. On failure the error says how it ended and the last lines it printed (redacted, like the verbose log).
func runCombined(t testing.TB, verbose bool, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := strings.TrimSuffix(buf.String(), "\n")
	if verbose {
		Logf(t, "%s %s\n%s", name, strings.Join(args, " "), out)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (killed after %s)", err, commandTimeout)
		}
		return out, fmt.Errorf("%s %s: %w; %s", name, firstWord(args), err, Redact(tail(out, 5)))
	}
	return out, nil
}

// firstWord is the subcommand in an argument list (the first argument that is not a flag or a flag's value).
func firstWord(args []string) string {
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "--") {
			if !strings.Contains(args[i], "=") {
				i++ // the flag's value
			}
			continue
		}
		return args[i]
	}
	return ""
}

// forward port-forwards 127.0.0.1:<a free port> to port of pod in k's namespace (client-go's port-forward, as
// kubectl port-forward). It returns the local address and a close function that may be called more than once.
func (k *Kubectl) forward(pod string, port int) (string, func(), error) {
	cfg, err := k.RestConfig()
	if err != nil {
		return "", nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", nil, err
	}
	url := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(k.Namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	// local port 0: the port-forwarder picks a free port and reports it (GetPorts), no race with another test
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, err
	}
	var once sync.Once
	closeFn := func() { once.Do(func() { close(stop) }) }
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case err := <-done:
		if err == nil {
			err = fmt.Errorf("the port-forward ended before it was ready")
		}
		return "", nil, fmt.Errorf("port-forward to pod %s:%d: %w", pod, port, err)
	case <-ready:
	case <-time.After(time.Minute):
		closeFn()
		return "", nil, fmt.Errorf("port-forward to pod %s:%d: not ready after a minute", pod, port)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		closeFn()
		return "", nil, fmt.Errorf("port-forward to pod %s:%d: no local port (%v)", pod, port, err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), closeFn, nil
}
