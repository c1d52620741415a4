// Package migrations holds the embedded, versioned schema and applies it under
// a PostgreSQL advisory lock, so concurrent migrators (a hook Job and pods, or
// several pods) serialise and the SQL runs exactly once.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed sql/*.sql
var files embed.FS

// lockKey is the advisory lock all migrators take ("spacefleet" in ASCII, as an int64).
const lockKey int64 = 0x73706163_65666c74

// Migration is one embedded SQL file named NNNN_description.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// All returns the embedded migrations in version order.
func All() []Migration {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		panic(err)
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("migrations: bad file name " + e.Name())
		}
		b, err := files.ReadFile(path.Join("sql", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Expected is the schema version this binary needs.
func Expected() int {
	all := All()
	return all[len(all)-1].Version
}

// Current returns the applied schema version (0 for an empty database).
func Current(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	// Two statements: a query naming a missing table fails at parse time, even in an untaken CASE branch.
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Migrate applies all pending migrations in one transaction holding a
// transaction-scoped advisory lock: a second migrator blocks on the lock, then
// sees the versions the first one recorded and has nothing left to do. It
// returns the number of migrations it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after Commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return 0, fmt.Errorf("take migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := Current(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	expected := Expected()
	if current > expected {
		// A newer release migrated already (e.g. during a rollback): additive
		// migrations keep the older schema usable, so do not fail the rollout.
		log.Warn("database schema is newer than this binary; nothing to apply", "schema_version", current, "binary_version", expected)
		return 0, tx.Commit(ctx)
	}
	applied := 0
	for _, m := range All() {
		if m.Version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return 0, fmt.Errorf("record migration %04d: %w", m.Version, err)
		}
		log.Info("applied migration", "version", m.Version, "name", m.Name)
		applied++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit migrations: %w", err)
	}
	return applied, nil
}

// Ready reports whether the schema is at least the version this binary expects.
func Ready(ctx context.Context, pool *pgxpool.Pool) (current int, ok bool, err error) {
	current, err = Current(ctx, pool)
	return current, err == nil && current >= Expected(), err
}
