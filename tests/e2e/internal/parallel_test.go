//go:build e2e

package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Parallel writes the marker only once the function that started the parallel suites has returned (Go's "every
// sequential suite is done"), names the first suite resumed, and writes it once.
func TestParallelMarksTheEndOfTheExclusiveSuites(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "exclusive.done")
	old, had := os.LookupEnv("SPACEFLEET_E2E_EXCLUSIVE_DONE")
	os.Setenv("SPACEFLEET_E2E_EXCLUSIVE_DONE", marker)
	t.Cleanup(func() {
		if had {
			os.Setenv("SPACEFLEET_E2E_EXCLUSIVE_DONE", old)
		} else {
			os.Unsetenv("SPACEFLEET_E2E_EXCLUSIVE_DONE")
		}
	})
	t.Run("exclusive", func(t *testing.T) {}) // not parallel: runs to the end here
	t.Run("parallel-a", func(t *testing.T) { Parallel(t) })
	t.Run("parallel-b", func(t *testing.T) { Parallel(t) })
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the marker exists while sequential suites may still run (stat: %v)", err)
	}
	t.Cleanup(func() { // after the parallel subtests ran
		b, err := os.ReadFile(marker)
		if err != nil {
			t.Fatalf("no marker after the parallel suites resumed: %v", err)
		}
		if got := strings.TrimSpace(string(b)); got != t.Name()+"/parallel-a" && got != t.Name()+"/parallel-b" {
			t.Errorf("marker names %q, want one of the parallel suites", got)
		}
	})
}
