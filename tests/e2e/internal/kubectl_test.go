//go:build e2e

package harness

import (
	"reflect"
	"strings"
	"testing"
)

// What the suites read from a kubectl or helm run: both streams in the order written, without the last newline;
// on failure an error that says how it ended and what it printed last, with every password hidden.
func TestCommandOutputIsBothStreamsInOrderAndTheErrorSaysWhy(t *testing.T) {
	out, err := runCombined(t, false, "sh", "-c", "echo one; echo two >&2; echo three")
	if err != nil {
		t.Fatalf("a command that succeeds: %v", err)
	}
	if out != "one\ntwo\nthree" {
		t.Errorf("output %q, want stdout and stderr in order, without the last newline", out)
	}

	RegisterSecret("s3cret-for-the-test")
	out, err = runCombined(t, false, "sh", "-c", "echo progress; echo 'Error: password s3cret-for-the-test refused' >&2; exit 3")
	if err == nil {
		t.Fatal("a command that exits 3: no error")
	}
	if !strings.Contains(out, "progress") || !strings.Contains(out, "Error: password") {
		t.Errorf("output %q, want both streams", out)
	}
	msg := err.Error()
	for _, want := range []string{"sh -c", "exit status 3", "Error: password"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret-for-the-test") {
		t.Errorf("error %q shows the password", msg)
	}
}

func TestKubectlFlagsAndHelmValuesAreStable(t *testing.T) {
	k := &Kubectl{Kubeconfig: "/k", Context: "kind-x", Namespace: "ns"}
	if got, want := k.flags(), []string{"--kubeconfig", "/k", "--context", "kind-x", "--namespace", "ns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("flags %q, want %q", got, want)
	}
	if got := (&Kubectl{Kubeconfig: "/k"}).flags(); !reflect.DeepEqual(got, []string{"--kubeconfig", "/k"}) {
		t.Errorf("no context, no namespace: flags %q", got)
	}
	// one set of values, one command line: map order must not leak into it
	got := setStringArgs(map[string]string{"b": "2", "a": "1", "c.d": "x"})
	if want := []string{"--set-string", "a=1", "--set-string", "b=2", "--set-string", "c.d=x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("setStringArgs %q, want %q", got, want)
	}
	for args, want := range map[string]string{
		"--kubeconfig /k --context c --namespace n get pods": "get",
		"--wait=true apply -f x":                             "apply",
		"install --wait":                                     "install",
	} {
		if got := firstWord(strings.Fields(args)); got != want {
			t.Errorf("firstWord(%q) = %q, want %q", args, got, want)
		}
	}
}
