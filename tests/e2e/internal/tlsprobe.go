//go:build e2e

package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PortForwardTLS is PortForward for a web that serves HTTPS: the client verifies the certificate against caPEM
// for serverName (a name the certificate must cover, e.g. the web Service's).
func PortForwardTLS(t testing.TB, ns *NS, service string, caPEM []byte, serverName string) *API {
	t.Helper()
	addr := Tunnel(t, ns, service, 80)
	return &API{Base: "https://" + addr, client: &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: TLSClientConfig(t, caPEM, serverName)}}}
}

// TLSClientConfig trusts caPEM only and checks serverName.
func TLSClientConfig(t testing.TB, caPEM []byte, serverName string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA bundle holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// ServedSerial opens a new connection to addr and returns the serial of the certificate the server presents,
// verified against cfg. postgres: speak PostgreSQL's SSLRequest first (what libpq and pgx do).
func ServedSerial(addr string, cfg *tls.Config, postgres bool) (*big.Int, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(15 * time.Second))
	if postgres {
		req := make([]byte, 8)
		binary.BigEndian.PutUint32(req[0:4], 8)
		binary.BigEndian.PutUint32(req[4:8], 80877103) // SSLRequest
		if _, err := raw.Write(req); err != nil {
			return nil, err
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(raw, b); err != nil {
			return nil, err
		}
		if b[0] != 'S' {
			return nil, fmt.Errorf("server refused TLS (answered %q)", b[0])
		}
	}
	c := tls.Client(raw, cfg.Clone())
	if err := c.Handshake(); err != nil {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// SecretCertSerial is the serial of the certificate in a Secret's tls.crt ("" while the Secret is missing).
func (ns *NS) SecretCertSerial(t testing.TB, name string) (*big.Int, error) {
	t.Helper()
	s, err := ns.Client.CoreV1().Secrets(ns.Name).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(s.Data["tls.crt"])
	if blk == nil {
		return nil, fmt.Errorf("secret %s holds no PEM tls.crt", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return c.SerialNumber, nil
}

// SecretKey returns one key of a Secret in another namespace (e.g. the e2e CA's ca.crt).
func SecretKey(t testing.TB, ns *NS, namespace, name, key string) []byte {
	t.Helper()
	s, err := ns.Client.CoreV1().Secrets(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("secret %s/%s: %v", namespace, name, err)
	}
	if len(s.Data[key]) == 0 {
		t.Fatalf("secret %s/%s has no %s", namespace, name, key)
	}
	return s.Data[key]
}

// Traffic sends API requests (a read that touches the database, then a write) back to back until Stop, and
// counts the failed ones: an error or a status other than 2xx.
type Traffic struct {
	mu       sync.Mutex
	OK       int
	Failed   []string
	stop     chan struct{}
	finished chan struct{}
}

// StartTraffic starts the loop on api.
func StartTraffic(api *API) *Traffic {
	tr := &Traffic{stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(tr.finished)
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			default:
			}
			method, path, body := "GET", "/readyz", any(nil)
			if i%2 == 1 {
				method, path, body = "POST", "/api/ships", map[string]string{"name": fmt.Sprintf("traffic-%d", i)}
			}
			code, out, err := api.Do(method, path, body)
			tr.mu.Lock()
			if err != nil || code < 200 || code > 299 {
				tr.Failed = append(tr.Failed, fmt.Sprintf("%s %s: %d %v %s", method, path, code, err, out))
			} else {
				tr.OK++
			}
			tr.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return tr
}

// Stop ends the loop and returns the counts.
func (tr *Traffic) Stop() (ok int, failed []string) {
	close(tr.stop)
	<-tr.finished
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.OK, append([]string(nil), tr.Failed...)
}

// PodState is what "no restart" compares: each pod's UID and its containers' restart counts.
func (ns *NS) PodState(t testing.TB, selector string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range ns.Pods(t, selector) {
		if p.DeletionTimestamp == nil {
			m[p.Name] = fmt.Sprintf("%s restarts=%d", p.UID, Restarts(&p))
		}
	}
	return m
}
