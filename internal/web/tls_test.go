package web_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/pgtest"
	"github.com/spacefleet/spacefleet/internal/web"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p := x509.NewCertPool()
	p.AddCert(c)
	return &testCA{cert: c, key: key, pool: p}
}

// issue returns a PEM certificate and key for localhost signed by the CA, and its serial.
func (ca *testCA) issue(t *testing.T) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), serial
}

// secretDir lays files out like a kubelet Secret volume: dir/tls.crt -> ..data/tls.crt, ..data -> a timestamped
// directory; publish swaps ..data atomically, as the kubelet does when the Secret changes.
type secretDir struct {
	dir string
	n   int
}

func (s *secretDir) publish(t *testing.T, files map[string][]byte) {
	t.Helper()
	s.n++
	ts := filepath.Join(s.dir, "..v"+strings.Repeat("x", s.n))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(ts, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(s.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(s.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func startHTTPS(t *testing.T, cfg web.Config) string {
	t.Helper()
	cfg.Component, cfg.RateLimit, cfg.RateWindow, cfg.ShutdownTimeout = "web", 1000, time.Minute, 10*time.Second
	s, err := web.New(cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.TLSListener(raw)
	if err != nil {
		raw.Close()
		s.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln); s.Close() }()
	t.Cleanup(func() { cancel(); <-done })
	return raw.Addr().String()
}

// get makes one request on a new connection and returns the status and the serial the server presented.
func get(t *testing.T, roots *x509.CertPool, url string) (int, *big.Int) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber
}

// HTTPS on a real database: the API works over TLS, plain HTTP is refused, and a certificate renewed in the mounted
// Secret is served to the next connection without a restart; a half-written pair keeps the old one in service.
func TestHTTPSServesAndReloads(t *testing.T) {
	ca := newTestCA(t)
	vol := &secretDir{dir: t.TempDir()}
	c1, k1, s1 := ca.issue(t)
	vol.publish(t, map[string][]byte{"tls.crt": c1, "tls.key": k1})

	srv := pgtest.Start(t, pgtest.Options{})
	addr := startHTTPS(t, web.Config{DatabaseURL: srv.URL("localhost", srv.CreateDB(t, "app"), "sslmode=disable"),
		TLSCertFile: filepath.Join(vol.dir, "tls.crt"), TLSKeyFile: filepath.Join(vol.dir, "tls.key")})
	base := "https://" + addr

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, serial := get(t, ca.pool, base+"/readyz")
		if serial.Cmp(s1) != 0 {
			t.Fatalf("served serial %s, want %s", serial, s1)
		}
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz over HTTPS stayed %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	resp, err := client.Post(base+"/api/ships", "application/json", bytes.NewBufferString(`{"name":"tls"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/ships over HTTPS = %d, want 201", resp.StatusCode)
	}

	// plain HTTP on the HTTPS port: Go's TLS server answers 400, never the API
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP got 200 from the HTTPS listener")
		}
	}

	// renewal: a new pair swapped in atomically is served to the next connection
	c2, k2, s2 := ca.issue(t)
	vol.publish(t, map[string][]byte{"tls.crt": c2, "tls.key": k2})
	if _, serial := get(t, ca.pool, base+"/healthz"); serial.Cmp(s2) != 0 {
		t.Fatalf("after renewal the server presented serial %s, want the renewed %s (old %s)", serial, s2, s1)
	}

	// a pair that does not match (certificate of one key, key of another) is not loaded: the last good one stays
	c3, _, _ := ca.issue(t)
	_, k4, _ := ca.issue(t)
	vol.publish(t, map[string][]byte{"tls.crt": c3, "tls.key": k4})
	if code, serial := get(t, ca.pool, base+"/healthz"); code != http.StatusOK || serial.Cmp(s2) != 0 {
		t.Fatalf("with a mismatched pair: %d, serial %s; want 200 on the last good certificate %s", code, serial, s2)
	}
}

func TestTLSConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := web.ConfigFromEnv(env(map[string]string{"SPACEFLEET_TLS_CERT_FILE": "/tls/tls.crt", "SPACEFLEET_TLS_KEY_FILE": "/tls/tls.key"}))
	if err != nil || cfg.TLSCertFile != "/tls/tls.crt" || cfg.TLSKeyFile != "/tls/tls.key" {
		t.Fatalf("both set: %+v, %v", cfg, err)
	}
	for _, m := range []map[string]string{{"SPACEFLEET_TLS_CERT_FILE": "/tls/tls.crt"}, {"SPACEFLEET_TLS_KEY_FILE": "/tls/tls.key"}} {
		if _, err := web.ConfigFromEnv(env(m)); err == nil || !strings.Contains(err.Error(), "must be set together") {
			t.Fatalf("%v: err %v, want 'must be set together'", m, err)
		}
	}
	if cfg, err := web.ConfigFromEnv(env(nil)); err != nil || cfg.TLSCertFile != "" {
		t.Fatalf("neither set: %+v, %v (want plain HTTP)", cfg, err)
	}
	// files that do not exist fail at start, not at the first request
	s, err := web.New(web.Config{DatabaseURL: "postgres://u@localhost/db", Component: "web", RateLimitBackend: "memory",
		RateLimit: 1, RateWindow: time.Minute, TLSCertFile: "/nonexistent/tls.crt", TLSKeyFile: "/nonexistent/tls.key"}, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, _ := net.Listen("tcp", "127.0.0.1:0")
	defer raw.Close()
	if _, err := s.TLSListener(raw); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Fatalf("missing files: %v, want an error naming the file", err)
	}
}
