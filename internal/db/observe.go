package db

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Unrecognised is the cause label of a connection error no rule matched.
const Unrecognised = "unrecognised"

// RuleNames lists every cause a connection error can be counted under: the diagnosis rules in order, then
// Unrecognised. Metrics pre-create one series per name so an alert's rate() sees the first error.
func RuleNames() []string {
	names := make([]string, 0, len(rules)+2)
	for _, r := range rules {
		names = append(names, r.name)
	}
	return append(names, Unrecognised)
}

// Cause is the rule name a diagnosed error is counted under (Unrecognised when no rule matched).
func Cause(err error) string {
	if k := Kind(err); k != "" {
		return k
	}
	return Unrecognised
}

// Hooks observe the pool's connections.
type Hooks struct {
	// ConnectError is called with the diagnosed cause of every failed connection attempt (dial, TLS,
	// authentication, version gate).
	ConnectError func(cause string)
}

// NewPoolWith is NewPool with hooks.
func NewPoolWith(databaseURL, component string, log *slog.Logger, hooks Hooks) (*pgxpool.Pool, error) {
	cfg, err := Config(databaseURL, component, log)
	if err != nil {
		return nil, err
	}
	if hooks.ConnectError != nil {
		report := func(err error) { hooks.ConnectError(Cause(Diagnose(err, databaseURL))) }
		cfg.ConnConfig.Tracer = connectTracer{report: report}
		gate := cfg.AfterConnect
		cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			err := gate(ctx, conn)
			if err != nil {
				report(err) // the version gate refuses a connection pgx itself saw succeed
			}
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, Diagnose(err, databaseURL)
	}
	return pool, nil
}

// connectTracer sees the end of every connection attempt pgx makes for the pool.
type connectTracer struct{ report func(error) }

func (connectTracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

func (c connectTracer) TraceConnectEnd(_ context.Context, data pgx.TraceConnectEndData) {
	if data.Err != nil {
		c.report(data.Err)
	}
}

// pgx takes one tracer (a QueryTracer) and uses its ConnectTracer methods when it has them; queries are not traced.
func (connectTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (connectTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
