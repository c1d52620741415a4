// Package ratelimit implements fixed-window request budgets per client key,
// either per process (memory) or shared by every replica (postgres).
package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Limiter decides whether one more request from key fits the budget.
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, error)
}

// New returns the limiter for backend "memory" or "postgres".
func New(backend string, limit int, window time.Duration, pool *pgxpool.Pool) (Limiter, error) {
	if limit <= 0 || window <= 0 {
		return nil, fmt.Errorf("rate limit needs a positive limit and window (got %d per %s)", limit, window)
	}
	switch backend {
	case "", "memory":
		return NewMemory(limit, window), nil
	case "postgres":
		return NewPostgres(pool, limit, window), nil
	default:
		return nil, fmt.Errorf("SPACEFLEET_RATE_LIMIT_BACKEND=%q: want memory or postgres", backend)
	}
}

// Memory is a per-process limiter: N replicas allow N times the budget.
type Memory struct {
	limit  int
	window time.Duration
	mu     sync.Mutex
	counts map[string]*bucket
	now    func() time.Time
}

type bucket struct {
	start time.Time
	n     int
}

func NewMemory(limit int, window time.Duration) *Memory {
	return &Memory{limit: limit, window: window, counts: map[string]*bucket{}, now: time.Now}
}

func (m *Memory) Allow(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := m.now().Truncate(m.window)
	b := m.counts[key]
	if b == nil || !b.start.Equal(start) {
		if len(m.counts) > 10000 { // drop stale buckets so the map cannot grow forever
			for k, old := range m.counts {
				if !old.start.Equal(start) {
					delete(m.counts, k)
				}
			}
		}
		b = &bucket{start: start}
		m.counts[key] = b
	}
	b.n++
	return b.n <= m.limit, nil
}

// Postgres shares one counter per key and window across all replicas. The
// window is computed from the database clock so replicas with skewed clocks
// still agree.
type Postgres struct {
	pool   *pgxpool.Pool
	limit  int
	window time.Duration
	calls  atomic.Int64
}

func NewPostgres(pool *pgxpool.Pool, limit int, window time.Duration) *Postgres {
	return &Postgres{pool: pool, limit: limit, window: window}
}

func (p *Postgres) Allow(ctx context.Context, key string) (bool, error) {
	secs := p.window.Seconds()
	var n int
	err := p.pool.QueryRow(ctx, `
		INSERT INTO rate_limits AS r (key, window_start, count)
		VALUES ($1, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / $2) * $2), 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1
		RETURNING count`, key, secs).Scan(&n)
	if err != nil {
		return false, err
	}
	if p.calls.Add(1)%1000 == 0 { // occasional cleanup of finished windows
		_, _ = p.pool.Exec(ctx, `DELETE FROM rate_limits WHERE window_start < clock_timestamp() - 2 * make_interval(secs => $1)`, secs)
	}
	return n <= p.limit, nil
}
