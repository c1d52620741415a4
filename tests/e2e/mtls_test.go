//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestMTLS: pg_hba demands a client certificate (`hostssl all all all cert clientcert=verify-full`: the CN is the
// role, no password at all). examples/values/mtls.yaml as written: CA from ConfigMap db-ca, client certificate
// and key from Secret spacefleet-db-client mounted with defaultMode 0440 (group-readable through fsGroup 65532),
// URL in Secret spacefleet-db with sslcert/sslkey. The server sees the client DN (pg_stat_ssl.client_dn, the
// cert-auth log lines) and so does `helm test` (dbcheck's client_dn).
func TestMTLS(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{MTLS: true})
	ns := h.NewNamespace(t, env, "e2e-mtls")
	rel := h.NewRelease(ns, release)

	createMTLSExampleObjects(t, ns, pg)

	res := rel.Install(t, []string{"mtls.yaml"}, nil)
	require.NoError(t, res.Err, "helm install -f examples/values/mtls.yaml")
	t.Logf("TIMING install-to-Ready (mTLS): %s", res.Duration.Round(time.Second))
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("web")), "web Ready")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("worker")), "worker Ready")

	// The key is not world-readable: the running pod mounts the Secret with 0440 (group 65532 via fsGroup).
	web := ns.Pods(t, rel.Selector("web"))[0]
	var mode int32 = -1
	for _, v := range web.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "spacefleet-db-client" && v.Secret.DefaultMode != nil {
			mode = *v.Secret.DefaultMode
		}
	}
	assert.Equal(t, int32(0o440), mode, "client key Secret volume defaultMode")

	wantDN := "CN=" + h.ClientCN
	assertAllTLS(t, pg, wantDN)
	log := pg.Log(t)
	assert.Contains(t, log, "method=cert", "the server authenticated clients by certificate (log_connections)")

	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "mtls-"+h.RandHex(4))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name)

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck JSON in helm test output")
	assert.True(t, check.TLS)
	assert.True(t, strings.Contains(check.ClientDN, wantDN), "dbcheck client_dn %q should name %s", check.ClientDN, wantDN)
}

// createMTLSExampleObjects creates what examples/values/mtls.yaml's comment tells the operator to create: the CA
// ConfigMap db-ca, the client pair Secret spacefleet-db-client, and Secret spacefleet-db with the URL naming them.
func createMTLSExampleObjects(t *testing.T, ns *h.NS, pg *h.Postgres) {
	t.Helper()
	ns.CreateConfigMap(t, "db-ca", map[string]string{"ca.crt": string(pg.CA.PEM)})
	ns.CreateSecret(t, "spacefleet-db-client", map[string][]byte{"tls.crt": pg.Client.CertPEM, "tls.key": pg.Client.KeyPEM},
		func(s *corev1.Secret) { s.Type = corev1.SecretTypeTLS })
	url := pg.URL(pg.Host, pg.Port, "sslmode=verify-full&sslrootcert=/etc/ssl/db-ca/ca.crt&sslcert=/etc/ssl/db-client/tls.crt&sslkey=/etc/ssl/db-client/tls.key", true)
	ns.CreateSecret(t, "spacefleet-db", map[string][]byte{"DATABASE_URL": []byte(url)})
}
