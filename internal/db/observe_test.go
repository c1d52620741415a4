package db_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/pgtest"
)

// A connection the server terminates (what a restart or failover does to a pooled connection) is diagnosed
// as server-unavailable, not as an unrecognised error.
func TestServerUnavailable(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	pool, err := db.Connect(ctx, srv.URL("localhost", "", "sslmode=disable"), "test", logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, "postgres", `SELECT pg_terminate_backend($1)`, pid)
	_, err = conn.Exec(ctx, `SELECT 1`)
	wantDiagnosis(t, db.Diagnose(err, ""), srv, "server-unavailable", "57P01", "reconnect on their own")
}

// Every failed connection attempt of a pool reaches the hook with its diagnosed cause: the rule names the
// metrics count by.
func TestConnectErrorHook(t *testing.T) {
	names := db.RuleNames()
	for _, want := range []string{"network", "auth-failed", "server-unavailable", "version", db.Unrecognised} {
		if !slices.Contains(names, want) {
			t.Errorf("RuleNames() = %v, missing %q", names, want)
		}
	}
	var mu sync.Mutex
	causes := map[string]int{}
	hooks := db.Hooks{ConnectError: func(cause string) { mu.Lock(); causes[cause]++; mu.Unlock() }}
	count := func(cause string) int { mu.Lock(); defer mu.Unlock(); return causes[cause] }

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pool, err := db.NewPoolWith("postgres://app:pw@127.0.0.1:"+itoa(port)+"/app?sslmode=disable", "test", logger(t), hooks)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	pool.Close()
	if count("connection-refused") == 0 {
		t.Fatalf("connection refused not counted as connection-refused: %v", causes)
	}

	srv := pgtest.Start(t, pgtest.Options{})
	pool, err = db.NewPoolWith(srv.UserURL("postgres", "wrong-password", "localhost", "", "sslmode=disable"), "test", logger(t), hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err == nil {
		t.Fatal("ping with a wrong password succeeded")
	}
	if count("auth-failed") == 0 {
		t.Fatalf("wrong password not counted as auth-failed: %v", causes)
	}
}

// A statement whose context ends is cancelled on the server before the call returns: the backend no longer
// waits and its transaction's locks are gone when the caller moves on (a worker handing its job back), and the
// connection stays usable. pgx's default drops the client side first and cancels later, in the background.
func TestCancelReachesTheServer(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	srv.Exec(t, "postgres", `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)`)
	admin := srv.AdminConn(t, "postgres")
	ctx := context.Background()
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT * FROM t FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	pool, err := db.Connect(ctx, srv.URL("localhost", "", "sslmode=disable"), "canceltest", logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := pool.Exec(qctx, `UPDATE t SET id = 2 WHERE id = 1`); err == nil {
		t.Fatal("the update did not wait for the lock")
	}
	var waiting int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'spacefleet-canceltest' AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 {
		t.Fatalf("%d backends still wait on the lock after their client's call returned", waiting)
	}
	if s := pool.Stat(); s.TotalConns() != 1 || s.NewConnsCount() != 1 {
		t.Fatalf("the cancelled statement's connection was dropped (total %d, opened %d): want it kept", s.TotalConns(), s.NewConnsCount())
	}
}
