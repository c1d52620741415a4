package migrations_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/pgtest"
)

func TestEmbedded(t *testing.T) {
	all := migrations.All()
	for i, m := range all {
		if m.Version != i+1 || m.SQL == "" {
			t.Fatalf("migration %d is %+v: versions must be 1..n without gaps", i, m)
		}
	}
	if migrations.Expected() != len(all) {
		t.Fatalf("Expected() = %d, want %d", migrations.Expected(), len(all))
	}
}

func TestMigrateIdempotent(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(t.Output(), nil))
	pool, err := db.Connect(ctx, srv.URL("localhost", "", "sslmode=disable"), "migrate", log)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if v, err := migrations.Current(ctx, pool); err != nil || v != 0 {
		t.Fatalf("empty database: version %d, %v", v, err)
	}
	if n, err := migrations.Migrate(ctx, pool, log); err != nil || n != len(migrations.All()) {
		t.Fatalf("first run applied %d, %v", n, err)
	}
	if n, err := migrations.Migrate(ctx, pool, log); err != nil || n != 0 {
		t.Fatalf("second run applied %d, %v; want 0", n, err)
	}
	if _, ok, err := migrations.Ready(ctx, pool); !ok || err != nil {
		t.Fatalf("Ready = %v, %v after migrating", ok, err)
	}
	// A newer release's migration already applied (rollback): not an error.
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')`); err != nil {
		t.Fatal(err)
	}
	if n, err := migrations.Migrate(ctx, pool, log); err != nil || n != 0 {
		t.Fatalf("schema ahead of binary: applied %d, %v", n, err)
	}
}
