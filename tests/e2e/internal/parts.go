//go:build e2e

package harness

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HardPassword is a random password holding every character a URI reserves and a non-ASCII letter
// (`@ : / # ? % + space é`): given by parts it must reach PostgreSQL unchanged. Every spelling a log or a URI
// could show it in is registered for redaction.
func HardPassword() string {
	p := "pw@:/#?% +é" + RandHex(8)
	RegisterSecretSpellings(p)
	return p
}

// RegisterSecretSpellings registers p as it is, percent-encoded (query and path) and JSON-escaped.
func RegisterSecretSpellings(p string) {
	RegisterSecret(p)
	RegisterSecret(url.QueryEscape(p))
	RegisterSecret(url.PathEscape(p))
	if b, err := json.Marshal(p); err == nil {
		RegisterSecret(strings.Trim(string(b), `"`))
	}
}

// CNPGCluster is what CloudNativePG gives an application for a cluster: Secret <name>-app (username, user,
// password, host, port, dbname, uri, jdbc-uri, pgpass) and Secret <name>-ca (ca.crt and, as the operator does,
// the CA's private key ca.key, which must never be mounted into the app).
type CNPGCluster struct {
	Name                string
	AppSecret, CASecret string
}

// CNPGSecrets writes p's connection into ns with CloudNativePG's Secret layout for cluster name, host being the
// value of the "host" key (CloudNativePG writes the short read-write Service name, <name>-rw).
func (p *Postgres) CNPGSecrets(t testing.TB, ns *NS, name, host string) CNPGCluster {
	t.Helper()
	port := strconv.Itoa(p.Port)
	uri := (&url.URL{Scheme: "postgresql", User: url.UserPassword(p.User, p.Password),
		Host: net.JoinHostPort(host, port), Path: "/" + p.DB}).String()
	ns.CreateSecret(t, name+"-app", map[string][]byte{
		"username": []byte(p.User), "user": []byte(p.User), "password": []byte(p.Password),
		"host": []byte(host), "port": []byte(port), "dbname": []byte(p.DB),
		"uri":      []byte(uri),
		"jdbc-uri": []byte("jdbc:postgresql://" + net.JoinHostPort(host, port) + "/" + p.DB + "?password=" + url.QueryEscape(p.Password) + "&user=" + p.User),
		"pgpass":   []byte(host + ":" + port + ":" + p.DB + ":" + p.User + ":" + p.Password + "\n"),
	})
	der, err := x509.MarshalECPrivateKey(p.CA.Key)
	if err != nil {
		t.Fatal(err)
	}
	ns.CreateSecret(t, name+"-ca", map[string][]byte{
		"ca.crt": p.CA.PEM,
		"ca.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
	})
	return CNPGCluster{Name: name, AppSecret: name + "-app", CASecret: name + "-ca"}
}

// DBCAMountPath is where the parts examples mount an operator's CA Secret (only its ca.crt).
const DBCAMountPath = "/etc/spacefleet/db-ca"

// CASecretValues mounts only key ca.crt of Secret secret at DBCAMountPath in every database client and points
// externalDatabase.sslrootcert at it.
func CASecretValues(secret string) map[string]any {
	return map[string]any{
		"externalDatabase": map[string]any{"sslrootcert": DBCAMountPath + "/ca.crt"},
		"config": map[string]any{
			"extraVolumes": []any{map[string]any{"name": "db-ca", "secret": map[string]any{"secretName": secret,
				"items": []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}}}},
			"extraVolumeMounts": []any{map[string]any{"name": "db-ca", "mountPath": DBCAMountPath, "readOnly": true}},
		},
	}
}

// CNPGKeys reads every part from a CloudNativePG <cluster>-app Secret.
var CNPGKeys = map[string]any{"host": "host", "port": "port", "database": "dbname", "username": "username", "password": "password"}

// Notes is `helm get notes RELEASE` as Helm stored it (not redacted: callers check it for secrets themselves).
func (r *Release) Notes(t testing.TB) string {
	t.Helper()
	out, err := r.NS.Kube.helm(t, "get", "notes", r.Name)
	if err != nil {
		t.Fatalf("helm get notes %s: %v", r.Name, err)
	}
	return out
}

// PutSecretData replaces the data of an existing Secret through the API.
func (ns *NS) PutSecretData(t testing.TB, name string, data map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	s, err := ns.Client.CoreV1().Secrets(ns.Name).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get secret %s: %v", name, err)
	}
	s.Data = data
	if _, err := ns.Client.CoreV1().Secrets(ns.Name).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update secret %s: %v", name, err)
	}
}

// NoSecretIn fails the test when text holds password in any registered spelling, without printing either.
func NoSecretIn(t testing.TB, what, text, password string) {
	t.Helper()
	for _, s := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the database password", what)
			return
		}
	}
}

// Pod is the database pod's name (for pg_dump/psql over its local socket).
func (p *Postgres) Pod() string { return p.pod }
