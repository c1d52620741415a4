// Package pgtest starts a throwaway PostgreSQL server for tests: initdb into a
// private temp directory, a free loopback port, optional TLS with generated
// certificates and a custom pg_hba.conf. Never a shared server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir holds the PostgreSQL binaries (Debian's postgresql-15); PGTEST_BINDIR overrides it.
var BinDir = "/usr/lib/postgresql/15/bin"

// Superuser is the bootstrap role; its password is random per server.
const Superuser = "postgres"

// Options configure Start.
type Options struct {
	// TLS, when non-nil, turns on ssl with generated certificates.
	TLS *TLS
	// HBA replaces the TCP lines of pg_hba.conf (one rule per element). The
	// default accepts password (scram) logins over TCP with or without TLS.
	// A "local all all trust" line is always kept so the helper can administer.
	HBA []string
	// Password is the superuser's password (default: random hex). Any character but a newline.
	Password string
}

// Server is a running PostgreSQL.
type Server struct {
	Host     string // "localhost"
	Port     int
	Password string // superuser password (never log it)
	Certs    Certs  // zero unless Options.TLS was set
	Dir      string

	t       testing.TB
	dataDir string
	sockDir string
	cred    *syscall.Credential
	ca      *keyPair // signs ReissueClientCert's certificates
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start initialises and starts a server; it is stopped and removed at test cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		BinDir = d
	}
	if _, err := os.Stat(filepath.Join(BinDir, "postgres")); err != nil {
		t.Fatalf("pgtest: PostgreSQL binaries not found in %s (run `make postgres-server`): %v", BinDir, err)
	}
	// Our own directory rather than t.TempDir(): its parents are 0700 root-only,
	// and the server must run as a non-root user that can traverse to it.
	dir, err := os.MkdirTemp("", "spacefleet-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: "localhost", Dir: dir, t: t,
		dataDir: filepath.Join(dir, "data"), sockDir: filepath.Join(dir, "sock")}
	s.Password = randomHex(t, 12)
	if opts.Password != "" {
		s.Password = opts.Password
	}
	s.cred = serverCredential(t)

	for _, d := range []string{s.sockDir, s.dataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		s.chown(d)
	}
	var confLines []string
	if opts.TLS != nil {
		certDir := filepath.Join(dir, "certs")
		if err := os.Mkdir(certDir, 0o755); err != nil {
			t.Fatal(err)
		}
		s.Certs, s.ca = generateCerts(t, certDir, opts.TLS)
		s.chown(s.Certs.ServerKey) // PostgreSQL refuses a key it does not own
		confLines = append(confLines,
			"ssl = on",
			"ssl_cert_file = '"+s.Certs.ServerCert+"'",
			"ssl_key_file = '"+s.Certs.ServerKey+"'",
			"ssl_ca_file = '"+s.Certs.CAFile+"'")
	}

	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run(t, "initdb", "-D", s.dataDir, "-U", Superuser, "--pwfile", pwfile, "-A", "trust",
		"--no-locale", "-E", "UTF8", "--no-sync")
	os.Remove(pwfile)

	hba := opts.HBA
	if len(hba) == 0 {
		hba = []string{"host all all 127.0.0.1/32 scram-sha-256", "host all all ::1/128 scram-sha-256"}
	}
	hbaText := "local all all trust\n" + strings.Join(hba, "\n") + "\n"
	s.writeDataFile("pg_hba.conf", hbaText)
	confLines = append(confLines,
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '"+s.sockDir+"'",
		"fsync = off", "synchronous_commit = off", "full_page_writes = off",
		"max_connections = 100", "shared_buffers = 16MB",
		"log_min_messages = warning", "logging_collector = off")
	f, err := os.OpenFile(filepath.Join(s.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, strings.Join(confLines, "\n"))
	f.Close()

	// A free port can be taken between probe and bind; retry a few times.
	for attempt := 1; ; attempt++ {
		s.Port = freePort(t)
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("pgtest: start postgres: %v\n%s", err, s.logTail())
		}
	}
	t.Cleanup(s.Stop)
	if opts.TLS != nil {
		// Role for `cert` authentication: PostgreSQL maps the client CN to it.
		s.Exec(t, "postgres", fmt.Sprintf(`CREATE ROLE %q LOGIN SUPERUSER`, ClientCN))
	}
	return s
}

// URL returns a libpq URI for the superuser. host "" means s.Host; query is
// the raw query string ("sslmode=verify-full&sslrootcert=...").
func (s *Server) URL(host, dbname, query string) string {
	return s.UserURL(Superuser, s.Password, host, dbname, query)
}

// UserURL is URL for any user/password.
func (s *Server) UserURL(usr, password, host, dbname, query string) string {
	if host == "" {
		host = s.Host
	}
	if dbname == "" {
		dbname = "postgres"
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, strconv.Itoa(s.Port)), Path: "/" + dbname, RawQuery: query}
	if password != "" {
		u.User = url.UserPassword(usr, password)
	} else {
		u.User = url.User(usr)
	}
	return u.String()
}

// AdminConn connects as superuser over the Unix socket (trust), independent of TLS/pg_hba TCP rules.
func (s *Server) AdminConn(t testing.TB, dbname string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.sockDir, s.Port, Superuser, dbname))
	if err != nil {
		t.Fatalf("pgtest: admin connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs sql as superuser in dbname.
func (s *Server) Exec(t testing.TB, dbname, sql string, args ...any) {
	t.Helper()
	conn := s.AdminConn(t, dbname)
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// CreateRole creates a login role with password (any characters: it goes in as an escaped SQL literal, and
// the server stores its SCRAM verifier exactly as for ALTER ROLE ... PASSWORD).
func (s *Server) CreateRole(t testing.TB, name, password string) {
	t.Helper()
	s.Exec(t, "postgres", fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, pgx.Identifier{name}.Sanitize(), QuoteLiteral(password)))
}

// QuoteLiteral quotes s as an SQL string literal (standard_conforming_strings=on: only ' needs doubling).
func QuoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Env is the libpq environment (PGHOST, PGPORT, ...) for a role on this server: the connection by parts.
// host "" means s.Host, dbname "" means postgres; extra adds or overrides variables ("PGSSLMODE=verify-full").
func (s *Server) Env(user, password, host, dbname string, extra ...string) []string {
	if host == "" {
		host = s.Host
	}
	if dbname == "" {
		dbname = "postgres"
	}
	env := []string{"PGHOST=" + host, "PGPORT=" + strconv.Itoa(s.Port), "PGDATABASE=" + dbname, "PGUSER=" + user}
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	return append(env, extra...)
}

// CreateDB creates a fresh database and returns its name.
func (s *Server) CreateDB(t testing.TB, name string) string {
	t.Helper()
	s.Exec(t, "postgres", fmt.Sprintf("CREATE DATABASE %q", name))
	return name
}

// Stop shuts the server down (fast shutdown) and waits for it. Idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts a stopped server again on the same port (the "database came back" case).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: restart: %v\n%s", err, s.logTail())
	}
}

func (s *Server) start() error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(BinDir, "postgres"), "-D", s.dataDir, "-p", strconv.Itoa(s.Port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("postgres exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", s.sockDir, s.Port, Superuser))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return errors.New("postgres did not accept connections within 60s")
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Server) writeDataFile(name, content string) {
	p := filepath.Join(s.dataDir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.chown(p)
}

// run executes a PostgreSQL tool as the server user.
func (s *Server) run(t testing.TB, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(BinDir, tool), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Dir = s.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: %s: %v\n%s", tool, err, out)
	}
}

func (s *Server) chown(path string) {
	if s.cred == nil {
		return
	}
	if err := os.Chown(path, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
		s.t.Fatal(err)
	}
}

// serverCredential returns the identity to run postgres as: nil (ourselves)
// unless we are root, which postgres refuses; then the "postgres" system user,
// created if missing.
func serverCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		out, aerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput()
		if aerr != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("pgtest: running as root and no postgres user (useradd: %v: %s)", aerr, out)
		}
		if u, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("pgtest: lookup postgres user: %v", err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
