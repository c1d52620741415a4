package worker_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/metrics/metricstest"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/pgtest"
	"github.com/spacefleet/spacefleet/internal/worker"
)

type labels = map[string]string

// migrated returns a pool on a fresh, migrated database and an admin connection to it.
func migrated(t *testing.T) (*pgtest.Server, string, *pgxpool.Pool, *pgx.Conn) {
	t.Helper()
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable")
	pool, err := db.NewPool(url, "worker", logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Migrate(context.Background(), pool, logger(t)); err != nil {
		t.Fatal(err)
	}
	return srv, url, pool, srv.AdminConn(t, "app")
}

func exec(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// enqueue adds n ships with their commission jobs, due since `ago`.
func enqueue(t *testing.T, c *pgx.Conn, n int, ago time.Duration) {
	t.Helper()
	exec(t, c, `WITH s AS (INSERT INTO ships (name) SELECT 'ship-' || g FROM generate_series(1, $1) g RETURNING id)
		INSERT INTO jobs (kind, ship_id, run_at) SELECT 'commission', id, now() - make_interval(secs => $2) FROM s`, n, ago.Seconds())
}

// The queue families read the table at scrape time; the job counters follow what the worker committed.
func TestWorkerMetrics(t *testing.T) {
	_, url, pool, admin := migrated(t)
	reg := prometheus.NewRegistry()
	w := worker.New(worker.Config{DatabaseURL: url, PollInterval: 20 * time.Millisecond}, pool, logger(t), reg)

	enqueue(t, admin, 10, 30*time.Second)
	exec(t, admin, `INSERT INTO jobs (kind) VALUES ('teleport')`)
	f := metricstest.Gather(t, reg)
	if v := f.MustValue(t, "spacefleet_worker_queue_depth", nil); v != 11 {
		t.Errorf("queue depth %v, want 11", v)
	}
	if v := f.MustValue(t, "spacefleet_worker_queue_oldest_pending_age_seconds", nil); v < 30 || v > 300 {
		t.Errorf("oldest pending age %vs, want ≥ 30s", v)
	}
	if v := f.MustValue(t, "spacefleet_worker_jobs_processed_total", labels{"kind": "commission"}); v != 0 {
		t.Errorf("processed %v before the worker ran", v)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- w.Serve(ctx, ln) }()
	waitFor(t, 20*time.Second, "the queue to drain", func() bool {
		v, _ := metricstest.Gather(t, reg).Value("spacefleet_worker_queue_depth", nil)
		return v == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f = metricstest.Gather(t, reg)
	for _, c := range []struct {
		name   string
		labels labels
		want   float64
	}{
		{"spacefleet_worker_jobs_processed_total", labels{"kind": "commission"}, 10},
		{"spacefleet_worker_jobs_failed_total", labels{"kind": "unknown"}, 1},
		{"spacefleet_worker_jobs_failed_total", labels{"kind": "commission"}, 0},
		{"spacefleet_worker_jobs_retried_total", labels{"kind": "commission"}, 0},
		{"spacefleet_worker_queue_depth", nil, 0},
		{"spacefleet_worker_queue_oldest_pending_age_seconds", nil, 0},
		{"spacefleet_worker_queue_up", nil, 1},
	} {
		if got := f.MustValue(t, c.name, c.labels); got != c.want {
			t.Errorf("%s = %v, want %v", metricstest.String(c.name, c.labels), got, c.want)
		}
	}
}

// A failing attempt is recorded and the job retried later; it succeeds once the cause is gone, or fails for
// good after MaxAttempts. The work of a failed attempt is rolled back (savepoint), its record is not.
func TestRetry(t *testing.T) {
	_, url, pool, admin := migrated(t)
	reg := prometheus.NewRegistry()
	w := worker.New(worker.Config{DatabaseURL: url, MaxAttempts: 3, RetryBackoff: time.Millisecond}, pool, logger(t), reg)
	ctx := context.Background()
	exec(t, admin, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'dry dock flooded'; END $$`)
	exec(t, admin, `CREATE TRIGGER refuse BEFORE UPDATE ON ships FOR EACH ROW EXECUTE FUNCTION refuse()`)
	enqueue(t, admin, 1, time.Second)

	job := func() (status string, attempts int, lastErr string) {
		t.Helper()
		if err := admin.QueryRow(ctx, `SELECT status, attempts, coalesce(last_error, '') FROM jobs ORDER BY id DESC LIMIT 1`).
			Scan(&status, &attempts, &lastErr); err != nil {
			t.Fatal(err)
		}
		return
	}
	step := func() {
		t.Helper()
		time.Sleep(20 * time.Millisecond) // past the retry's run_at
		if did, err := w.ProcessOne(ctx); !did || err != nil {
			t.Fatalf("ProcessOne = %v, %v", did, err)
		}
	}
	step()
	if status, attempts, lastErr := job(); status != "queued" || attempts != 1 || !strings.Contains(lastErr, "dry dock flooded") {
		t.Fatalf("after a failed attempt: %s, %d attempts, %q; want queued for a retry", status, attempts, lastErr)
	}
	exec(t, admin, `DROP TRIGGER refuse ON ships`)
	step()
	if status, attempts, _ := job(); status != "done" || attempts != 2 {
		t.Fatalf("after the retry: %s, %d attempts; want done after 2", status, attempts)
	}

	exec(t, admin, `CREATE TRIGGER refuse BEFORE UPDATE ON ships FOR EACH ROW EXECUTE FUNCTION refuse()`)
	enqueue(t, admin, 1, time.Second)
	for range 3 {
		step()
	}
	if status, attempts, _ := job(); status != "failed" || attempts != 3 {
		t.Fatalf("a job that always fails: %s after %d attempts; want failed after 3", status, attempts)
	}
	if did, err := w.ProcessOne(ctx); did || err != nil {
		t.Fatalf("a failed job was picked up again: %v, %v", did, err)
	}
	f := metricstest.Gather(t, reg)
	for name, want := range map[string]float64{
		"spacefleet_worker_jobs_processed_total": 1, "spacefleet_worker_jobs_retried_total": 3, "spacefleet_worker_jobs_failed_total": 1,
	} {
		if got := f.MustValue(t, name, labels{"kind": "commission"}); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// blockShips locks every ship row from another transaction: a commission job then waits inside its
// transaction, in flight, until release is called.
func blockShips(t *testing.T, admin *pgx.Conn) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT id FROM ships FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// waitBlocked waits until a worker connection waits on a lock: its job is in flight.
func waitBlocked(t *testing.T, srv *pgtest.Server) {
	t.Helper()
	c := srv.AdminConn(t, "app")
	waitFor(t, 10*time.Second, "the worker to block on the ship lock", func() bool {
		var n int
		_ = c.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'spacefleet-worker' AND wait_event_type = 'Lock'`).Scan(&n)
		return n > 0
	})
}

func jobState(t *testing.T, admin *pgx.Conn) (status string, attempts int, shipStatus string) {
	t.Helper()
	if err := admin.QueryRow(context.Background(), `SELECT j.status, j.attempts, s.status FROM jobs j JOIN ships s ON s.id = j.ship_id`).
		Scan(&status, &attempts, &shipStatus); err != nil {
		t.Fatal(err)
	}
	return
}

// SIGTERM with a job in flight: the worker finishes it (within ShutdownTimeout), then stops.
func TestShutdownFinishesInFlightJob(t *testing.T) {
	srv, url, pool, admin := migrated(t)
	enqueue(t, admin, 1, 0)
	release := blockShips(t, admin)
	cancel, done := serveUntilCancelled(t, url, pool, 30*time.Second)
	waitBlocked(t, srv)
	cancel() // SIGTERM
	select {
	case err := <-done:
		t.Fatalf("worker stopped (%v) with its job in flight", err)
	case <-time.After(500 * time.Millisecond):
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop after finishing its job")
	}
	if status, attempts, ship := jobState(t, admin); status != "done" || attempts != 1 || ship != "commissioned" {
		t.Fatalf("in-flight job after shutdown: %s, %d attempts, ship %s; want done once", status, attempts, ship)
	}
}

// SIGTERM with a job that cannot finish within ShutdownTimeout: its transaction is rolled back, the job is
// back in the queue untouched, and the next worker does it exactly once.
func TestShutdownReturnsUnfinishedJob(t *testing.T) {
	srv, url, pool, admin := migrated(t)
	enqueue(t, admin, 1, 0)
	release := blockShips(t, admin)
	cancel, done := serveUntilCancelled(t, url, pool, 300*time.Millisecond)
	waitBlocked(t, srv)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not give its job back after the shutdown timeout")
	}
	if status, attempts, ship := jobState(t, admin); status != "queued" || attempts != 0 || ship != "pending" {
		t.Fatalf("unfinished job after shutdown: %s, %d attempts, ship %s; want queued, untouched", status, attempts, ship)
	}
	release()
	// The stopped worker's statement was cancelled on the server, which then rolls its transaction back and frees
	// the job's row (at once, or when it notices the closed connection).
	waitFor(t, 10*time.Second, "the next worker to take the job", func() bool {
		did, err := worker.ProcessOne(context.Background(), pool, logger(t))
		if err != nil {
			t.Fatalf("next worker: %v", err)
		}
		return did
	})
	if status, attempts, ship := jobState(t, admin); status != "done" || attempts != 1 || ship != "commissioned" {
		t.Fatalf("after the next worker: %s, %d attempts, ship %s; want done once", status, attempts, ship)
	}
}

// serveUntilCancelled runs worker.Serve with shutdownTimeout; cancel is its SIGTERM, done carries Serve's return.
func serveUntilCancelled(t *testing.T, url string, pool *pgxpool.Pool, shutdownTimeout time.Duration) (cancel context.CancelFunc, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() {
		done <- worker.Serve(ctx, worker.Config{DatabaseURL: url, PollInterval: 20 * time.Millisecond, ShutdownTimeout: shutdownTimeout}, pool, ln, logger(t))
	}()
	return cancel, done
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
}
