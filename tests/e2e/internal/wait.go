//go:build e2e

package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// WaitCondition is the one way the suites wait for a Kubernetes condition (scripts/lib/wait.sh is the shell twin).
// It polls `kubectl get ARGS... -o json` until every object returned has status.conditions[type=cond] "True" and at
// least one object is returned. Anything not there yet keeps it waiting: the object missing (NotFound, an empty
// list), its status or conditions unset (a CRD just applied, a Certificate or a CloudNativePG Cluster just created),
// the API server briefly unreachable. At the deadline the error carries the last state it saw, per object.
//
// ARGS are what `kubectl get` takes, in kube's namespace: "crd/httproutes.gateway.networking.k8s.io",
// "certificate" (every Certificate of the namespace), "cluster/pg".
//
// Never `kubectl wait` on a condition: it fails at once ("status.conditions accessor error: <nil> is of the type
// <nil>") while the conditions are unset, a window of milliseconds that shows only under load. `make waits`
// refuses it anywhere in the repository.
func WaitCondition(t testing.TB, kube *Kubectl, cond string, timeout time.Duration, args ...string) error {
	t.Helper()
	var state string
	err := Eventually(timeout, 2*time.Second, func() (bool, error) {
		out, err := kubectlStdout(kube, append(append([]string{"get"}, args...), "-o", "json")...)
		if err != nil {
			state = "not there yet: " + firstLine(out, err)
			return false, nil
		}
		var ok bool
		ok, state = conditionState([]byte(out), cond)
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("%s not %s within %s; last state:\n  %s", strings.Join(args, " "), cond, timeout,
			strings.ReplaceAll(state, "\n", "\n  "))
	}
	return nil
}

// RequireCondition is WaitCondition that fails the test.
func RequireCondition(t testing.TB, kube *Kubectl, cond string, timeout time.Duration, args ...string) {
	t.Helper()
	if err := WaitCondition(t, kube, cond, timeout, args...); err != nil {
		t.Fatal(err)
	}
}

type kubeObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
	Items []kubeObject `json:"items"`
}

// conditionState reads `kubectl get -o json` output (one object or a List): done, and one line per object.
func conditionState(out []byte, cond string) (bool, string) {
	var o kubeObject
	if err := json.Unmarshal(out, &o); err != nil {
		return false, "unreadable kubectl output: " + err.Error()
	}
	objs := []kubeObject{o}
	if o.Items != nil || strings.HasSuffix(o.Kind, "List") {
		objs = o.Items
	}
	if len(objs) == 0 {
		return false, "no object yet"
	}
	done := true
	var lines []string
	for _, obj := range objs {
		name := obj.Kind + "/" + obj.Metadata.Name
		found := false
		var seen []string
		for _, c := range obj.Status.Conditions {
			seen = append(seen, c.Type+"="+c.Status)
			if c.Type != cond {
				continue
			}
			found = true
			if c.Status == "True" {
				lines = append(lines, name+": "+cond+"=True")
			} else {
				done = false
				lines = append(lines, fmt.Sprintf("%s: %s=%s reason=%s message=%s", name, cond, c.Status, c.Reason, c.Message))
			}
			break
		}
		if !found {
			done = false
			have := strings.Join(seen, ",")
			if have == "" {
				have = "unset"
			}
			lines = append(lines, fmt.Sprintf("%s: no %s condition yet (status.conditions: %s)", name, cond, have))
		}
	}
	return done, strings.Join(lines, "\n")
}

// kubectlStdout runs kubectl with kube's config, context and namespace; stdout only on success (a warning on
// stderr must not spoil the JSON), stdout and stderr on failure.
func kubectlStdout(kube *Kubectl, args ...string) (string, error) {
	full := kube.flags()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append(full, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func firstLine(out string, err error) string {
	s := strings.TrimSpace(out)
	if s == "" {
		s = err.Error()
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
