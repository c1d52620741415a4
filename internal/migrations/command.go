package migrations

import (
	"context"
	"log/slog"

	"github.com/spacefleet/spacefleet/internal/db"
)

// RunCommand is the migrate subcommand: connect, apply, and succeed only when
// the schema is current.
func RunCommand(ctx context.Context, databaseURL string, log *slog.Logger) error {
	pool, err := db.Connect(ctx, databaseURL, "migrate", log)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := Migrate(ctx, pool, log)
	if err != nil {
		return db.Diagnose(err, databaseURL)
	}
	current, err := Current(ctx, pool)
	if err != nil {
		return db.Diagnose(err, databaseURL)
	}
	log.Info("schema is current", "applied", applied, "schema_version", current, "expected_version", Expected())
	return nil
}
