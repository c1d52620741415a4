//go:build e2e

package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// RandHex returns n random bytes as hex.
func RandHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// NewPassword returns a random password, registered for redaction.
func NewPassword() string {
	p := "pw" + RandHex(12)
	RegisterSecret(p)
	return p
}

// WriteValues writes values as a YAML file (mode 0600) in the test's temp dir and returns its path. Values
// holding credentials go through files, never --set: a command line is logged, a file's content is not.
func WriteValues(t testing.TB, name string, values map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Timer logs a test's wall time when it ends.
func Timer(t testing.TB) {
	t.Helper()
	start := time.Now()
	t.Cleanup(func() {
		status := "passed"
		if t.Failed() {
			status = "failed"
		} else if t.Skipped() {
			status = "skipped"
		}
		t.Logf("TIMING %s: wall time %s (%s)", t.Name(), time.Since(start).Round(time.Second), status)
	})
}

// Eventually polls cond every interval until it returns true or timeout passes; it returns the last error
// cond reported (nil on success).
func Eventually(timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = fmt.Errorf("condition not met within %s", timeout)
			} else {
				last = fmt.Errorf("condition not met within %s: %w", timeout, last)
			}
			return last
		}
		time.Sleep(interval)
	}
}

// Merge deep-merges maps into a new map (later maps win; nested maps merge, other values replace).
func Merge(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		for k, v := range m {
			if vm, ok := v.(map[string]any); ok {
				if om, ok := out[k].(map[string]any); ok {
					out[k] = Merge(om, vm)
					continue
				}
				out[k] = Merge(vm)
				continue
			}
			out[k] = v
		}
	}
	return out
}
