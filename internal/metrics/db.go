package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/migrations"
)

// ScrapeQueryTimeout bounds each database query a scrape runs, so a database outage slows no scrape past it.
const ScrapeQueryTimeout = 2 * time.Second

// DB holds the database families: connection errors by diagnosed cause, and (once Watch is called) the pool's
// statistics and the schema version read at scrape time.
type DB struct {
	reg        prometheus.Registerer
	connErrors *prometheus.CounterVec
}

// NewDB registers the connection-error counter, one series per diagnosis rule (db.RuleNames) starting at 0.
func NewDB(reg prometheus.Registerer) *DB {
	d := &DB{reg: reg, connErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "db", Name: "connection_errors_total",
		Help: "Failed connection attempts to PostgreSQL, by diagnosed cause (the rule names of the server's error diagnosis).",
	}, []string{"cause"})}
	for _, name := range db.RuleNames() {
		d.connErrors.WithLabelValues(name)
	}
	reg.MustRegister(d.connErrors)
	return d
}

// Hooks returns the pool hooks that feed the connection-error counter.
func (d *DB) Hooks() db.Hooks {
	return db.Hooks{ConnectError: func(cause string) { d.connErrors.WithLabelValues(cause).Inc() }}
}

// Watch registers the pool statistics and the schema collector for pool.
func (d *DB) Watch(pool *pgxpool.Pool) {
	d.reg.MustRegister(poolCollector{pool}, &schemaCollector{pool: pool})
}

func desc(subsystem, name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, name), help, nil, nil)
}

var (
	poolAcquired     = desc("db_pool", "acquired_connections", "Connections in use by a request or job now.")
	poolIdle         = desc("db_pool", "idle_connections", "Open connections waiting in the pool now.")
	poolTotal        = desc("db_pool", "total_connections", "Open connections (acquired, idle and being opened) now.")
	poolMax          = desc("db_pool", "max_connections", "The pool's connection limit (pool_max_conns).")
	poolAcquires     = desc("db_pool", "acquires_total", "Connections handed out by the pool.")
	poolEmptyWaits   = desc("db_pool", "empty_acquires_total", "Acquires that had to wait because no idle connection was free.")
	poolEmptyWaitSec = desc("db_pool", "empty_acquire_wait_seconds_total", "Time spent waiting by those acquires.")
	poolCanceled     = desc("db_pool", "canceled_acquires_total", "Acquires abandoned because their request or job ended first.")
	poolNewConns     = desc("db_pool", "new_connections_total", "Connections the pool opened.")
)

// poolCollector reads pgxpool's statistics at scrape time (no database round trip).
type poolCollector struct{ pool *pgxpool.Pool }

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolEmptyWaits, poolEmptyWaitSec, poolCanceled, poolNewConns} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolAcquired, float64(s.AcquiredConns()))
	gauge(poolIdle, float64(s.IdleConns()))
	gauge(poolTotal, float64(s.TotalConns()))
	gauge(poolMax, float64(s.MaxConns()))
	counter(poolAcquires, float64(s.AcquireCount()))
	counter(poolEmptyWaits, float64(s.EmptyAcquireCount()))
	counter(poolEmptyWaitSec, s.EmptyAcquireWaitTime().Seconds())
	counter(poolCanceled, float64(s.CanceledAcquireCount()))
	counter(poolNewConns, float64(s.NewConnsCount()))
}

var (
	dbUp           = desc("db", "up", "1 when this scrape could read the schema version from PostgreSQL, else 0.")
	schemaVersion  = desc("db", "schema_version", "The schema version applied in the database (absent while the database is unreachable).")
	schemaExpected = desc("db", "schema_expected_version", "The schema version this binary needs.")
	migrationsTodo = desc("db", "migrations_pending", "Migrations this binary has that the database lacks (absent while the database is unreachable).")
)

// schemaCollector reads the schema version at scrape time, bounded by ScrapeQueryTimeout.
type schemaCollector struct{ pool *pgxpool.Pool }

func (*schemaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbUp, schemaVersion, schemaExpected, migrationsTodo} {
		ch <- d
	}
}

func (c *schemaCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	expected := migrations.Expected()
	gauge(schemaExpected, float64(expected))
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeQueryTimeout)
	defer cancel()
	current, err := migrations.Current(ctx, c.pool)
	if err != nil {
		gauge(dbUp, 0)
		return
	}
	gauge(dbUp, 1)
	gauge(schemaVersion, float64(current))
	gauge(migrationsTodo, float64(max(expected-current, 0)))
}
