package render

import (
	"path/filepath"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The chart works as a dependency (issue 11): Helm always passes `global` to a subchart, and values reach it
// through the parent's `spacefleet:` key. ci-guards/12-subchart.sh renders the same umbrella with the helm 3 and 4
// CLIs.
func TestRendersAsASubchartOfAnUmbrella(t *testing.T) {
	res, err := chart.RenderUmbrella(filepath.Join(chart.Root(), "tests", "umbrella"), map[string]any{
		"global": map[string]any{"anotherTeamsKey": map[string]any{"x": 1}},
	})
	require.NoError(t, err)
	dep := res.Find("Deployment", "spacefleet-web")
	require.NotNil(t, dep, "the subchart's objects are rendered")
	d := dep.Typed.(*appsv1.Deployment)
	assert.Equal(t, int32(2), *d.Spec.Replicas, "values reach the subchart through the parent's spacefleet: key")
	assert.Equal(t, "mirror.example.com/spacefleet/spacefleet:0.1.0", d.Spec.Template.Spec.Containers[0].Image, "global.imageRegistry")
	assert.Contains(t, d.Spec.Template.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "platform-pull"}, "global.imagePullSecrets")
	assert.Nil(t, res.Find("StatefulSet", "spacefleet-postgresql"), "the parent turned the bundled database off")
}
