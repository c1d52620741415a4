package worker_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/pgtest"
	"github.com/spacefleet/spacefleet/internal/worker"
)

func logger(t *testing.T) *slog.Logger { return slog.New(slog.NewJSONHandler(t.Output(), nil)) }

// Two workers drain one queue: every job is processed exactly once.
func TestWorkersShareTheQueue(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const ships = 60
	admin := srv.AdminConn(t, "app")
	var wg sync.WaitGroup
	var healthURL string
	for i := range 2 {
		pool, err := db.NewPool(url, "worker", logger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			healthURL = "http://" + ln.Addr().String() + "/healthz"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := worker.Config{DatabaseURL: url, PollInterval: 20 * time.Millisecond}
			if err := worker.Serve(ctx, cfg, pool, ln, logger(t)); err != nil {
				t.Errorf("worker: %v", err)
			}
		}()
	}
	// Wait for the boot migrations, then enqueue like the API does.
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := migrations.Current(ctx, admin)
		if err == nil && v == migrations.Expected() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers did not migrate (version %d, %v)", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := admin.Exec(ctx, `WITH s AS (INSERT INTO ships (name) SELECT 'ship-' || g FROM generate_series(1, $1) g RETURNING id)
		INSERT INTO jobs (kind, ship_id) SELECT 'commission', id FROM s`, ships); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(healthURL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("worker /healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	var done, attempts, commissioned int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'done'), coalesce(sum(attempts), 0),
			(SELECT count(*) FROM ships WHERE status = 'commissioned') FROM jobs`).Scan(&done, &attempts, &commissioned); err != nil {
			t.Fatal(err)
		}
		if done == ships {
			break
		}
	}
	if done != ships || attempts != ships || commissioned != ships {
		t.Fatalf("jobs done %d, attempts %d, ships commissioned %d; want %d each (every job exactly once)", done, attempts, commissioned, ships)
	}
	cancel()
	wg.Wait()
}

func TestUnknownJobFails(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	pool, err := db.Connect(ctx, srv.URL("localhost", "", "sslmode=disable"), "worker", logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrations.Migrate(ctx, pool, logger(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO jobs (kind) VALUES ('teleport')`); err != nil {
		t.Fatal(err)
	}
	did, err := worker.ProcessOne(ctx, pool, logger(t))
	if err != nil || !did {
		t.Fatalf("ProcessOne = %v, %v", did, err)
	}
	var status, lastErr string
	if err := pool.QueryRow(ctx, `SELECT status, last_error FROM jobs`).Scan(&status, &lastErr); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || lastErr == "" {
		t.Fatalf("unknown job: status %q, last_error %q", status, lastErr)
	}
	if did, err := worker.ProcessOne(ctx, pool, logger(t)); did || err != nil {
		t.Fatalf("empty queue: ProcessOne = %v, %v", did, err)
	}
}
