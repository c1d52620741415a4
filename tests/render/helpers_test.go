package render

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// render renders with helm --set style overrides on top of optional example files; it fails the test on error.
func render(t *testing.T, files []string, set ...string) *chart.Result {
	t.Helper()
	res, err := chart.Render(chart.Options{Files: files, Set: set})
	require.NoError(t, err)
	return res
}

// renderErr renders and returns the error (nil when it rendered).
func renderErr(files []string, set ...string) error {
	_, err := chart.Render(chart.Options{Files: files, Set: set})
	return err
}

func example(name string) []string {
	return []string{filepath.Join(chart.Root(), "examples", "values", name)}
}

// external is the smallest valid external-database configuration, for tests about other things.
var external = []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db"}

// container returns the first container of a workload by component.
func container(t *testing.T, res *chart.Result, component string) corev1.Container {
	t.Helper()
	w, ok := res.Workloads()[component]
	require.Truef(t, ok, "no workload with component %q", component)
	require.NotEmpty(t, w.Pod.Containers)
	return w.Pod.Containers[0]
}

// dbClients are the three pods the product page says read DATABASE_URL, plus the `helm test` pod.
var dbClients = []string{"web", "worker", "migrate", "dbcheck"}

func lines(s string) []string { return strings.Split(s, "\n") }

func rawString(o chart.Object) string {
	b, _ := json.Marshal(o.Raw)
	return string(b)
}
