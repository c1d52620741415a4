package db_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/pgtest"
)

func logger(t *testing.T) *slog.Logger { return slog.New(slog.NewJSONHandler(t.Output(), nil)) }

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		version     string
		wantErr     bool
		wantWarning bool
	}{
		{"13.16 (Debian 13.16-1)", true, false},
		{"14.0", false, false},
		{"17.2", false, false},
		{"18beta1", false, true},
		{"18.1", false, true},
		{"9.6.24", true, false},
	} {
		warning, err := db.CheckVersion(tc.version)
		var verr *db.VersionError
		if tc.wantErr != errors.As(err, &verr) {
			t.Errorf("CheckVersion(%q) error = %v, want error %v", tc.version, err, tc.wantErr)
		}
		if tc.wantErr && !strings.Contains(err.Error(), "PostgreSQL 14 or newer") {
			t.Errorf("CheckVersion(%q) error %q does not say what is needed", tc.version, err)
		}
		if tc.wantWarning != (warning != "") {
			t.Errorf("CheckVersion(%q) warning = %q, want warning %v", tc.version, warning, tc.wantWarning)
		}
	}
	if _, err := db.CheckVersion("garbage"); err == nil {
		t.Error("CheckVersion(garbage) accepted an unreadable version")
	}
}

func TestRedact(t *testing.T) {
	const pw = "s3cr3t-P@ss"
	for _, u := range []string{
		"postgres://app:s3cr3t-P%40ss@db.example.com:5432/app?sslmode=verify-full",
		"postgres://app@db.example.com/app?password=s3cr3t-P%40ss",
		"host=db user=app password=s3cr3t-P@ss sslmode=require",
	} {
		got := db.Redact(u)
		if strings.Contains(got, pw) || strings.Contains(got, "s3cr3t-P%40ss") {
			t.Errorf("Redact kept the password: %s", got)
		}
		if !strings.Contains(got, "xxxxx") {
			t.Errorf("Redact(%s) = %s, want a visible placeholder", db.Redact(u), got)
		}
		d := db.Diagnose(errors.New("cannot parse `"+u+"`: boom"), u)
		if strings.Contains(d.Error(), pw) || strings.Contains(d.Error(), "s3cr3t-P%40ss") {
			t.Errorf("Diagnose leaked the password: %s", d)
		}
	}
}

// connectErr connects with url and returns the diagnosed error (nil on success).
func connectErr(t *testing.T, url string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := db.Connect(ctx, url, "test", logger(t))
	if err == nil {
		pool.Close()
	}
	return err
}

// wantDiagnosis asserts the error kind, that the Go error text operators grep
// for is kept, and that the password never appears.
func wantDiagnosis(t *testing.T, err error, srv *pgtest.Server, kind string, texts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("connection succeeded, want %s failure", kind)
	}
	msg := err.Error()
	if srv != nil && strings.Contains(msg, srv.Password) {
		t.Fatalf("error message contains the password")
	}
	if got := db.Kind(err); got != kind {
		t.Fatalf("diagnosis = %q, want %q; error: %s", got, kind, msg)
	}
	for _, s := range texts {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not contain %q", msg, s)
		}
	}
}

func TestTLSDiagnoses(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{TLS: &pgtest.TLS{}})
	c := srv.Certs

	t.Run("verify-full with the right CA connects over TLS", func(t *testing.T) {
		r, err := db.Check(context.Background(), srv.URL("localhost", "", "sslmode=verify-full&sslrootcert="+c.CAFile), logger(t))
		if err != nil {
			t.Fatal(err)
		}
		if !r.TLS || r.TLSVersion == "" || r.Cipher == "" {
			t.Fatalf("dbcheck report %+v, want TLS on with version and cipher", r)
		}
		if r.ApplicationName != "spacefleet-dbcheck" {
			t.Errorf("application_name = %q, want spacefleet-dbcheck", r.ApplicationName)
		}
		if !strings.HasPrefix(r.ServerVersion, "15") {
			t.Errorf("server_version = %q", r.ServerVersion)
		}
	})
	t.Run("application_name from the URL wins", func(t *testing.T) {
		r, err := db.Check(context.Background(), srv.URL("localhost", "", "sslmode=verify-full&application_name=mine&sslrootcert="+c.CAFile), logger(t))
		if err != nil || r.ApplicationName != "mine" {
			t.Fatalf("report %+v err %v, want application_name mine", r, err)
		}
	})
	t.Run("wrong CA: unknown authority", func(t *testing.T) {
		err := connectErr(t, srv.URL("localhost", "", "sslmode=verify-full&sslrootcert="+c.OtherCAFile))
		wantDiagnosis(t, err, srv, "unknown-authority", "x509: certificate signed by unknown authority", "sslrootcert")
	})
	t.Run("no sslrootcert: system trust store does not know a private CA", func(t *testing.T) {
		err := connectErr(t, srv.URL("localhost", "", "sslmode=verify-full"))
		wantDiagnosis(t, err, srv, "unknown-authority", "x509: certificate signed by unknown authority")
	})
	t.Run("second name for the same server: hostname mismatch", func(t *testing.T) {
		name := loopbackAlias(t)
		err := connectErr(t, srv.URL(name, "", "sslmode=verify-full&sslrootcert="+c.CAFile))
		wantDiagnosis(t, err, srv, "hostname-mismatch", "certificate is valid for localhost, not "+name, "hostname mismatch", "issued for localhost")
	})
	t.Run("IP address against a DNS-only certificate: refused", func(t *testing.T) {
		err := connectErr(t, srv.URL("127.0.0.1", "", "sslmode=verify-full&sslrootcert="+c.CAFile))
		wantDiagnosis(t, err, srv, "hostname-mismatch", "127.0.0.1", "IP SANs", "not an IP address")
	})
	t.Run("verify-ca skips the hostname, so the IP connects", func(t *testing.T) {
		if err := connectErr(t, srv.URL("127.0.0.1", "", "sslmode=verify-ca&sslrootcert="+c.CAFile)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing sslrootcert file: mount diagnosis", func(t *testing.T) {
		err := connectErr(t, srv.URL("localhost", "", "sslmode=verify-full&sslrootcert=/etc/ssl/rds/global-bundle.pem"))
		wantDiagnosis(t, err, srv, "tls-file-missing", "no such file or directory", "/etc/ssl/rds/global-bundle.pem", "mountPath")
	})
	t.Run("missing sslkey file: mount diagnosis", func(t *testing.T) {
		err := connectErr(t, srv.URL("localhost", "", "sslmode=verify-full&sslrootcert="+c.CAFile+"&sslcert="+c.ClientCert+"&sslkey=/etc/ssl/db-client/tls.key"))
		wantDiagnosis(t, err, srv, "tls-file-missing", "sslkey", "/etc/ssl/db-client/tls.key")
	})
	t.Run("require without sslrootcert accepts an untrusted certificate", func(t *testing.T) {
		// The page's misconception, as a fact: encrypted, but nothing validated.
		r, err := db.Check(context.Background(), srv.URL("127.0.0.1", "", "sslmode=require"), logger(t))
		if err != nil {
			t.Fatalf("require should connect to a server no trusted CA signed: %v", err)
		}
		if !r.TLS {
			t.Fatal("require connected without TLS")
		}
	})
	t.Run("require with sslrootcert validates the chain like verify-ca", func(t *testing.T) {
		err := connectErr(t, srv.URL("127.0.0.1", "", "sslmode=require&sslrootcert="+c.OtherCAFile))
		wantDiagnosis(t, err, srv, "unknown-authority", "x509: certificate signed by unknown authority")
		if err := connectErr(t, srv.URL("127.0.0.1", "", "sslmode=require&sslrootcert="+c.CAFile)); err != nil {
			t.Fatalf("require with the right CA (and an IP, no hostname check) should connect: %v", err)
		}
	})
	t.Run("wrong password: 28P01", func(t *testing.T) {
		err := connectErr(t, srv.UserURL(pgtest.Superuser, "wrong-"+srv.Password[:6], "localhost", "", "sslmode=verify-full&sslrootcert="+c.CAFile))
		wantDiagnosis(t, err, srv, "auth-failed", "28P01", "chart README")
		if strings.Contains(err.Error(), "wrong-"+srv.Password[:6]) {
			t.Fatal("error message contains the password")
		}
	})
}

// loopbackAlias finds a name other than "localhost" that resolves to 127.0.0.1
// (the machine's hostname usually does, via /etc/hosts).
func loopbackAlias(t *testing.T) string {
	t.Helper()
	candidates := []string{}
	if h, err := os.Hostname(); err == nil {
		candidates = append(candidates, h)
	}
	candidates = append(candidates, "localhost.localdomain", "ip6-localhost")
	for _, name := range candidates {
		if name == "" || name == "localhost" {
			continue
		}
		addrs, err := net.LookupHost(name)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a == "127.0.0.1" {
				return name
			}
		}
	}
	t.Skipf("no name other than localhost resolves to 127.0.0.1 here (tried %v)", candidates)
	return ""
}

func TestMutualTLS(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{
		TLS: &pgtest.TLS{},
		HBA: []string{"hostssl all all 127.0.0.1/32 cert clientcert=verify-full"},
	})
	c := srv.Certs
	base := "sslmode=verify-full&sslrootcert=" + c.CAFile

	err := connectErr(t, srv.UserURL(pgtest.ClientCN, "", "localhost", "", base))
	wantDiagnosis(t, err, srv, "hba-rejected", "28000", "sslcert and sslkey")

	r, err := db.Check(context.Background(), srv.UserURL(pgtest.ClientCN, "", "localhost", "", base+"&sslcert="+c.ClientCert+"&sslkey="+c.ClientKey), logger(t))
	if err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	if !r.TLS || !strings.Contains(r.ClientDN, "CN="+pgtest.ClientCN) {
		t.Fatalf("dbcheck report %+v, want TLS on and client DN with CN=%s", r, pgtest.ClientCN)
	}

	// A client certificate from a CA the server does not trust is refused in the handshake.
	other := pgtest.Start(t, pgtest.Options{TLS: &pgtest.TLS{}})
	err = connectErr(t, srv.UserURL(pgtest.ClientCN, "", "localhost", "", base+"&sslcert="+other.Certs.ClientCert+"&sslkey="+other.Certs.ClientKey))
	// Under TLS 1.3 the server's alert races the client's first write: either form is the same rejection.
	wantDiagnosis(t, err, srv, "tls-alert", "client certificate")
	if msg := err.Error(); !strings.Contains(msg, "remote error: tls") && !strings.Contains(msg, "right after the TLS handshake") {
		t.Errorf("error %q shows neither the server's TLS alert nor the late-rejection diagnosis", msg)
	}
}

// The late form of a refused client certificate, deterministically: a reset on the startup message is a client
// certificate rejection only when a client certificate was offered.
func TestLateClientCertRejection(t *testing.T) {
	reset := fmt.Errorf("failed to connect to `user=app database=app`: 10.0.0.5:5432 (db): failed to write startup message: write failed: %w",
		&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)})
	t.Setenv("PGSSLCERT", "")
	with := db.Diagnose(reset, "postgres://app@db:5432/app?sslmode=verify-full&sslrootcert=/ca.crt&sslcert=/c/tls.crt&sslkey=/c/tls.key")
	if db.Kind(with) != "tls-alert" || !strings.Contains(with.Error(), "client certificate") || !strings.Contains(with.Error(), "connection reset by peer") {
		t.Fatalf("with sslcert: got %q (%s), want tls-alert keeping the Go error text", db.Kind(with), with)
	}
	without := db.Diagnose(reset, "postgres://app@db:5432/app?sslmode=verify-full&sslrootcert=/ca.crt")
	if db.Kind(without) == "tls-alert" {
		t.Fatalf("without sslcert a reset is not a client-certificate rejection: %s", without)
	}
	t.Setenv("PGSSLCERT", "/c/tls.crt")
	if k := db.Kind(db.Diagnose(reset, "postgres://app@db:5432/app?sslmode=verify-full")); k != "tls-alert" {
		t.Fatalf("PGSSLCERT offers a client certificate too: got %q", k)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := "postgres://app:hunter2-secret@127.0.0.1:" + itoa(port) + "/app?sslmode=verify-full"
	err = connectErr(t, url)
	wantDiagnosis(t, err, nil, "connection-refused", "connection refused", "not TLS", "the port in DATABASE_URL")
	if strings.Contains(err.Error(), "hunter2-secret") {
		t.Fatal("error message contains the password")
	}
}

func TestEmptyURL(t *testing.T) {
	partsEnv(t)
	if err := connectErr(t, ""); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("empty DATABASE_URL: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
