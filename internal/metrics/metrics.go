// Package metrics exposes Spacefleet's Prometheus metrics: one registry per process (web or worker), served
// on its own port (SPACEFLEET_METRICS_PORT) so that a Service, an Ingress or a NetworkPolicy written for the
// API never exposes it by accident. Families are listed in docs/app-contract.md.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Spacefleet metric name.
const Namespace = "spacefleet"

// Version is the release the binary was built as (-ldflags "-X ...internal/metrics.Version=0.1.0").
var Version = "dev"

// NewRegistry returns a registry with the Go runtime, process and build-info collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels say which build runs (version, Go version, VCS revision).",
	}, []string{"version", "goversion", "revision"})
	info.WithLabelValues(Version, runtime.Version(), revision()).Set(1)
	reg.MustRegister(info)
	return reg
}

func revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// Serve answers GET /metrics on ln until ctx ends. The scrape never fails as a whole: a collector that cannot
// reach the database leaves its families out and the rest is served.
func Serve(ctx context.Context, ln net.Listener, reg *prometheus.Registry, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, Registry: reg, Timeout: 10 * time.Second,
		ErrorLog: slogPrinter{log},
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Listen opens the metrics port: "" means metrics are off (nil listener, no error).
func Listen(port string) (net.Listener, error) {
	if port == "" {
		return nil, nil
	}
	return net.Listen("tcp", ":"+port)
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	parts := make([]string, len(v))
	for i, x := range v {
		if s, ok := x.(string); ok {
			parts[i] = s
		} else if e, ok := x.(error); ok {
			parts[i] = e.Error()
		}
	}
	p.log.Warn("metrics collection", "error", strings.Join(parts, " "))
}
