// Package config reads the server's environment (docs/app-contract.md). A value the server cannot use is a
// configuration error that names the env var and the chart values key that sets it: it is never run through the
// database diagnosis, which would send an operator to debug a database that is fine.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Error is one unusable env var.
type Error struct {
	Env   string // the env var, e.g. SPACEFLEET_RATE_LIMIT_REQUESTS
	Value string // what it held (env vars read here never hold credentials)
	Key   string // the chart values key that renders it ("" when the chart does not set it)
	Want  string // what a valid value looks like
	Err   error  // the parse error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s=%q: %s (want %s)", e.Env, e.Value, e.Err, e.Want)
}

func (e *Error) Unwrap() error { return e.Err }

// Fix says what to change: the values key when the chart sets the var, else the var itself.
func (e *Error) Fix() string {
	if e.Key != "" {
		return fmt.Sprintf("set %s to %s (the chart renders it as %s), then helm upgrade", e.Key, e.Want, e.Env)
	}
	return fmt.Sprintf("set %s to %s", e.Env, e.Want)
}

// As returns the configuration error in err's chain, if any.
func As(err error) (*Error, bool) {
	var ce *Error
	ok := errors.As(err, &ce)
	return ce, ok
}

// Reader reads env vars with defaults and remembers the first unusable one.
type Reader struct {
	get  func(string) string
	keys map[string]string // env var -> chart values key
	err  error
}

// NewReader reads through getenv; keys maps each env var to the chart values key that sets it.
func NewReader(getenv func(string) string, keys map[string]string) *Reader {
	return &Reader{get: getenv, keys: keys}
}

// Err is the first configuration error seen (nil when every value was usable).
func (r *Reader) Err() error { return r.err }

func (r *Reader) fail(env, value, want string, err error) {
	if r.err == nil {
		r.err = &Error{Env: env, Value: value, Key: r.keys[env], Want: want, Err: err}
	}
}

// String returns the value or def.
func (r *Reader) String(env, def string) string {
	if v := r.get(env); v != "" {
		return v
	}
	return def
}

// Int reads a whole number in plain digits, at least min ("1e+06" is refused: it is what a chart that prints a
// float gives, and the fix belongs in the chart).
func (r *Reader) Int(env string, def, min int) int {
	v := r.get(env)
	if v == "" {
		return def
	}
	want := fmt.Sprintf("a whole number in plain digits, at least %d", min)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.fail(env, v, want, errors.New("not a whole number in plain digits"))
		return def
	}
	if n < min {
		r.fail(env, v, want, fmt.Errorf("%d is below %d", n, min))
		return def
	}
	return n
}

// Port reads a TCP port (1-65535) and returns it as the string net.Listen wants.
func (r *Reader) Port(env, def string) string {
	v := r.get(env)
	if v == "" {
		return def
	}
	const want = "a TCP port number from 1 to 65535"
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > math.MaxUint16 {
		r.fail(env, v, want, errors.New("not a port number"))
		return def
	}
	return strconv.Itoa(n)
}

// Duration reads a positive Go duration such as 30s or 1m.
func (r *Reader) Duration(env string, def time.Duration) time.Duration {
	v := r.get(env)
	if v == "" {
		return def
	}
	const want = "a positive Go duration such as 30s, 1m or 1h30m"
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(env, v, want, errors.New("not a Go duration"))
		return def
	}
	if d <= 0 {
		r.fail(env, v, want, errors.New("not positive"))
		return def
	}
	return d
}

// DurationOrZero reads a Go duration that may be 0 (e.g. an optional delay).
func (r *Reader) DurationOrZero(env string, def time.Duration) time.Duration {
	v := r.get(env)
	if v == "" {
		return def
	}
	const want = "a Go duration of 0s or more, such as 0s, 5s or 1m"
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(env, v, want, errors.New("not a Go duration"))
		return def
	}
	if d < 0 {
		r.fail(env, v, want, errors.New("negative"))
		return def
	}
	return d
}

// Bool reads true/false ("" is false).
func (r *Reader) Bool(env string) bool {
	v := r.get(env)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(env, v, "true or false", errors.New("not a boolean"))
	}
	return b
}

// OneOf reads one of the allowed values (def when unset).
func (r *Reader) OneOf(env, def string, allowed ...string) string {
	v := r.get(env)
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(env, v, "one of "+strings.Join(allowed, ", "), errors.New("not an allowed value"))
	return def
}

// LogLevel reads LOG_LEVEL (debug, info, warn or error, any case; info when unset). Every subcommand reads it.
func LogLevel(getenv func(string) string) (slog.Level, error) {
	lower := func(k string) string { return strings.ToLower(getenv(k)) }
	r := NewReader(lower, map[string]string{"LOG_LEVEL": "config.logLevel"})
	name := r.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(name)))
	return level, r.Err()
}
