package harness

import (
	"os"
	"sync"
	"testing"
)

var exclusiveDone sync.Once

// Parallel is t.Parallel for a top-level suite. Go runs the suites that are not parallel (those that count failed
// requests or drain a node) one after another first, and resumes the parallel ones only when all of them are done;
// so when the first parallel suite resumes, the exclusive part of the run is over. Parallel then writes the file
// SPACEFLEET_E2E_EXCLUSIVE_DONE names, if any: .ci/run starts the floor suite and the README's demo (clusters of
// their own) then, beside the parallel suites, never beside a suite that counts failed requests.
func Parallel(t *testing.T) {
	t.Helper()
	t.Parallel()
	exclusiveDone.Do(func() {
		if p := os.Getenv("SPACEFLEET_E2E_EXCLUSIVE_DONE"); p != "" {
			if err := os.WriteFile(p, []byte(t.Name()+"\n"), 0o644); err != nil {
				t.Logf("writing %s: %v (the floor suite and the demo will start when make e2e ends)", p, err)
			}
		}
	})
}
