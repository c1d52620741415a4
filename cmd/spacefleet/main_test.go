package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/loadgen"
	"github.com/spacefleet/spacefleet/internal/metrics/metricstest"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/pgtest"
)

var binary string

// TestMain builds the real binary once: the tests run it like the chart does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spacefleet-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "spacefleet")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code   int
	stdout string
	stderr string
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func noSecret(t *testing.T, srv *pgtest.Server, r result) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, srv.Password) {
		t.Fatal("output contains the database password")
	}
}

func TestConcurrentMigrateRunsOnce(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	dbname := srv.CreateDB(t, "app")
	env := []string{"DATABASE_URL=" + srv.URL("localhost", dbname, "sslmode=disable"), "SPACEFLEET_COMPONENT=migrate"}

	const n = 4 // a hook Job and pods racing
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = run(t, env, "migrate") }()
	}
	wg.Wait()
	applied := 0
	for i, r := range results {
		noSecret(t, srv, r)
		if r.code != 0 {
			t.Fatalf("migrate #%d exited %d:\n%s%s", i, r.code, r.stdout, r.stderr)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var rec struct {
				Msg     string `json:"msg"`
				Applied int    `json:"applied"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if rec.Msg == "schema is current" {
				applied += rec.Applied
			}
		}
	}
	if want := len(migrations.All()); applied != want {
		t.Fatalf("the %d migrators applied %d migrations in total, want each of the %d exactly once", n, applied, want)
	}
	conn := srv.AdminConn(t, dbname)
	var rows, distinct, maxv int
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations`).Scan(&rows, &distinct, &maxv); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations.All()) || distinct != rows || maxv != migrations.Expected() {
		t.Fatalf("schema_migrations has %d rows (%d distinct, max %d), want %d", rows, distinct, maxv, len(migrations.All()))
	}
	// Idempotent: once more, nothing to do, still exit 0.
	if r := run(t, env, "migrate"); r.code != 0 || !strings.Contains(r.stdout, `"applied":0`) {
		t.Fatalf("re-running migrate: exit %d\n%s", r.code, r.stdout)
	}
}

func TestDBCheck(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{
		TLS: &pgtest.TLS{},
		HBA: []string{"hostssl all " + pgtest.ClientCN + " 127.0.0.1/32 cert clientcert=verify-full", "hostssl all all 127.0.0.1/32 scram-sha-256"},
	})
	c := srv.Certs
	verifyFull := "sslmode=verify-full&sslrootcert=" + c.CAFile

	t.Run("verify-full reports TLS on", func(t *testing.T) {
		r := run(t, []string{"DATABASE_URL=" + srv.URL("localhost", "", verifyFull)}, "dbcheck")
		noSecret(t, srv, r)
		rep := report(t, r)
		if !rep.TLS || !strings.HasPrefix(rep.TLSVersion, "TLSv1.") || rep.ClientDN != "" || rep.ApplicationName != "spacefleet-dbcheck" {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("mTLS reports the client DN", func(t *testing.T) {
		url := srv.UserURL(pgtest.ClientCN, "", "localhost", "", verifyFull+"&sslcert="+c.ClientCert+"&sslkey="+c.ClientKey)
		rep := report(t, run(t, []string{"DATABASE_URL=" + url}, "dbcheck"))
		if !strings.Contains(rep.ClientDN, "CN="+pgtest.ClientCN) {
			t.Fatalf("client_dn = %q", rep.ClientDN)
		}
	})
	t.Run("sslmode=disable reports TLS off", func(t *testing.T) {
		srvPlain := pgtest.Start(t, pgtest.Options{})
		rep := report(t, run(t, []string{"DATABASE_URL=" + srvPlain.URL("localhost", "", "sslmode=disable")}, "dbcheck"))
		if rep.TLS {
			t.Fatalf("report %+v, want tls false", rep)
		}
	})
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"wrong CA", srv.URL("localhost", "", "sslmode=verify-full&sslrootcert="+c.OtherCAFile),
			[]string{"x509: certificate signed by unknown authority", "wrong or missing sslrootcert"}},
		{"IP under verify-full", srv.URL("127.0.0.1", "", verifyFull), []string{"IP SANs", "hostname mismatch"}},
		{"missing CA file", srv.URL("localhost", "", "sslmode=verify-full&sslrootcert=/etc/ssl/rds/global-bundle.pem"),
			[]string{"no such file or directory", "mountPath"}},
		{"wrong password", srv.UserURL(pgtest.Superuser, "not-the-password", "localhost", "", verifyFull), []string{"28P01", "chart README"}},
	} {
		t.Run(tc.name+" fails with a diagnosis", func(t *testing.T) {
			r := run(t, []string{"DATABASE_URL=" + tc.url}, "dbcheck")
			noSecret(t, srv, r)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1", r.code)
			}
			if strings.Contains(r.stdout, "not-the-password") {
				t.Fatal("output contains the password")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

type dbReport struct {
	TLS             bool   `json:"tls"`
	TLSVersion      string `json:"tls_version"`
	Cipher          string `json:"cipher"`
	ClientDN        string `json:"client_dn"`
	ServerVersion   string `json:"server_version"`
	ApplicationName string `json:"application_name"`
	Host            string `json:"host"`
	Port            int    `json:"port"`
	Database        string `json:"database"`
	User            string `json:"user"`
	SSLMode         string `json:"sslmode"`
}

// TestConnectionByPartsBinary runs the binary like a pod given the connection by parts (no DATABASE_URL, the
// libpq environment only, docs/app-contract.md) with a password a URI would mangle: migrate and dbcheck work
// over verify-full, and seed 001's failure list ends migrate with exit 1 and a log line carrying error, cause
// and a fix that names the variable and the chart key to change, never the password.
func TestConnectionByPartsBinary(t *testing.T) {
	const pw = `p@ss:w/rd#?% +ñé'"\ü-`
	srv := pgtest.Start(t, pgtest.Options{TLS: &pgtest.TLS{},
		HBA: []string{"hostssl all all 127.0.0.1/32 scram-sha-256", "hostnossl all all 127.0.0.1/32 reject"}})
	srv.CreateRole(t, "app", pw)
	srv.Exec(t, "postgres", `CREATE DATABASE appdb OWNER app`)
	tls := []string{"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + srv.Certs.CAFile}
	clean := func(t *testing.T, r result) {
		t.Helper()
		noSecret(t, srv, r)
		for _, s := range []string{pw, "w/rd", "ñé'"} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Fatalf("output contains the password (%q)", s)
			}
		}
	}

	r := run(t, srv.Env("app", pw, "localhost", "appdb", append(tls, "SPACEFLEET_COMPONENT=migrate")...), "migrate")
	clean(t, r)
	if r.code != 0 || !strings.Contains(r.stdout, "schema is current") {
		t.Fatalf("migrate by parts: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, srv.Env("app", pw, "localhost", "appdb", tls...), "dbcheck")
	clean(t, r)
	rep := report(t, r)
	if !rep.TLS || rep.Host != "localhost" || rep.Port != srv.Port || rep.Database != "appdb" || rep.User != "app" || rep.SSLMode != "verify-full" {
		t.Fatalf("dbcheck by parts: %+v", rep)
	}

	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"Connection refused", append(srv.Env("app", pw, "127.0.0.1", "appdb", tls...), "PGPORT="+strconv.Itoa(freePort(t))),
			[]string{"connection refused", "PGPORT (chart: externalDatabase.port"}},
		{"SSL required", srv.Env("app", pw, "localhost", "appdb", "PGSSLMODE=disable"),
			[]string{"no encryption", "SSL required", "PGSSLMODE (chart: externalDatabase.sslmode)"}},
		{"Authentication failed", srv.Env("app", "x"+pw, "localhost", "appdb", tls...),
			[]string{"28P01", "PGPASSWORD (chart: externalDatabase.password"}},
		{"database does not exist", srv.Env("app", pw, "localhost", "nosuchdb", tls...),
			[]string{"3D000", "PGDATABASE (chart: externalDatabase.database"}},
		{"host does not resolve", srv.Env("app", pw, "nosuch.invalid", "appdb", tls...),
			[]string{"no such host", "PGHOST (chart: externalDatabase.host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, "migrate")
			clean(t, r)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.code, r.stdout)
			}
			var failure map[string]any
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "ERROR" && rec["cause"] != nil && rec["fix"] != nil {
					failure = rec
				}
			}
			if failure == nil {
				t.Fatalf("no ERROR line with cause and fix:\n%s", r.stdout)
			}
			all := fmt.Sprint(failure["error"], " ", failure["cause"], " ", failure["fix"])
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("failure line lacks %q: %s", w, all)
				}
			}
		})
	}
}

// report finds dbcheck's JSON object among the log lines.
func report(t *testing.T, r result) dbReport {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("dbcheck exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, `"server_version"`) && !strings.Contains(line, `"msg"`) {
			var rep dbReport
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}
	}
	t.Fatalf("no report in output:\n%s", r.stdout)
	return dbReport{}
}

// TestWebBinary starts `spacefleet web` like a pod, measures start-to-ready,
// and checks that SIGTERM ends it cleanly.
func TestWebBinary(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{TLS: &pgtest.TLS{}})
	dbname := srv.CreateDB(t, "app")
	port, metricsPort := freePort(t), freePort(t)
	cmd := exec.Command(binary, "web")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = []string{
		"DATABASE_URL=" + srv.URL("localhost", dbname, "sslmode=verify-full&sslrootcert="+srv.Certs.CAFile),
		"PORT=" + strconv.Itoa(port), "SPACEFLEET_COMPONENT=web", "SPACEFLEET_METRICS_PORT=" + strconv.Itoa(metricsPort),
		"SPACEFLEET_SHUTDOWN_DELAY=1s",
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	var ready time.Duration
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = time.Since(start)
				break
			}
		}
	}
	if ready == 0 {
		t.Fatalf("web never became ready:\n%s", out.String())
	}
	t.Logf("MEASURE web start-to-ready (process start, TLS verify-full, empty database, 3 migrations): %s", ready)

	// The load generator subcommand against the running server: every request answered.
	lg := run(t, nil, "loadgen", "-url", base+"/api/ships", "-requests", "20", "-rate", "200")
	var res loadgen.Result
	if err := json.Unmarshal([]byte(lg.stdout), &res); lg.code != 0 || err != nil || res.OK != 20 || res.Failed != 0 {
		t.Fatalf("loadgen: exit %d, %v, %+v, stderr %s", lg.code, err, res, lg.stderr)
	}
	// /metrics on its own port, in the text format, counting those requests.
	f := metricstest.Scrape(t, "http://127.0.0.1:"+strconv.Itoa(metricsPort)+"/metrics")
	if v := f.MustValue(t, "spacefleet_http_requests_total", map[string]string{"route": "/api/ships", "code": "200"}); v != 20 {
		t.Errorf("requests counted %v, want 20", v)
	}
	if resp, err := http.Get(base + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the API port serves /metrics (%d): it must stay on its own port", resp.StatusCode)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("web exited with %v after SIGTERM:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("web did not exit after SIGTERM")
	}
	if strings.Contains(out.String(), srv.Password) {
		t.Fatal("logs contain the password")
	}
	if !strings.Contains(out.String(), `"msg":"shutting down: not ready, still serving"`) {
		t.Errorf("no shutdown-delay log line:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"msg":"stopped"`) {
		t.Errorf("no graceful-stop log line:\n%s", out.String())
	}
}

func TestUsage(t *testing.T) {
	if r := run(t, nil, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "usage") {
		t.Fatalf("unknown subcommand: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, nil, "web", "extra"); r.code != 2 {
		t.Fatalf("extra arguments: exit %d", r.code)
	}
	if r := run(t, nil, "loadgen", "-url", "http://example.com/"); r.code != 2 || !strings.Contains(r.stderr, "cluster") || r.stdout != "" {
		t.Fatalf("loadgen against a public host: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestConfigurationErrors: a value the server cannot use is reported as a configuration error naming the env var
// and the values key that sets it, never run through the database diagnosis (issue 15: "1e+06" crash-looped web
// with "unrecognised database error"). No database is needed: configuration is read before any connection.
func TestConfigurationErrors(t *testing.T) {
	const url = "DATABASE_URL=postgres://u:secret-pw@127.0.0.1:1/db?sslmode=disable"
	for _, tc := range []struct {
		cmd, env, key string
	}{
		{"web", "SPACEFLEET_RATE_LIMIT_REQUESTS=1e+06", "rateLimiting.requests"},
		{"web", "SPACEFLEET_RATE_LIMIT_WINDOW=ten minutes", "rateLimiting.window"},
		{"web", "PORT=80800", "web.port"},
		{"web", "SPACEFLEET_RATE_LIMIT_BACKEND=redis", "rateLimiting.backend"},
		{"worker", "PORT=http", "worker.port"},
		{"worker", "SPACEFLEET_MIGRATIONS_VIA_HOOK=yes please", "migrations.viaHook"},
		{"migrate", "LOG_LEVEL=loud", "config.logLevel"},
	} {
		t.Run(tc.cmd+" "+tc.env, func(t *testing.T) {
			r := run(t, []string{url, tc.env}, tc.cmd)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "secret-pw") {
				t.Fatal("output contains the database password")
			}
			var line map[string]any
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["level"] == "ERROR" {
					line = m
				}
			}
			if line == nil {
				t.Fatalf("no ERROR line:\n%s", r.stdout)
			}
			name := strings.SplitN(tc.env, "=", 2)[0]
			if line["cause"] != "configuration" || line["env"] != name || line["values_key"] != tc.key {
				t.Errorf("got cause=%v env=%v values_key=%v, want configuration %s %s:\n%s", line["cause"], line["env"], line["values_key"], name, tc.key, r.stdout)
			}
			if fix, _ := line["fix"].(string); !strings.Contains(fix, tc.key) {
				t.Errorf("fix %q does not name %s", fix, tc.key)
			}
			if strings.Contains(r.stdout, "database error") || strings.Contains(r.stdout, "dbcheck") {
				t.Errorf("a configuration error went through the database diagnosis:\n%s", r.stdout)
			}
		})
	}
}
