// Package worker processes the job queue kept in PostgreSQL. Jobs are claimed
// with FOR UPDATE SKIP LOCKED inside the transaction that completes them, so
// several workers never take the same job and a crashed worker's job returns
// to the queue when its transaction aborts. A job's work and its completion
// commit together: a job is done exactly once, or not at all.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacefleet/spacefleet/internal/config"
	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/metrics"
	"github.com/spacefleet/spacefleet/internal/migrations"
)

// Config is read from the environment described in docs/app-contract.md.
type Config struct {
	DatabaseURL       string
	Component         string
	Port              string
	MigrationsViaHook bool
	PollInterval      time.Duration
	// MetricsPort serves /metrics on its own listener ("": no metrics listener).
	MetricsPort string
	// ShutdownTimeout: after SIGTERM the job in flight gets this long to finish; past it, its transaction is
	// rolled back and the job returns to the queue for another worker.
	ShutdownTimeout time.Duration
	// MaxAttempts a failing job gets before it is marked failed (default 3).
	MaxAttempts int
	// RetryBackoff delays the next attempt of a failed job by attempts × RetryBackoff (default 10s).
	RetryBackoff time.Duration
}

// EnvKeys maps each env var the worker reads to the chart values key that renders it (for configuration errors).
var EnvKeys = map[string]string{
	"PORT":                           "worker.port",
	"SPACEFLEET_MIGRATIONS_VIA_HOOK": "migrations.viaHook",
	"SPACEFLEET_METRICS_PORT":        "metrics.port",
	"SPACEFLEET_SHUTDOWN_TIMEOUT":    "worker.shutdownTimeoutSeconds",
}

// ConfigFromEnv reads Config with the contract's defaults. An unusable value is a *config.Error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv, EnvKeys)
	c := Config{
		DatabaseURL:       getenv("DATABASE_URL"),
		Component:         r.String("SPACEFLEET_COMPONENT", "worker"),
		Port:              r.Port("PORT", "8081"),
		MigrationsViaHook: r.Bool("SPACEFLEET_MIGRATIONS_VIA_HOOK"),
		PollInterval:      time.Second,
		MetricsPort:       r.Port("SPACEFLEET_METRICS_PORT", ""),
		ShutdownTimeout:   r.Duration("SPACEFLEET_SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	return c.withDefaults(), r.Err()
}

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 10 * time.Second
	}
	return c
}

// Kinds are the job kinds this worker knows; metrics label any other kind "unknown".
var Kinds = []string{"commission"}

// Worker works the queue of one pool.
type Worker struct {
	cfg     Config
	pool    *pgxpool.Pool
	log     *slog.Logger
	metrics *metrics.Worker
}

// New builds a worker and registers its metrics on reg (nil: a private registry).
func New(cfg Config, pool *pgxpool.Pool, log *slog.Logger, reg prometheus.Registerer) *Worker {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	w := &Worker{cfg: cfg.withDefaults(), pool: pool, log: log}
	w.metrics = metrics.NewWorker(reg, append(slices.Clone(Kinds), "unknown"), w.QueueStats)
	return w
}

// Run serves the liveness endpoint on cfg.Port (and /metrics on cfg.MetricsPort) and works the queue until
// ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return err
	}
	mln, err := metrics.Listen(cfg.MetricsPort)
	if err != nil {
		ln.Close()
		return err
	}
	reg := metrics.NewRegistry()
	dbm := metrics.NewDB(reg)
	pool, err := db.NewPoolWith(cfg.DatabaseURL, cfg.Component, log, dbm.Hooks())
	if err != nil {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
		return err
	}
	defer pool.Close()
	dbm.Watch(pool)
	w := New(cfg, pool, log, reg)
	if mln != nil {
		go func() {
			if err := metrics.Serve(context.Background(), mln, reg, log); err != nil {
				log.Error("metrics server stopped", "error", err.Error())
			}
		}()
	}
	return w.Serve(ctx, ln)
}

// Serve is Run with an existing pool and listener (metrics on a private registry).
func Serve(ctx context.Context, cfg Config, pool *pgxpool.Pool, ln net.Listener, log *slog.Logger) error {
	return New(cfg, pool, log, nil).Serve(ctx, ln)
}

// Serve answers /healthz on ln and works the queue until ctx ends; the job in flight then finishes (or, after
// ShutdownTimeout, returns to the queue) before Serve returns.
func (w *Worker) Serve(ctx context.Context, ln net.Listener) error {
	cfg, log := w.cfg, w.log
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		// Process alive; the queue loop retries the database on its own.
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "error", err.Error())
		}
	}()
	log.Info("health endpoint listening", "addr", ln.Addr().String())
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	if err := migrations.Boot(ctx, w.pool, cfg.DatabaseURL, cfg.MigrationsViaHook, log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// Jobs run on a context SIGTERM does not cancel: the one in flight may finish. It is cancelled
	// ShutdownTimeout after SIGTERM, which rolls the job's transaction back: the job returns to the queue.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	stopTimer := context.AfterFunc(ctx, func() { time.AfterFunc(cfg.ShutdownTimeout, cancelJobs) })
	defer stopTimer()

	log.Info("processing jobs", "poll_interval", cfg.PollInterval.String(), "max_attempts", cfg.MaxAttempts)
	delay := cfg.PollInterval
	for {
		if ctx.Err() != nil {
			log.Info("stopped")
			return nil
		}
		did, err := w.ProcessOne(jobCtx)
		switch {
		case ctx.Err() != nil:
			switch {
			case did && err == nil:
				log.Info("finished the in-flight job after SIGTERM")
			case err != nil:
				log.Warn("in-flight job not finished within the shutdown timeout: rolled back, it returns to the queue",
					"shutdown_timeout", cfg.ShutdownTimeout.String(), "error", db.Diagnose(err, cfg.DatabaseURL).Error())
			}
			log.Info("stopped")
			return nil
		case err != nil:
			// Database outage: back off and let the pool reconnect.
			db.LogError(log, "job processing failed; backing off", db.Diagnose(err, cfg.DatabaseURL), "retry_in", delay.String())
			delay = min(delay*2, 30*time.Second)
		case did:
			delay = cfg.PollInterval
			continue // drain the queue without sleeping
		default:
			delay = cfg.PollInterval
		}
		select {
		case <-ctx.Done():
			log.Info("stopped")
			return nil
		case <-time.After(delay):
		}
	}
}

// ProcessOne claims and completes one due job with a default-configured worker; it reports whether there was one.
func ProcessOne(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (bool, error) {
	return New(Config{}, pool, log, nil).ProcessOne(ctx)
}

// errPermanent marks a job that no retry can fix.
var errPermanent = errors.New("permanent failure")

// ProcessOne claims and completes one due job; it reports whether there was one. A failing job is retried
// (attempts × RetryBackoff later) until MaxAttempts, then marked failed; a job that cannot succeed (unknown
// kind) fails at once. Any error returned means nothing was committed: the job is still queued.
func (w *Worker) ProcessOne(ctx context.Context) (bool, error) {
	did, kind, outcome := false, "", ""
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		var id int64
		var shipID *int64
		var attempts int
		err := tx.QueryRow(ctx, `SELECT id, kind, ship_id, attempts FROM jobs
			WHERE status = 'queued' AND run_at <= now()
			ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`).Scan(&id, &kind, &shipID, &attempts)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		// The job's work runs in a savepoint: a failing statement is undone without losing the claim, so the
		// failure can be recorded in the same transaction.
		jobErr := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return handle(ctx, sp, kind, shipID) })
		if ctx.Err() != nil {
			return ctx.Err() // shutdown deadline: roll back, the job stays queued
		}
		attempts++
		status, retryIn, lastErr := "done", time.Duration(0), (*string)(nil)
		switch {
		case jobErr == nil:
			outcome = metrics.JobDone
			w.log.Info("job done", "job_id", id, "kind", kind)
		case errors.Is(jobErr, errPermanent) || attempts >= w.cfg.MaxAttempts:
			status, outcome = "failed", metrics.JobFailed
			msg := jobErr.Error()
			lastErr = &msg
			w.log.Warn("job failed", "job_id", id, "kind", kind, "attempts", attempts, "error", msg)
		default:
			status, outcome = "queued", metrics.JobRetried
			retryIn = time.Duration(attempts) * w.cfg.RetryBackoff
			msg := jobErr.Error()
			lastErr = &msg
			w.log.Warn("job attempt failed; retrying later", "job_id", id, "kind", kind, "attempts", attempts,
				"retry_in", retryIn.String(), "error", msg)
		}
		_, err = tx.Exec(ctx, `UPDATE jobs SET status = $2, attempts = $3, last_error = $4,
				run_at = CASE WHEN $2 = 'queued' THEN now() + make_interval(secs => $5) ELSE run_at END,
				finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE now() END
			WHERE id = $1`, id, status, attempts, lastErr, retryIn.Seconds())
		did = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	if did {
		if !slices.Contains(Kinds, kind) {
			kind = "unknown"
		}
		w.metrics.Observe(kind, outcome) // counted once committed
	}
	return did, nil
}

// QueueStats reads the queue's depth and the age of its oldest due job.
func (w *Worker) QueueStats(ctx context.Context) (metrics.QueueStats, error) {
	var depth int
	var oldest float64
	err := w.pool.QueryRow(ctx, `SELECT count(*),
			coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)::float8
		FROM jobs WHERE status = 'queued'`).Scan(&depth, &oldest)
	return metrics.QueueStats{Depth: depth, OldestDue: time.Duration(oldest * float64(time.Second))}, err
}

func handle(ctx context.Context, tx pgx.Tx, kind string, shipID *int64) error {
	switch kind {
	case "commission":
		if shipID == nil {
			return fmt.Errorf("%w: commission job without ship_id", errPermanent)
		}
		_, err := tx.Exec(ctx, `UPDATE ships SET status = 'commissioned' WHERE id = $1`, *shipID)
		return err
	default:
		return fmt.Errorf("%w: unknown job kind %q", errPermanent, kind)
	}
}
