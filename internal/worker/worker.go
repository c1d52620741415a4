// Package worker processes the job queue kept in PostgreSQL. Jobs are claimed
// with FOR UPDATE SKIP LOCKED inside the transaction that completes them, so
// several workers never take the same job and a crashed worker's job returns
// to the queue when its transaction aborts.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spacefleet/spacefleet/internal/config"
	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/migrations"
)

// Config is read from the environment described in docs/app-contract.md.
type Config struct {
	DatabaseURL       string
	Component         string
	Port              string
	MigrationsViaHook bool
	PollInterval      time.Duration
}

// EnvKeys maps each env var the worker reads to the chart values key that renders it (for configuration errors).
var EnvKeys = map[string]string{
	"PORT":                           "worker.port",
	"SPACEFLEET_MIGRATIONS_VIA_HOOK": "migrations.viaHook",
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
	}
	return c, r.Err()
}

// Run serves the liveness endpoint on cfg.Port and works the queue until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return err
	}
	pool, err := db.NewPool(cfg.DatabaseURL, cfg.Component, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer pool.Close()
	return Serve(ctx, cfg, pool, ln, log)
}

// Serve is Run with an existing pool and listener.
func Serve(ctx context.Context, cfg Config, pool *pgxpool.Pool, ln net.Listener, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Process alive; the queue loop retries the database on its own.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
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

	if err := migrations.Boot(ctx, pool, cfg.DatabaseURL, cfg.MigrationsViaHook, log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	log.Info("processing jobs", "poll_interval", cfg.PollInterval.String())
	delay := cfg.PollInterval
	for {
		did, err := ProcessOne(ctx, pool, log)
		switch {
		case ctx.Err() != nil:
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

// ProcessOne claims and completes one due job; it reports whether there was one.
func ProcessOne(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (bool, error) {
	did := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id int64
		var kind string
		var shipID *int64
		err := tx.QueryRow(ctx, `SELECT id, kind, ship_id FROM jobs
			WHERE status = 'queued' AND run_at <= now()
			ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`).Scan(&id, &kind, &shipID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		did = true
		status, jobErr := "done", handle(ctx, tx, kind, shipID)
		var lastErr *string
		if jobErr != nil {
			status = "failed"
			msg := jobErr.Error()
			lastErr = &msg
			log.Warn("job failed", "job_id", id, "kind", kind, "error", msg)
		} else {
			log.Info("job done", "job_id", id, "kind", kind)
		}
		_, err = tx.Exec(ctx, `UPDATE jobs SET status = $2, attempts = attempts + 1, last_error = $3, finished_at = now() WHERE id = $1`,
			id, status, lastErr)
		return err
	})
	return did, err
}

func handle(ctx context.Context, tx pgx.Tx, kind string, shipID *int64) error {
	switch kind {
	case "commission":
		if shipID == nil {
			return errors.New("commission job without ship_id")
		}
		_, err := tx.Exec(ctx, `UPDATE ships SET status = 'commissioned' WHERE id = $1`, *shipID)
		return err
	default:
		return fmt.Errorf("unknown job kind %q", kind)
	}
}
