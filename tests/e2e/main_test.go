//go:build e2e

// Package e2e holds the end-to-end suites of charts/spacefleet against a kind cluster (`make e2e`).
// Every test creates and deletes its own namespaces; every assertion reads the cluster.
package e2e

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

func TestMain(m *testing.M) {
	cleanup := h.PrepareTools()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// The release name: it contains "spacefleet", so the chart's fullname is the release name itself
// (spacefleet-web, spacefleet-worker, spacefleet-migrate, spacefleet-postgresql).
const release = "spacefleet"

// tlsQuery is the RDS recipe's connection parameters: verify-full against the CA bundle ConfigMap mounted at
// /etc/ssl/rds (key global-bundle.pem).
const tlsQuery = "sslmode=verify-full&sslrootcert=" + h.RDSRootCert

// externalTLS prepares an app namespace for an external-database install against pg with verify-full and the
// CA delivered per the RDS recipe (ConfigMap rds-ca-bundle, key global-bundle.pem, mounted at /etc/ssl/rds),
// and returns the values: mode "url" (externalDatabase.url) or "existingSecret" (Secret spacefleet-db).
func externalTLS(t *testing.T, pg *h.Postgres, ns *h.NS, mode string) map[string]any {
	t.Helper()
	h.CAConfigMap(t, ns, "rds-ca-bundle", pg.CA)
	return externalValues(t, ns, mode, pg.URL(pg.Host, pg.Port, tlsQuery, false), "rds-ca-bundle")
}

// externalValues: the database values for a URL, delivered inline or through Secret spacefleet-db.
func externalValues(t *testing.T, ns *h.NS, mode, url, caConfigMap string) map[string]any {
	t.Helper()
	db := map[string]any{"postgresql": map[string]any{"enabled": false}}
	switch mode {
	case "url":
		db["externalDatabase"] = map[string]any{"url": url}
	case "existingSecret":
		ns.CreateSecret(t, "spacefleet-db", map[string][]byte{"DATABASE_URL": []byte(url)})
		db["externalDatabase"] = map[string]any{"existingSecret": "spacefleet-db", "existingSecretKeys": map[string]any{"url": "DATABASE_URL"}}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	return h.Merge(db, h.CAValues(caConfigMap))
}

func service(t *testing.T, ns *h.NS, name string) *corev1.Service {
	t.Helper()
	s, err := ns.Client.CoreV1().Services(ns.Name).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get service %s: %v", name, err)
	}
	return s
}
