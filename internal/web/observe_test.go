package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/metrics/metricstest"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/pgtest"
	"github.com/spacefleet/spacefleet/internal/web"
)

type labels = map[string]string

// /metrics on its own listener, in the text format, with every family web promises (docs/app-contract.md),
// and values that follow what the server did.
func TestMetrics(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	in := start(t, web.Config{DatabaseURL: srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable"),
		RateLimitBackend: "postgres", RateLimit: 4, RateWindow: time.Hour})
	in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)

	// 4 allowed API requests (3 lists, 1 unknown ship), then 2 over budget; one path no route matches.
	for range 3 {
		if code, body := in.status(t, "GET", "/api/ships", ""); code != http.StatusOK {
			t.Fatalf("GET /api/ships = %d %s", code, body)
		}
	}
	in.status(t, "GET", "/api/ships/424242", "")
	for range 2 {
		if code, _ := in.status(t, "GET", "/api/ships", ""); code != http.StatusTooManyRequests {
			t.Fatalf("over budget: %d, want 429", code)
		}
	}
	in.status(t, "GET", "/no/such/path", "")

	f := metricstest.Scrape(t, in.metricsURL)
	for _, c := range []struct {
		name   string
		labels labels
		want   float64
	}{
		{"spacefleet_http_requests_total", labels{"route": "/api/ships", "method": "GET", "code": "200"}, 3},
		{"spacefleet_http_requests_total", labels{"route": "/api/ships", "method": "GET", "code": "429"}, 2},
		{"spacefleet_http_requests_total", labels{"route": "/api/ships/{id}", "method": "GET", "code": "404"}, 1},
		{"spacefleet_http_requests_total", labels{"route": "unmatched", "method": "GET", "code": "404"}, 1},
		{"spacefleet_http_request_duration_seconds", labels{"route": "/api/ships", "method": "GET"}, 5},
		{"spacefleet_http_requests_in_flight", nil, 0},
		{"spacefleet_rate_limit_requests_total", labels{"backend": "postgres", "decision": "allowed"}, 4},
		{"spacefleet_rate_limit_requests_total", labels{"backend": "postgres", "decision": "rejected"}, 2},
		{"spacefleet_rate_limit_requests_total", labels{"backend": "postgres", "decision": "unavailable"}, 0},
		{"spacefleet_db_up", nil, 1},
		{"spacefleet_db_schema_version", nil, float64(migrations.Expected())},
		{"spacefleet_db_schema_expected_version", nil, float64(migrations.Expected())},
		{"spacefleet_db_migrations_pending", nil, 0},
		{"spacefleet_build_info", labels{"version": "dev"}, 1},
	} {
		if got := f.MustValue(t, c.name, c.labels); got != c.want {
			t.Errorf("%s = %v, want %v", metricstest.String(c.name, c.labels), got, c.want)
		}
	}
	for _, name := range []string{"spacefleet_db_pool_acquires_total", "spacefleet_db_pool_total_connections", "spacefleet_db_pool_new_connections_total"} {
		if v := f.MustValue(t, name, nil); v < 1 {
			t.Errorf("%s = %v after serving requests, want ≥ 1", name, v)
		}
	}
	for _, name := range []string{"spacefleet_db_pool_acquired_connections", "spacefleet_db_pool_idle_connections", "spacefleet_db_pool_max_connections",
		"spacefleet_db_pool_empty_acquires_total", "spacefleet_db_pool_empty_acquire_wait_seconds_total", "spacefleet_db_pool_canceled_acquires_total",
		"go_goroutines", "process_cpu_seconds_total"} {
		f.MustValue(t, name, nil)
	}
	// Every diagnosis rule has its series from the start (an alert's rate() then sees the first error).
	causes := f.LabelValues("spacefleet_db_connection_errors_total", "cause")
	for _, rule := range db.RuleNames() {
		if v := f.MustValue(t, "spacefleet_db_connection_errors_total", labels{"cause": rule}); v != 0 {
			t.Errorf("connection errors %s = %v with a healthy database", rule, v)
		}
	}
	if len(causes) != len(db.RuleNames()) {
		t.Errorf("cause labels %v, want exactly the rule names %v", causes, db.RuleNames())
	}
}

// The database goes away: the scrape still answers, says the database is down, and counts the failed
// connections under their diagnosed cause.
func TestMetricsDatabaseDown(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	in := start(t, web.Config{DatabaseURL: srv.URL("127.0.0.1", srv.CreateDB(t, "app"), "sslmode=disable")})
	in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)
	srv.Stop()
	// Pooled connections first fail as server-unavailable (the server terminated them), then new
	// connections are refused: network.
	code, body := in.status(t, "GET", "/readyz", "")
	for i := 0; !bytes.Contains(body, []byte(`"cause":"connection-refused"`)) && i < 200; i++ {
		time.Sleep(50 * time.Millisecond)
		code, body = in.status(t, "GET", "/readyz", "")
	}
	if code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte(`"cause":"connection-refused"`)) {
		t.Fatalf("/readyz = %d %s, want 503 with cause connection-refused", code, body)
	}
	start := time.Now()
	f := metricstest.Scrape(t, in.metricsURL)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("scrape took %s with the database down", took)
	}
	if v := f.MustValue(t, "spacefleet_db_up", nil); v != 0 {
		t.Errorf("spacefleet_db_up = %v with the database stopped", v)
	}
	if _, ok := f.Value("spacefleet_db_schema_version", nil); ok {
		t.Error("schema_version reported while the database is unreachable")
	}
	if v := f.MustValue(t, "spacefleet_db_connection_errors_total", labels{"cause": "connection-refused"}); v < 1 {
		t.Errorf("connection errors{cause=network} = %v after refused connections", v)
	}
	if v := f.MustValue(t, "spacefleet_http_requests_total", labels{"route": "/readyz", "code": "503"}); v < 1 {
		t.Errorf("503 answers of /readyz not counted: %v", v)
	}
}

// SIGTERM: /readyz turns 503 at once while the API keeps answering (closing each connection) for
// ShutdownDelay; then the listener closes. Without the delay a request routed here before endpoints
// drop the pod would meet a closed port.
func TestShutdownDelay(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	const delay = 2 * time.Second
	in := start(t, web.Config{DatabaseURL: srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable"), ShutdownDelay: delay})
	in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)

	stopped := time.Now()
	in.stop()
	in.waitStatus(t, "/readyz", http.StatusServiceUnavailable, delay/2)
	if _, body := in.status(t, "GET", "/readyz", ""); !bytes.Contains(body, []byte(`"shutting_down":true`)) {
		t.Errorf("/readyz during shutdown: %s", body)
	}
	served := 0
	for time.Since(stopped) < delay*3/4 {
		resp, err := http.Get(in.base + "/api/ships")
		if err != nil {
			t.Fatalf("request %s after SIGTERM, within the %s delay: %v", time.Since(stopped), delay, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !resp.Close {
			t.Fatalf("during the delay: %d, Connection: close %v; want 200 and close", resp.StatusCode, resp.Close)
		}
		served++
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-in.done:
		in.done <- err
		t.Fatalf("Serve returned %v before the shutdown delay ended", err)
	default:
	}
	select {
	case err := <-in.done:
		in.done <- nil
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(delay + 10*time.Second):
		t.Fatal("server did not stop after the delay")
	}
	if took := time.Since(stopped); took < delay {
		t.Errorf("stopped %s after SIGTERM, before the %s delay", took, delay)
	}
	if _, err := net.DialTimeout("tcp", in.base[len("http://"):], time.Second); err == nil {
		t.Error("listener still open after shutdown")
	}
	t.Logf("served %d requests during the %s shutdown delay", served, delay)
}

func TestShutdownConfig(t *testing.T) {
	env := map[string]string{"SPACEFLEET_SHUTDOWN_DELAY": "7s", "SPACEFLEET_SHUTDOWN_TIMEOUT": "25s", "SPACEFLEET_METRICS_PORT": "9090"}
	cfg, err := web.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShutdownDelay != 7*time.Second || cfg.ShutdownTimeout != 25*time.Second || cfg.MetricsPort != "9090" {
		t.Fatalf("config %+v", cfg)
	}
	cfg, err = web.ConfigFromEnv(func(string) string { return "" })
	if err != nil || cfg.ShutdownDelay != 0 || cfg.ShutdownTimeout != 20*time.Second || cfg.MetricsPort != "" {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for k, v := range map[string]string{"SPACEFLEET_SHUTDOWN_DELAY": "-1s", "SPACEFLEET_SHUTDOWN_TIMEOUT": "0s"} {
		_, err := web.ConfigFromEnv(func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

// A database that accepts connections but never answers: the API answers 503 within its deadline instead
// of hanging.
func TestAPIDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and say nothing, like a blocked database
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	in := start(t, web.Config{DatabaseURL: fmt.Sprintf("postgres://app:pw@%s/app?sslmode=disable&connect_timeout=60", ln.Addr())})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", in.base+"/api/ships", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("API request against a silent database: %v after %s", err, time.Since(start))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	t.Logf("503 after %s against a silent database", time.Since(start).Round(time.Millisecond))
}
