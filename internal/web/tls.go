package web

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spacefleet/spacefleet/internal/config"
)

// CertReloader serves the key pair in two PEM files and re-reads them when they change, so a certificate renewed
// in place (cert-manager rewriting a mounted Secret) is served to new connections without a restart. The files are
// stat'ed at each handshake: a Secret volume swaps both files at once through a symlink, which changes their
// modification time, size or inode. A pair that does not load (say the certificate was rewritten before the key)
// keeps the previous one in service and is retried at the next handshake.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // what the files looked like when cert was loaded
	failing string // the stamp whose load failed, so each failure is logged once
}

// NewCertReloader loads the pair once; an error here means the files are unusable now.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key pair %s, %s: %w", certFile, keyFile, err)
	}
	r.cert, r.stamp = &cert, stamp
	return r, nil
}

func (r *CertReloader) fileStamp() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f) // follows the ..data symlink of a Secret volume
		if err != nil {
			return "", fmt.Errorf("TLS file: %w", err)
		}
		s += fmt.Sprintf("%s:%d:%d:%v;", f, fi.Size(), fi.ModTime().UnixNano(), inode(fi))
	}
	return s, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.fileStamp()
	if err == nil && stamp != r.stamp {
		var cert tls.Certificate
		if cert, err = tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.cert, r.stamp, r.failing = &cert, stamp, ""
			r.log.Info("TLS certificate reloaded", "cert_file", r.certFile, "not_after", notAfter(&cert))
			return r.cert, nil
		}
		if r.failing != stamp {
			r.failing = stamp
			r.log.Warn("TLS certificate files changed but do not load; serving the previous certificate", "error", err.Error())
		}
		return r.cert, nil
	}
	if err != nil && r.failing != "missing" {
		r.failing = "missing"
		r.log.Warn("TLS certificate files unreadable; serving the previous certificate", "error", err.Error())
	}
	return r.cert, nil
}

// TLSConfig is the server configuration: TLS 1.2 or newer, the reloaded certificate.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

func notAfter(c *tls.Certificate) string {
	if c.Leaf == nil {
		return ""
	}
	return c.Leaf.NotAfter.UTC().Format(time.RFC3339)
}

// tlsFiles reads the pair of contract variables; both or neither.
func tlsFiles(getenv func(string) string) (cert, key string, err error) {
	cert, key = getenv("SPACEFLEET_TLS_CERT_FILE"), getenv("SPACEFLEET_TLS_KEY_FILE")
	if (cert == "") != (key == "") {
		env, value := "SPACEFLEET_TLS_KEY_FILE", key
		if cert == "" {
			env, value = "SPACEFLEET_TLS_CERT_FILE", cert
		}
		return "", "", &config.Error{Env: env, Value: value, Key: EnvKeys[env], Want: "a PEM file path when the other of SPACEFLEET_TLS_CERT_FILE/SPACEFLEET_TLS_KEY_FILE is set",
			Err: errors.New("SPACEFLEET_TLS_CERT_FILE and SPACEFLEET_TLS_KEY_FILE must be set together (HTTPS) or both left empty (HTTP)")}
	}
	return cert, key, nil
}
