package pgtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ClientCN is the common name of the generated client certificate. Under
// `cert` authentication PostgreSQL maps it to the role of the same name, which
// Start creates.
const ClientCN = "spacefleet-client"

// TLS asks Start to enable TLS with freshly generated certificates.
type TLS struct {
	// ServerNames are the DNS SANs of the server certificate (default: "localhost").
	// No IP SAN is ever added, so connecting by IP under verify-full must fail.
	ServerNames []string
}

// Certs are the PEM files Start generated (all readable by the test process).
type Certs struct {
	CAFile      string // CA that signed the server and client certificates
	OtherCAFile string // an unrelated CA: the "wrong bundle"
	ServerCert  string
	ServerKey   string // owned by the server user, mode 0600 (PostgreSQL insists)
	ClientCert  string // CN=ClientCN, signed by CAFile
	ClientKey   string
}

type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t testing.TB, cn string) keyPair {
	t.Helper()
	return issue(t, nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Spacefleet test"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	})
}

// issue signs tmpl with parent (self-signed when parent is nil).
func issue(t testing.TB, parent *keyPair, tmpl *x509.Certificate) keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{cert: cert, key: key}
}

func writeCert(t testing.TB, path string, kp keyPair) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.cert.Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, path string, kp keyPair) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(kp.key)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ReissueClientCert writes a new client certificate (new key, new serial, CN=ClientCN, same CA) over certFile and
// keyFile, the way a renewal rewrites a mounted Secret, and returns its serial. Start must have had TLS.
func (s *Server) ReissueClientCert(t testing.TB, certFile, keyFile string) *big.Int {
	t.Helper()
	if s.ca == nil {
		t.Fatal("pgtest: ReissueClientCert needs a server started with TLS")
	}
	kp := issue(t, s.ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: ClientCN, Organization: []string{"Spacefleet test"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	writeKey(t, keyFile, kp)
	writeCert(t, certFile, kp)
	return kp.cert.SerialNumber
}

// generateCerts writes a CA, an unrelated CA, a server and a client certificate into dir.
func generateCerts(t testing.TB, dir string, opts *TLS) (Certs, *keyPair) {
	t.Helper()
	names := opts.ServerNames
	if len(names) == 0 {
		names = []string{"localhost"}
	}
	ca := newCA(t, "Spacefleet Test CA")
	other := newCA(t, "Unrelated Test CA")
	server := issue(t, &ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		DNSNames:    names,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	client := issue(t, &ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: ClientCN, Organization: []string{"Spacefleet test"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	c := Certs{
		CAFile:      filepath.Join(dir, "ca.crt"),
		OtherCAFile: filepath.Join(dir, "other-ca.crt"),
		ServerCert:  filepath.Join(dir, "server.crt"),
		ServerKey:   filepath.Join(dir, "server.key"),
		ClientCert:  filepath.Join(dir, "client.crt"),
		ClientKey:   filepath.Join(dir, "client.key"),
	}
	writeCert(t, c.CAFile, ca)
	writeCert(t, c.OtherCAFile, other)
	writeCert(t, c.ServerCert, server)
	writeKey(t, c.ServerKey, server)
	writeCert(t, c.ClientCert, client)
	writeKey(t, c.ClientKey, client)
	return c, &ca
}
