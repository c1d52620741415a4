package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/pgtest"
	"github.com/spacefleet/spacefleet/internal/web"
)

func logger(t *testing.T) *slog.Logger { return slog.New(slog.NewJSONHandler(t.Output(), nil)) }

type instance struct {
	base       string
	metricsURL string
	done       chan error
	stop       context.CancelFunc
	srv        *web.Server
}

// start serves a web.Server on a loopback port until the test ends.
func start(t *testing.T, cfg web.Config) *instance {
	t.Helper()
	if cfg.RateLimit == 0 {
		cfg.RateLimit, cfg.RateWindow = 1000, time.Minute
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	cfg.Component = "web"
	s, err := web.New(cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mctx, mcancel := context.WithCancel(context.Background())
	in := &instance{base: "http://" + ln.Addr().String(), metricsURL: "http://" + mln.Addr().String() + "/metrics",
		done: make(chan error, 1), stop: cancel, srv: s}
	go func() { in.done <- s.Serve(ctx, ln); s.Close() }()
	go func() { _ = s.ServeMetrics(mctx, mln) }()
	t.Cleanup(func() {
		cancel()
		<-in.done
		mcancel()
	})
	return in
}

func (in *instance) status(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, in.base+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitStatus polls path until it answers want.
func (in *instance) waitStatus(t *testing.T, path string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got int
	var body []byte
	for time.Since(start) < within {
		if got, body = in.status(t, "GET", path, ""); got == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s stayed %d (%s), want %d within %s", path, got, body, want, within)
	return 0
}

func TestHealthzWithDatabaseDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	in := start(t, web.Config{DatabaseURL: fmt.Sprintf("postgres://app:pw-not-logged@127.0.0.1:%d/app?sslmode=disable", port)})
	if code, _ := in.status(t, "GET", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("/healthz = %d with the database down, want 200", code)
	}
	code, body := in.status(t, "GET", "/readyz", "")
	if code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("connection refused")) {
		t.Fatalf("/readyz = %d %s, want 503 with the diagnosis", code, body)
	}
	if bytes.Contains(body, []byte("pw-not-logged")) {
		t.Fatal("/readyz leaks the password")
	}
}

func TestReadyzWaitsForHookMigrations(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable")
	in := start(t, web.Config{DatabaseURL: url, MigrationsViaHook: true})

	in.waitStatus(t, "/healthz", http.StatusOK, 5*time.Second)
	time.Sleep(500 * time.Millisecond) // give a (wrong) boot-time migration the chance to run
	if code, body := in.status(t, "GET", "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d %s before the hook ran, want 503", code, body)
	}
	var version int
	pool, err := db.Connect(context.Background(), url, "migrate", logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if version, err = migrations.Current(context.Background(), pool); err != nil || version != 0 {
		t.Fatalf("web migrated under SPACEFLEET_MIGRATIONS_VIA_HOOK=true (schema version %d, %v)", version, err)
	}
	if _, err := migrations.Migrate(context.Background(), pool, logger(t)); err != nil { // the hook Job
		t.Fatal(err)
	}
	in.waitStatus(t, "/readyz", http.StatusOK, 5*time.Second)
}

type ship struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

func TestShipsAPI(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	in := start(t, web.Config{DatabaseURL: srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable")})
	took := in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)
	t.Logf("MEASURE web start-to-ready in process (empty database, boot migrations): %s", took)

	code, body := in.status(t, "POST", "/api/ships", `{"name":"Rocinante"}`)
	if code != http.StatusCreated {
		t.Fatalf("create = %d %s", code, body)
	}
	var created ship
	if err := json.Unmarshal(body, &created); err != nil || created.ID == 0 || created.Name != "Rocinante" || created.Status != "pending" {
		t.Fatalf("created %s (%v)", body, err)
	}
	in.status(t, "POST", "/api/ships", `{"name":"Canterbury"}`)

	code, body = in.status(t, "GET", "/api/ships/"+strconv.FormatInt(created.ID, 10), "")
	var got ship
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil || got != created {
		t.Fatalf("get = %d %s, want %+v", code, body, created)
	}
	var list []ship
	if code, body = in.status(t, "GET", "/api/ships", ""); code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 2 {
		t.Fatalf("list = %d %s, want 2 ships", code, body)
	}
	for path, want := range map[string]int{"/api/ships/999999": 404, "/api/ships/abc": 400} {
		if code, _ := in.status(t, "GET", path, ""); code != want {
			t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}
	for _, bad := range []string{`{"name":""}`, `not json`} {
		if code, _ := in.status(t, "POST", "/api/ships", bad); code != 400 {
			t.Errorf("POST %s = %d, want 400", bad, code)
		}
	}
	var jobs int
	if err := srv.AdminConn(t, "app").QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE kind = 'commission'`).Scan(&jobs); err != nil || jobs != 2 {
		t.Fatalf("commission jobs = %d (%v), want one per ship", jobs, err)
	}
}

// The database goes away and comes back: readiness follows it, no restart.
func TestSelfHealing(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	in := start(t, web.Config{DatabaseURL: srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable")})
	in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)

	srv.Stop()
	in.waitStatus(t, "/readyz", http.StatusServiceUnavailable, 10*time.Second)
	if code, _ := in.status(t, "GET", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("/healthz = %d during the outage, want 200", code)
	}
	if code, _ := in.status(t, "GET", "/api/ships", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("API = %d during the outage, want 503", code)
	}

	srv.Restart(t)
	took := in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)
	t.Logf("ready again %s after the database came back", took)
	if code, body := in.status(t, "POST", "/api/ships", `{"name":"Tachi"}`); code != http.StatusCreated {
		t.Fatalf("create after recovery = %d %s", code, body)
	}
}

// SIGTERM (context cancel) lets an in-flight request finish, then stops.
func TestGracefulShutdown(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	in := start(t, web.Config{DatabaseURL: srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable")})
	in.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)

	// Hold a lock so GET /api/ships is still running when shutdown begins.
	admin := srv.AdminConn(t, "app")
	ctx := context.Background()
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE ships IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	inflight := make(chan int, 1)
	go func() {
		resp, err := http.Get(in.base + "/api/ships")
		if err != nil {
			inflight <- -1
			return
		}
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)
	in.stop()
	select {
	case err := <-in.done:
		t.Fatalf("server stopped (%v) with a request in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if code := <-inflight; code != http.StatusOK {
		t.Fatalf("in-flight request got %d, want 200", code)
	}
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil after graceful shutdown", err)
		}
		in.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := http.Get(in.base + "/healthz"); err == nil {
		t.Fatal("server still accepting connections after shutdown")
	}
}

// Two replicas with the postgres backend share one budget; with memory each has its own.
func TestRateLimitBackends(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	for _, tc := range []struct {
		backend string
		want200 int
	}{{"postgres", 5}, {"memory", 10}} {
		t.Run(tc.backend, func(t *testing.T) {
			cfg := web.Config{
				DatabaseURL:      srv.URL("localhost", srv.CreateDB(t, "rl_"+tc.backend), "sslmode=disable"),
				RateLimitBackend: tc.backend, RateLimit: 5, RateWindow: time.Hour,
			}
			a, b := start(t, cfg), start(t, cfg)
			a.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)
			b.waitStatus(t, "/readyz", http.StatusOK, 20*time.Second)
			ok, limited := 0, 0
			for i := range 10 {
				in := a
				if i%2 == 1 {
					in = b
				}
				switch code, body := in.status(t, "GET", "/api/ships", ""); code {
				case http.StatusOK:
					ok++
				case http.StatusTooManyRequests:
					limited++
				default:
					t.Fatalf("unexpected %d %s", code, body)
				}
			}
			if ok != tc.want200 || ok+limited != 10 {
				t.Fatalf("%s backend, 2 replicas, budget 5: %d allowed, %d limited; want %d allowed", tc.backend, ok, limited, tc.want200)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://x", "SPACEFLEET_MIGRATIONS_VIA_HOOK": "true", "SPACEFLEET_RATE_LIMIT_WINDOW": "30s"}
	cfg, err := web.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.MigrationsViaHook || cfg.Port != "8080" || cfg.RateLimit != 100 || cfg.RateWindow != 30*time.Second || cfg.RateLimitBackend != "memory" {
		t.Fatalf("config %+v", cfg)
	}
	env["SPACEFLEET_MIGRATIONS_VIA_HOOK"] = "yes please"
	if _, err := web.ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("an unparseable SPACEFLEET_MIGRATIONS_VIA_HOOK was accepted")
	}
}
