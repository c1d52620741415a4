package render

import (
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
)

// BenchmarkRender is one in-process `helm install --dry-run` of the chart with its defaults, strict decode included.
func BenchmarkRender(b *testing.B) {
	if _, err := chart.Load(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := chart.Render(chart.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
