package db_test

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/pgtest"
)

// hardPassword holds every character a URI would need encoded, quotes, a backslash and non-ASCII letters
// (composed, as SASLprep leaves them). By parts it must reach the server exactly as the Secret holds it.
const hardPassword = `p@ss:w/rd#?% +ñé'"\ü-`

// partsEnv clears the libpq environment, then sets kv ("PGHOST=localhost", ...).
func partsEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, name := range db.EnvVar {
		t.Setenv(name, "")
	}
	for _, e := range kv {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			t.Fatalf("bad env %q", e)
		}
		t.Setenv(k, v)
	}
}

// noPassword fails when text holds pw in any spelling a URI or a log would use.
func noPassword(t *testing.T, text, pw string) {
	t.Helper()
	for _, s := range []string{pw, strings.ReplaceAll(pw, " ", "+"), "p@ss:w/rd", "ñé'"} {
		if strings.Contains(text, s) {
			t.Fatalf("output contains the password (%q)", s)
		}
	}
}

// TestConnectionByParts: no DATABASE_URL at all, only the libpq environment, a password with every character
// a URI would have to encode, verify-full against the server's CA. The server sees the parts it was given.
func TestConnectionByParts(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{TLS: &pgtest.TLS{},
		HBA: []string{"hostssl all all 127.0.0.1/32 scram-sha-256", "hostnossl all all 127.0.0.1/32 reject"}})
	srv.CreateRole(t, "app", hardPassword)
	dbname := srv.CreateDB(t, "appdb")
	srv.Exec(t, "postgres", `GRANT ALL ON DATABASE appdb TO app`)
	c := srv.Certs
	tls := []string{"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + c.CAFile}

	t.Run("parts only, verify-full, the hard password arrives intact", func(t *testing.T) {
		partsEnv(t, srv.Env("app", hardPassword, "localhost", dbname, tls...)...)
		r, err := db.Check(context.Background(), "", logger(t))
		if err != nil {
			noPassword(t, err.Error(), hardPassword)
			t.Fatal(err)
		}
		if !r.TLS || r.TLSVersion == "" {
			t.Fatalf("report %+v, want TLS", r)
		}
		if r.Host != "localhost" || r.Port != srv.Port || r.Database != dbname || r.User != "app" || r.SSLMode != "verify-full" {
			t.Fatalf("report %+v, want the parts it was given", r)
		}
		if r.ApplicationName != "spacefleet-dbcheck" {
			t.Errorf("application_name = %q", r.ApplicationName)
		}
	})
	t.Run("a partial URL is completed by the environment, and what the URL sets wins", func(t *testing.T) {
		// PGHOST points nowhere and PGSSLMODE would refuse: the URL's host and sslmode must win; user and
		// password come from the environment.
		partsEnv(t, "PGHOST=nosuch.invalid", "PGSSLMODE=disable", "PGUSER=app", "PGPASSWORD="+hardPassword)
		url := "postgres://localhost:" + strconv.Itoa(srv.Port) + "/" + dbname + "?sslmode=verify-full&sslrootcert=" + c.CAFile
		r, err := db.Check(context.Background(), url, logger(t))
		if err != nil {
			t.Fatal(err)
		}
		if !r.TLS || r.User != "app" || r.Host != "localhost" || r.SSLMode != "verify-full" {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("the same password pasted into a URI unencoded does not work (the trap the parts avoid)", func(t *testing.T) {
		partsEnv(t)
		url := "postgres://app:" + hardPassword + "@localhost:" + strconv.Itoa(srv.Port) + "/" + dbname + "?sslmode=verify-full&sslrootcert=" + c.CAFile
		err := connectErr(t, url)
		if err == nil {
			t.Fatal("an unencoded password in a URI connected; the test's password is not hard enough")
		}
		noPassword(t, err.Error(), hardPassword)
		wantDiagnosis(t, err, srv, "url-not-encoded", "withheld", "percent-encode", "externalDatabase.existingSecretKeys.password")
		if db.Redact(url) == url || strings.Contains(db.Redact(url), "w/rd") {
			t.Errorf("Redact of a mis-encoded URI keeps the password: %s", db.Redact(url))
		}
	})

	// Seed 001's failure list and the rest, by parts: each names the PG* variable and the chart key to change,
	// and never prints the password.
	closed := closedPort(t)
	for _, tc := range []struct {
		name  string
		env   []string
		kind  string
		texts []string
	}{
		{"authentication failed", srv.Env("app", "wrong"+hardPassword, "localhost", dbname, tls...), "auth-failed",
			[]string{"28P01", "PGPASSWORD", "externalDatabase.password", "externalDatabase.existingSecretKeys.password", "do not URL-encode", "PGUSER"}},
		{"database does not exist", srv.Env("app", hardPassword, "localhost", "nosuchdb", tls...), "database-missing",
			[]string{"3D000", "does not exist", "PGDATABASE", "externalDatabase.database", "CREATE DATABASE"}},
		{"SSL required", srv.Env("app", hardPassword, "localhost", dbname, "PGSSLMODE=disable"), "tls-required-by-server",
			[]string{"no encryption", "SSL required", "sslmode=verify-full", "PGSSLMODE", "externalDatabase.sslmode"}},
		{"connection refused", append(srv.Env("app", hardPassword, "127.0.0.1", dbname, tls...), "PGPORT="+strconv.Itoa(closed)), "connection-refused",
			[]string{"connection refused", "not TLS", "PGPORT", "externalDatabase.port", "externalDatabase.host"}},
		{"host does not resolve", srv.Env("app", hardPassword, "nosuch.invalid", dbname, tls...), "dns",
			[]string{"no such host", "PGHOST", "externalDatabase.host", "<service>.<namespace>.svc"}},
		{"wrong CA", srv.Env("app", hardPassword, "localhost", dbname, "PGSSLMODE=verify-full", "PGSSLROOTCERT="+c.OtherCAFile), "unknown-authority",
			[]string{"x509: certificate signed by unknown authority", "PGSSLROOTCERT", "externalDatabase.sslrootcert"}},
		{"host not on the certificate", srv.Env("app", hardPassword, "127.0.0.1", dbname, tls...), "hostname-mismatch",
			[]string{"IP SANs", "PGHOST", "externalDatabase.host"}},
		{"port from a Secret key that is not a number", srv.Env("app", hardPassword, "localhost", dbname, append(tls, "PGPORT=five")...), "invalid-setting",
			[]string{"invalid port", "PGPORT (chart: externalDatabase.port"}},
		{"unknown sslmode", srv.Env("app", hardPassword, "localhost", dbname, "PGSSLMODE=verify"), "invalid-setting",
			[]string{"sslmode is invalid", "PGSSLMODE (chart: externalDatabase.sslmode)"}},
		{"CA file not mounted", srv.Env("app", hardPassword, "localhost", dbname, "PGSSLMODE=verify-full", "PGSSLROOTCERT=/etc/spacefleet/db-ca/ca.crt"), "tls-file-missing",
			[]string{"no such file or directory", "/etc/spacefleet/db-ca/ca.crt", "PGSSLROOTCERT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			partsEnv(t, tc.env...)
			err := connectErr(t, "")
			if err != nil {
				noPassword(t, err.Error(), hardPassword)
			}
			wantDiagnosis(t, err, srv, tc.kind, tc.texts...)
			t.Log(err)
		})
	}

	t.Run("the same failures through a URI name the URI, not the parts", func(t *testing.T) {
		partsEnv(t)
		err := connectErr(t, srv.UserURL("app", "wrong", "localhost", dbname, "sslmode=verify-full&sslrootcert="+c.CAFile))
		wantDiagnosis(t, err, srv, "auth-failed", "the password in DATABASE_URL", "externalDatabase.url")
		if strings.Contains(err.Error(), "PGPASSWORD") {
			t.Errorf("a URI connection's fix points at PGPASSWORD: %s", err)
		}
	})
}

func TestNothingConfigured(t *testing.T) {
	partsEnv(t)
	err := connectErr(t, "")
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "PGHOST") {
		t.Fatalf("no URL and no PGHOST: %v", err)
	}
	partsEnv(t, "PGUSER=app", "PGPASSWORD=x")
	if err := connectErr(t, ""); err == nil || !strings.Contains(err.Error(), "no database configured") {
		t.Fatalf("a user without a host is not a connection: %v", err)
	}
}

// PGPASSWORD is redacted from any error text, in every spelling, like a URL's password.
func TestRedactEnvPassword(t *testing.T) {
	partsEnv(t, "PGPASSWORD="+hardPassword)
	text := "boom: " + hardPassword + " / " + url.QueryEscape(hardPassword) + " / " + url.PathEscape(hardPassword)
	d := db.Diagnose(errString(text), "")
	noPassword(t, d.Error(), hardPassword)
	if !strings.Contains(d.Error(), "xxxxx") {
		t.Fatalf("no placeholder: %s", d)
	}
}

func TestWhere(t *testing.T) {
	partsEnv(t, "PGHOST=db.example.com", "PGPASSWORD=x")
	for _, tc := range []struct {
		url  string
		p    db.Param
		want string
	}{
		{"", db.Host, "PGHOST (chart: externalDatabase.host or externalDatabase.existingSecretKeys.host)"},
		{"", db.Port, "PGPORT (unset, so 5432"},
		{"postgres://u:p@h:6543/d?sslmode=require", db.Port, "the port in DATABASE_URL"},
		{"postgres://u@h/d", db.Password, "PGPASSWORD"},
		{"postgres://u:p@h/d", db.Password, "the password in DATABASE_URL"},
		{"postgres:///d?host=h", db.Host, "the host in DATABASE_URL"},
		{"host=h dbname='my db' user=u", db.Database, "the database name (the path) in DATABASE_URL"},
		{"", db.SSLMode, "PGSSLMODE (unset, so prefer"},
	} {
		if got := db.Where(tc.url, tc.p); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Where(%q, %s) = %q, want prefix %q", tc.url, tc.p, got, tc.want)
		}
	}
	if got := db.Setting("host=h dbname='my db' password='a \\'b'", db.Database); got != "my db" {
		t.Errorf("keyword/value dbname = %q", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
