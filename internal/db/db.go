// Package db opens PostgreSQL connections the same way for every subcommand:
// libpq URI parsed by pgx (sslmode, sslrootcert, sslcert, sslkey), an
// application_name per component, a server-version gate, and errors that are
// diagnosed and stripped of credentials.
package db

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Minimum and first-untested server major versions.
const (
	MinMajor      = 14
	UntestedMajor = 18
)

// VersionError is returned when the server is older than MinMajor.
type VersionError struct {
	Version string
	Major   int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("PostgreSQL %s is not supported: spacefleet needs PostgreSQL %d or newer (server major version %d); upgrade the database",
		e.Version, MinMajor, e.Major)
}

// CheckVersion applies the version gate to a server_version string such as
// "15.4 (Debian 15.4-1.pgdg120+1)" or "18beta1". It returns a warning (to be
// logged) for versions this build was not tested against, and an error for
// versions that are too old.
func CheckVersion(serverVersion string) (warning string, err error) {
	major, perr := parseMajor(serverVersion)
	if perr != nil {
		return "", perr
	}
	if major < MinMajor {
		return "", &VersionError{Version: serverVersion, Major: major}
	}
	if major >= UntestedMajor {
		return fmt.Sprintf("PostgreSQL %d is newer than the versions spacefleet is tested with (14-17); continuing", major), nil
	}
	return "", nil
}

func parseMajor(v string) (int, error) {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	major, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0, fmt.Errorf("cannot read the server's major version from %q", v)
	}
	return major, nil
}

// Config parses databaseURL, completed by the libpq environment (PGHOST, PGUSER, PGPASSWORD, ...) for whatever
// it leaves out (it may be empty when the connection is given by parts), and prepares a pool config:
// application_name spacefleet-<component> unless the URL sets one, and the version gate on every new
// connection. Errors are diagnosed and redacted.
func Config(databaseURL, component string, log *slog.Logger) (*pgxpool.Config, error) {
	if !Configured(databaseURL) {
		return nil, &Diagnosis{Err: errString("DATABASE_URL is empty and PGHOST is not set"), Cause: "no database configured",
			Fix: "set DATABASE_URL (from a Secret) to a libpq URI such as postgres://user:pass@host:5432/db?sslmode=verify-full, " +
				"or give the connection by parts: PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD (chart: externalDatabase.host, ...)"}
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, Diagnose(err, databaseURL)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok && component != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "spacefleet-" + component
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	// A cancelled context (a request's deadline, a worker's shutdown timeout) cancels the statement on the server
	// too, so its transaction ends and its locks go at once; pgx's default only drops the client side, leaving a
	// backend that holds a job's row lock until whatever it waits for is over.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 500 * time.Millisecond}
	}
	if usesTLS(cfg.ConnConfig) {
		// pgx reads sslrootcert/sslcert/sslkey once, at parse time. libpq reads them at each connection, and that
		// is what lets a renewed client certificate (or CA bundle) mounted from a Secret reach new connections
		// without a restart: re-parse the URL for each new connection and take its freshly loaded TLS settings.
		cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
			fresh, err := pgconn.ParseConfig(databaseURL)
			if err != nil {
				return err
			}
			cc.TLSConfig = fresh.TLSConfig
			for i := range cc.Fallbacks {
				if i < len(fresh.Fallbacks) {
					cc.Fallbacks[i].TLSConfig = fresh.Fallbacks[i].TLSConfig
				}
			}
			return nil
		}
	}
	var warnOnce sync.Once
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		v := conn.PgConn().ParameterStatus("server_version")
		warning, err := CheckVersion(v)
		if err != nil {
			return err
		}
		if warning != "" {
			warnOnce.Do(func() { log.Warn(warning, "server_version", v) })
		}
		return nil
	}
	return cfg, nil
}

func usesTLS(c *pgx.ConnConfig) bool {
	if c.TLSConfig != nil {
		return true
	}
	for _, f := range c.Fallbacks {
		if f.TLSConfig != nil {
			return true
		}
	}
	return false
}

// NewPool builds a pool without connecting; pgxpool connects lazily and
// reconnects on its own after an outage, which is what lets web and worker
// heal without a restart.
func NewPool(databaseURL, component string, log *slog.Logger) (*pgxpool.Pool, error) {
	return NewPoolWith(databaseURL, component, log, Hooks{})
}

// Connect is NewPool plus one ping: the connection works now, or a diagnosis.
func Connect(ctx context.Context, databaseURL, component string, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := NewPool(databaseURL, component, log)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, Diagnose(err, databaseURL)
	}
	return pool, nil
}

// WaitFor retries fn with capped exponential backoff and jitter until it
// succeeds or ctx ends. Each failure is diagnosed and logged (redacted).
func WaitFor(ctx context.Context, log *slog.Logger, databaseURL, what string, fn func(context.Context) error) error {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p, ok := err.(*Pending); ok {
			log.Info(p.Reason, "attempt", attempt, "retry_in", delay.String())
		} else {
			LogError(log, what+" failed; retrying", Diagnose(err, databaseURL), "attempt", attempt, "retry_in", delay.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay + time.Duration(rand.Int64N(int64(delay/4)+1))):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// Pending is an expected, temporary condition for WaitFor (logged at info, not diagnosed).
type Pending struct{ Reason string }

func (p *Pending) Error() string { return p.Reason }

// LogError logs err with its cause and fix as separate fields when it is a Diagnosis.
func LogError(log *slog.Logger, msg string, err error, attrs ...any) {
	if d, ok := err.(*Diagnosis); ok {
		attrs = append(attrs, "error", d.Error(), "cause", d.Cause, "fix", d.Fix)
	} else if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	log.Error(msg, attrs...)
}

// Redact returns databaseURL with the password replaced, for logs.
func Redact(databaseURL string) string {
	if u, err := url.Parse(databaseURL); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// keyword/value form: password=... (possibly quoted)
	return RedactText(databaseURL, databaseURL)
}

// RedactText removes the password of databaseURL from any text (an error
// message that echoes the connection string, a DSN, ...).
func RedactText(text, databaseURL string) string {
	for _, pw := range passwords(databaseURL) {
		if pw != "" {
			text = strings.ReplaceAll(text, pw, "xxxxx")
		}
	}
	return text
}

// passwords returns every spelling of the password that may appear in text: the URL's and PGPASSWORD's.
func passwords(databaseURL string) []string {
	var out []string
	if u, err := url.Parse(databaseURL); err == nil && u.Scheme != "" {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		if pw := u.Query().Get("password"); pw != "" {
			out = append(out, pw, url.QueryEscape(pw))
		}
	}
	for _, f := range strings.Fields(databaseURL) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			out = append(out, strings.Trim(v, "'"))
		}
	}
	if pw, ok := keywordValues(databaseURL)["password"]; ok && !strings.Contains(databaseURL, "://") {
		out = append(out, pw)
	}
	if ui := rawUserinfo(databaseURL); misencoded(databaseURL) {
		// Unencoded: the password is everything after the first ':' (the widest guess) and each piece a parser
		// may have cut it into at '@'.
		if _, pw, ok := strings.Cut(ui, ":"); ok && pw != "" {
			out = append(out, pw)
			for _, piece := range strings.Split(pw, "@") {
				if len(piece) >= 3 {
					out = append(out, piece)
				}
			}
		}
	}
	if pw := os.Getenv("PGPASSWORD"); pw != "" {
		out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
	}
	// Longest first, so a password containing another spelling is fully replaced.
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if len(out[j]) > len(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

type errString string

func (e errString) Error() string { return string(e) }
