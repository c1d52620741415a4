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

// BenchmarkRenderNoSchema is the same render without values.schema.json: the difference is what validating the
// values against the schema costs (Helm compiles the schema on every render).
func BenchmarkRenderNoSchema(b *testing.B) {
	if _, err := chart.Load(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := chart.RenderWithoutSchema(map[string]any{}); err != nil {
			b.Fatal(err)
		}
	}
}
