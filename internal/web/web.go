// Package web is the HTTP server: probes, a small ships API, rate limiting,
// boot-time migrations (or waiting for a hook to run them) and graceful shutdown.
package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacefleet/spacefleet/internal/config"
	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/metrics"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/ratelimit"
)

// Config is read from the environment described in docs/app-contract.md.
type Config struct {
	DatabaseURL       string
	Component         string
	Port              string
	MigrationsViaHook bool
	RateLimitBackend  string
	RateLimit         int
	RateWindow        time.Duration
	// MetricsPort serves /metrics on its own listener ("": no metrics listener).
	MetricsPort string
	// ShutdownDelay: after SIGTERM, keep serving (while /readyz says 503) this long, so endpoints, kube-proxy
	// and ingress controllers stop sending new requests before the listener closes.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests that follows.
	ShutdownTimeout time.Duration
	// TLSCertFile and TLSKeyFile, both set, make the server speak HTTPS only (reloading renewed files).
	TLSCertFile string
	TLSKeyFile  string
}

// EnvKeys maps each env var web reads to the chart values key that renders it (for configuration errors).
var EnvKeys = map[string]string{
	"PORT":                           "web.port",
	"SPACEFLEET_MIGRATIONS_VIA_HOOK": "migrations.viaHook",
	"SPACEFLEET_RATE_LIMIT_BACKEND":  "rateLimiting.backend",
	"SPACEFLEET_RATE_LIMIT_REQUESTS": "rateLimiting.requests",
	"SPACEFLEET_RATE_LIMIT_WINDOW":   "rateLimiting.window",
	"SPACEFLEET_METRICS_PORT":        "metrics.port",
	"SPACEFLEET_SHUTDOWN_DELAY":      "web.shutdownDelaySeconds",
	"SPACEFLEET_SHUTDOWN_TIMEOUT":    "web.shutdownTimeoutSeconds",
	"SPACEFLEET_TLS_CERT_FILE":       "web.tls",
	"SPACEFLEET_TLS_KEY_FILE":        "web.tls",
}

// ConfigFromEnv reads Config with the contract's defaults. An unusable value is a *config.Error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv, EnvKeys)
	c := Config{
		DatabaseURL:       getenv("DATABASE_URL"),
		Component:         r.String("SPACEFLEET_COMPONENT", "web"),
		Port:              r.Port("PORT", "8080"),
		MigrationsViaHook: r.Bool("SPACEFLEET_MIGRATIONS_VIA_HOOK"),
		RateLimitBackend:  r.OneOf("SPACEFLEET_RATE_LIMIT_BACKEND", "memory", "memory", "postgres"),
		RateLimit:         r.Int("SPACEFLEET_RATE_LIMIT_REQUESTS", 100, 1),
		RateWindow:        r.Duration("SPACEFLEET_RATE_LIMIT_WINDOW", time.Minute),
		MetricsPort:       r.Port("SPACEFLEET_METRICS_PORT", ""),
		ShutdownDelay:     r.DurationOrZero("SPACEFLEET_SHUTDOWN_DELAY", 0),
		ShutdownTimeout:   r.Duration("SPACEFLEET_SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	if err := r.Err(); err != nil {
		return c, err
	}
	var err error
	c.TLSCertFile, c.TLSKeyFile, err = tlsFiles(getenv)
	return c, err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Server serves the API over a pool.
type Server struct {
	cfg      Config
	pool     *pgxpool.Pool
	limiter  ratelimit.Limiter
	log      *slog.Logger
	registry *prometheus.Registry
	http     *metrics.HTTP
	rl       *metrics.RateLimit
	draining atomic.Bool // SIGTERM seen: /readyz answers 503 while the listener still serves
}

// requestTimeout bounds the database work of one API request: a database that stops answering gives a 503,
// never a request that hangs until the client gives up.
const requestTimeout = 5 * time.Second

// New builds the server; it does not touch the database.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	reg := metrics.NewRegistry()
	dbm := metrics.NewDB(reg)
	pool, err := db.NewPoolWith(cfg.DatabaseURL, cfg.Component, log, dbm.Hooks())
	if err != nil {
		return nil, err
	}
	dbm.Watch(pool)
	lim, err := ratelimit.New(cfg.RateLimitBackend, cfg.RateLimit, cfg.RateWindow, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Server{cfg: cfg, pool: pool, limiter: lim, log: log, registry: reg,
		http: metrics.NewHTTP(reg), rl: metrics.NewRateLimit(reg, or(cfg.RateLimitBackend, "memory"))}, nil
}

// Registry is the server's metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// ServeMetrics answers /metrics on ln until ctx ends.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	return metrics.Serve(ctx, ln, s.registry, s.log)
}

// Run listens on cfg.Port and serves until ctx ends (SIGTERM).
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := New(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		s.Close()
		return err
	}
	defer s.Close()
	if ln, err = s.TLSListener(ln); err != nil {
		ln.Close()
		return err
	}
	mln, err := metrics.Listen(cfg.MetricsPort)
	if err != nil {
		ln.Close()
		return err
	}
	if mln != nil {
		// The metrics listener outlives the API's drain (it stops with the process), so the last scrape sees it.
		go func() {
			if err := s.ServeMetrics(context.Background(), mln); err != nil {
				log.Error("metrics server stopped", "error", err.Error())
			}
		}()
	}
	return s.Serve(ctx, ln)
}

// TLSListener wraps ln in TLS when the config names a key pair (the pair must load now); otherwise it returns ln.
func (s *Server) TLSListener(ln net.Listener) (net.Listener, error) {
	if s.cfg.TLSCertFile == "" {
		return ln, nil
	}
	r, err := NewCertReloader(s.cfg.TLSCertFile, s.cfg.TLSKeyFile, s.log)
	if err != nil {
		return ln, err
	}
	return tls.NewListener(ln, r.TLSConfig()), nil
}

// Close releases the pool.
func (s *Server) Close() { s.pool.Close() }

// Serve boots (migrate or wait for the schema) in the background while serving
// probes on ln, then shuts down gracefully when ctx ends: in-flight requests
// finish, new connections are refused.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	bootCtx, stopBoot := context.WithCancel(ctx)
	defer stopBoot()
	go func() {
		if err := migrations.Boot(bootCtx, s.pool, s.cfg.DatabaseURL, s.cfg.MigrationsViaHook, s.log); err == nil {
			s.log.Info("ready", "schema_version", migrations.Expected())
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "https", s.cfg.TLSCertFile != "", "rate_limit_backend", s.cfg.RateLimitBackend)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop being ready, keep serving for ShutdownDelay (endpoints and every kube-proxy drop this pod meanwhile;
	// without it, requests routed here before they do meet a closed port), then drain and exit.
	s.draining.Store(true)
	srv.SetKeepAlivesEnabled(false) // each answer closes its connection, so keep-alive clients reconnect elsewhere
	s.log.Info("shutting down: not ready, still serving", "delay", s.cfg.ShutdownDelay.String())
	select {
	case err := <-errc:
		return err
	case <-time.After(s.cfg.ShutdownDelay):
	}
	s.log.Info("draining in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// Handler routes the probes and the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness only: never the database, so an outage does not restart pods.
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("POST /api/ships", s.limited(s.createShip))
	mux.Handle("GET /api/ships", s.limited(s.listShips))
	mux.Handle("GET /api/ships/{id}", s.limited(s.getShip))
	return s.http.Wrap(mux)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "shutting_down": true})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	current, ok, err := migrations.Ready(ctx, s.pool)
	switch {
	case err != nil:
		d := db.Diagnose(err, s.cfg.DatabaseURL)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": d.Error(), "cause": db.Cause(d)})
	case !ok:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "schema_version": current, "expected_version": migrations.Expected()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ready": true, "schema_version": current})
	}
}

// limited applies the per-client-IP budget and the request's database deadline. If the shared backend is
// unavailable the request is let through: the API needs the database anyway.
func (s *Server) limited(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		key, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			key = r.RemoteAddr
		}
		ok, err := s.limiter.Allow(r.Context(), key)
		switch {
		case err != nil:
			s.rl.Observe(metrics.Unavailable)
			s.log.Warn("rate limiter unavailable; allowing request", "error", db.Diagnose(err, s.cfg.DatabaseURL).Error())
		case !ok:
			s.rl.Observe(metrics.Rejected)
			w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RateWindow.Seconds())))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "rate limit exceeded"})
			return
		default:
			s.rl.Observe(metrics.Allowed)
		}
		h(w, r)
	})
}

// Ship is the API's resource.
type Ship struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) createShip(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"name\": \"...\"}"})
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name must be 1-100 characters"})
		return
	}
	var ship Ship
	// The ship and its commissioning job commit together, so the worker never misses one.
	err := pgx.BeginFunc(r.Context(), s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(r.Context(), `INSERT INTO ships (name) VALUES ($1) RETURNING id, name, status, created_at`, in.Name).
			Scan(&ship.ID, &ship.Name, &ship.Status, &ship.CreatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(r.Context(), `INSERT INTO jobs (kind, ship_id) VALUES ('commission', $1)`, ship.ID)
		return err
	})
	if err != nil {
		s.dbError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, ship)
}

func (s *Server) listShips(w http.ResponseWriter, r *http.Request) {
	rows, err := s.pool.Query(r.Context(), `SELECT id, name, status, created_at FROM ships ORDER BY id LIMIT 1000`)
	if err != nil {
		s.dbError(w, err)
		return
	}
	ships, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Ship, error) {
		var sh Ship
		err := row.Scan(&sh.ID, &sh.Name, &sh.Status, &sh.CreatedAt)
		return sh, err
	})
	if err != nil {
		s.dbError(w, err)
		return
	}
	if ships == nil {
		ships = []Ship{}
	}
	writeJSON(w, http.StatusOK, ships)
}

func (s *Server) getShip(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "id must be an integer"})
		return
	}
	var sh Ship
	err = s.pool.QueryRow(r.Context(), `SELECT id, name, status, created_at FROM ships WHERE id = $1`, id).
		Scan(&sh.ID, &sh.Name, &sh.Status, &sh.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "ship not found"})
		return
	}
	if err != nil {
		s.dbError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sh)
}

// dbError logs the diagnosis and answers 503 without leaking details.
func (s *Server) dbError(w http.ResponseWriter, err error) {
	db.LogError(s.log, "database error", db.Diagnose(err, s.cfg.DatabaseURL))
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database unavailable"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
