package migrations

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spacefleet/spacefleet/internal/db"
)

// Boot is shared by web and worker: wait for the database (with backoff),
// then either migrate under the advisory lock or, when a hook owns
// migrations, wait until the schema is current.
func Boot(ctx context.Context, pool *pgxpool.Pool, databaseURL string, viaHook bool, log *slog.Logger) error {
	if err := db.WaitFor(ctx, log, databaseURL, "connect to database", pool.Ping); err != nil {
		return err
	}
	if viaHook {
		log.Info("skipping migrations: SPACEFLEET_MIGRATIONS_VIA_HOOK=true, the migrate hook Job applies them; unready until the schema is current",
			"expected_version", Expected())
		return db.WaitFor(ctx, log, databaseURL, "wait for schema", func(ctx context.Context) error {
			current, ok, err := Ready(ctx, pool)
			if err != nil {
				return err
			}
			if !ok {
				return &db.Pending{Reason: fmt.Sprintf("schema version %d, this binary expects %d: waiting for the migrate hook Job", current, Expected())}
			}
			return nil
		})
	}
	return db.WaitFor(ctx, log, databaseURL, "migrate", func(ctx context.Context) error {
		_, err := Migrate(ctx, pool, log)
		return err
	})
}

// ParseBool treats "" as false; anything else must be a Go bool.
func ParseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}
