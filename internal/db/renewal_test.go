package db_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/pgtest"
)

// A client certificate renewed in place (the mounted Secret rewritten) reaches the next new connection of the same
// pool: no restart. The server reports the serial it saw (pg_stat_ssl), so the test sees which file was used.
func TestClientCertRenewalWithoutRestart(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{
		TLS: &pgtest.TLS{},
		HBA: []string{"hostssl all all 127.0.0.1/32 cert clientcert=verify-full"},
	})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	copyFile(t, srv.Certs.ClientCert, certFile)
	copyFile(t, srv.Certs.ClientKey, keyFile)
	first := fileSerial(t, certFile)

	url := srv.UserURL(pgtest.ClientCN, "", "localhost", "",
		"sslmode=verify-full&sslrootcert="+srv.Certs.CAFile+"&sslcert="+certFile+"&sslkey="+keyFile)
	pool, err := db.Connect(context.Background(), url, "web", logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	served := func() string { // drop the pool's connections so the next query dials anew
		t.Helper()
		pool.Reset()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var s string
		if err := pool.QueryRow(ctx, `SELECT client_serial::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := served(); got != first.String() {
		t.Fatalf("server saw client serial %s, want the mounted certificate's %s", got, first)
	}

	renewed := srv.ReissueClientCert(t, certFile, keyFile)
	if got := served(); got != renewed.String() {
		t.Fatalf("after renewal a new connection presented serial %s, want the renewed %s (old %s): the files were not re-read", got, renewed, first)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSerial(t *testing.T, path string) *big.Int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber
}
