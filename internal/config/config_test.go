package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/config"
)

func reader(env map[string]string) *config.Reader {
	return config.NewReader(func(k string) string { return env[k] }, map[string]string{"N": "some.key"})
}

func TestIntTakesPlainDigitsOnly(t *testing.T) {
	for _, v := range []string{"1e+06", "1.5", "1000000.0", "ten", "0x10"} {
		r := reader(map[string]string{"N": v})
		if got := r.Int("N", 7, 1); got != 7 {
			t.Errorf("N=%q: got %d, want the default back", v, got)
		}
		ce, ok := config.As(r.Err())
		if !ok {
			t.Fatalf("N=%q: accepted (err %v)", v, r.Err())
		}
		if ce.Env != "N" || ce.Key != "some.key" || ce.Value != v || !strings.Contains(ce.Fix(), "some.key") {
			t.Errorf("N=%q: error %+v does not name the env var, the value and the values key (fix %q)", v, ce, ce.Fix())
		}
	}
	r := reader(map[string]string{"N": "1000000"})
	if got := r.Int("N", 7, 1); got != 1000000 || r.Err() != nil {
		t.Fatalf("N=1000000: got %d, %v", got, r.Err())
	}
	r = reader(map[string]string{"N": "0"})
	if r.Int("N", 7, 1); r.Err() == nil {
		t.Fatal("N=0 with min 1 accepted")
	}
}

func TestPortDurationBoolOneOf(t *testing.T) {
	bad := []func(*config.Reader){
		func(r *config.Reader) { r.Port("N", "1") },
		func(r *config.Reader) { r.Duration("N", time.Second) },
		func(r *config.Reader) { r.Bool("N") },
		func(r *config.Reader) { r.OneOf("N", "a", "a", "b") },
	}
	for i, v := range []string{"70000", "-5s", "yes please", "c"} {
		r := reader(map[string]string{"N": v})
		bad[i](r)
		if _, ok := config.As(r.Err()); !ok {
			t.Errorf("case %d: N=%q accepted", i, v)
		}
	}
	r := reader(map[string]string{"N": "8443"})
	if p := r.Port("N", "1"); p != "8443" || r.Err() != nil {
		t.Fatalf("port: %q %v", p, r.Err())
	}
	r = reader(map[string]string{})
	if d := r.Duration("N", time.Minute); d != time.Minute || r.Err() != nil {
		t.Fatalf("default duration: %v %v", d, r.Err())
	}
}

func TestFirstErrorWins(t *testing.T) {
	r := reader(map[string]string{"N": "x", "M": "y"})
	r.Int("N", 1, 1)
	r.Int("M", 1, 1)
	ce, _ := config.As(r.Err())
	if ce == nil || ce.Env != "N" {
		t.Fatalf("got %v, want the first bad var N", r.Err())
	}
	if !errors.Is(r.Err(), ce.Err) {
		t.Fatal("Unwrap does not reach the parse error")
	}
}

// A delay may be 0 (off) but never negative.
func TestDurationOrZero(t *testing.T) {
	for v, want := range map[string]time.Duration{"0s": 0, "0": 0, "5s": 5 * time.Second, "": 3 * time.Second} {
		r := reader(map[string]string{"N": v})
		if got := r.DurationOrZero("N", 3*time.Second); got != want || r.Err() != nil {
			t.Errorf("N=%q: %v, %v; want %v", v, got, r.Err(), want)
		}
	}
	for _, v := range []string{"-1s", "soon", "5"} {
		r := reader(map[string]string{"N": v})
		if r.DurationOrZero("N", 0); r.Err() == nil {
			t.Errorf("N=%q accepted", v)
		}
	}
}
