//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// trafficBudget lets StartTraffic's requests through the API's rate limit (100 a minute by default).
var trafficBudget = map[string]any{"requests": 1000000, "window": "1m"}

// issuer is the CA ClusterIssuer scripts/addons.sh bootstraps (self-signed -> CA Certificate -> CA issuer).
var issuer = map[string]any{"name": h.CAClusterIssuer, "kind": "ClusterIssuer"}

// TestCertManagerTLS (issue 13, points 2-5) against a real cert-manager: the bundled database's server certificate,
// the clients' certificate (CN = the database user, required by pg_hba together with the password) and web's HTTPS
// certificate are all issued by cert-manager. web, worker, migrate and `helm test` connect verify-full with the
// client certificate; a connection without one is refused. Then each certificate is renewed by force (its Secret
// deleted: cert-manager issues a new one, new key included) while requests flow: the new serial is served, no pod
// restarts, no request fails.
// Not parallel (it counts failed requests): it runs alone, before the parallel suites start (see
// TestArgoCDValuesChangeUnderLoad).
func TestCertManagerTLS(t *testing.T) {
	env := h.Load(t)
	h.Timer(t)
	h.RequireAddon(t, env, "cert-manager")
	ns := h.NewNamespace(t, env, "e2e-certmanager")
	rel := h.NewRelease(ns, release)
	// examples/values/cert-manager.yaml as written, its issuer name adjusted to the cluster's
	res := rel.Install(t, []string{"cert-manager.yaml"}, map[string]any{
		"postgresql":   map[string]any{"tls": map[string]any{"certManager": map[string]any{"issuerRef": issuer}}},
		"web":          map[string]any{"tls": map[string]any{"certManager": map[string]any{"issuerRef": issuer}}},
		"rateLimiting": trafficBudget,
	})
	require.NoError(t, res.Err, "helm install (cert-manager: server, client and web certificates)")
	t.Logf("TIMING install-to-Ready (cert-manager TLS): %s", res.Duration.Round(time.Second))
	h.RequireCondition(t, ns.Kube, "Ready", 2*time.Minute, "certificate")

	ca := h.SecretKey(t, ns, h.CASecretNS, h.CASecretName, "tls.crt")
	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job)
	assert.True(t, h.JobCondition(job, "Complete"), "migrate Job Complete (verify-full with the client certificate)")

	// HTTPS on web, verified against the CA for the Service's name; plain HTTP gets no API
	api := h.PortForwardTLS(t, ns, rel.Web(), ca, rel.Web())
	ship := api.CreateShip(t, "tls-"+h.RandHex(3))
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "the API over HTTPS reads back what it wrote")
	plain := strings.Replace(api.Base, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/readyz"); err == nil {
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "web answers plain HTTP with the API")
	}

	// every client connected encrypted, with the client certificate
	conns := h.SSLConnections(t, func(t testing.TB, sql string) string {
		return h.Psql(t, ns, rel.PostgresPod(), "postgresql", "spacefleet", "spacefleet", sql)
	})
	require.NotEmpty(t, conns, "web and worker hold connections")
	for _, c := range conns {
		assert.Equalf(t, "t", c.SSL, "%s connected without TLS", c.App)
		assert.Containsf(t, c.ClientDN, "CN=spacefleet", "%s presented no client certificate", c.App)
	}
	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck report in `helm test --logs`")
	assert.True(t, check.TLS, "helm test reports TLS")
	assert.Contains(t, check.ClientDN, "CN=spacefleet", "helm test presented the client certificate")

	// the same URL without the client certificate is refused by pg_hba
	url := string(rel.DatabaseSecretData(t)["DATABASE_URL"])
	require.Contains(t, url, "&sslcert=")
	noCert := url[:strings.Index(url, "&sslcert=")]
	log, ok := h.DBCheckPod(t, ns, "no-client-cert", noCert,
		[]corev1.Volume{{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: rel.PostgresService() + "-tls", Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}}}},
		[]corev1.VolumeMount{{Name: "ca", MountPath: "/etc/spacefleet/postgresql-ca", ReadOnly: true}})
	assert.False(t, ok, "a connection without a client certificate must be refused: %s", log)
	assert.Contains(t, strings.ToLower(log), "certificate", "the refusal names the missing certificate: %s", log)

	all := longRunning(rel)
	before := ns.PodState(t, all)

	// 1. the database server certificate, renewed under traffic
	pgAddr := h.Tunnel(t, ns, rel.PostgresService(), 5432)
	pgTLS := h.TLSClientConfig(t, ca, rel.PostgresHost())
	took := renewUnderTraffic(t, ns, api, rel.PostgresService()+"-tls", func() (*big.Int, error) { return h.ServedSerial(pgAddr, pgTLS, true) })
	t.Logf("TIMING forced-renewal-to-new-serial (database server, cert-manager): %s", took.Round(time.Second))
	tr = rel.Test(t)
	require.NoError(t, tr.Err, "helm test after the database certificate was renewed (new connection, verify-full)")

	// 2. web's HTTPS certificate
	webTLS := h.TLSClientConfig(t, ca, rel.Web())
	webAddr := strings.TrimPrefix(api.Base, "https://")
	took = renewUnderTraffic(t, ns, api, rel.Fullname()+"-web-tls", func() (*big.Int, error) { return h.ServedSerial(webAddr, webTLS, false) })
	t.Logf("TIMING forced-renewal-to-new-serial (web HTTPS, cert-manager): %s", took.Round(time.Second))

	// 3. the clients' certificate: a new connection of the running web pod presents the renewed one
	clientSecret := rel.Fullname() + "-database-client-tls"
	old, err := ns.SecretCertSerial(t, clientSecret)
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, ns.Client.CoreV1().Secrets(ns.Name).Delete(context.Background(), clientSecret, metav1.DeleteOptions{}))
	var renewed *big.Int
	require.NoError(t, h.Eventually(3*time.Minute, time.Second, func() (bool, error) {
		s, err := ns.SecretCertSerial(t, clientSecret)
		if err != nil {
			return false, err
		}
		renewed = s
		return s.Cmp(old) != 0, fmt.Errorf("client certificate still serial %s", s)
	}), "cert-manager re-issues the client certificate")
	err = h.Eventually(4*time.Minute, 3*time.Second, func() (bool, error) {
		// close web's pooled connections server-side; the next request dials anew, reading the mounted files
		h.Psql(t, ns, rel.PostgresPod(), "postgresql", "spacefleet", "spacefleet",
			"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'spacefleet-web'")
		_, _, _ = api.Do("GET", "/readyz", nil)
		got := h.Psql(t, ns, rel.PostgresPod(), "postgresql", "spacefleet", "spacefleet",
			"SELECT coalesce(string_agg(s.client_serial::text, ','), '') FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'spacefleet-web'")
		return strings.Contains(","+got+",", ","+renewed.String()+","), fmt.Errorf("web connections present serials %q, want %s", got, renewed)
	})
	require.NoError(t, err, "web's new connections present the renewed client certificate without a restart")
	t.Logf("TIMING forced-renewal-to-new-serial (client certificate, seen from web): %s", time.Since(start).Round(time.Second))

	assert.Equal(t, before, ns.PodState(t, all), "no pod was restarted or replaced by the renewals")
}

// renewUnderTraffic deletes a certificate Secret (cert-manager issues a new certificate and key) while the API is
// busy, waits until served() returns the new serial, and requires that no request failed. It returns the time from
// the deletion to the new serial being served.
func renewUnderTraffic(t *testing.T, ns *h.NS, api *h.API, secret string, served func() (*big.Int, error)) time.Duration {
	t.Helper()
	old, err := served()
	require.NoError(t, err, "served certificate before the renewal")
	inSecret, err := ns.SecretCertSerial(t, secret)
	require.NoError(t, err)
	require.Zero(t, old.Cmp(inSecret), "the server serves the certificate of Secret %s", secret)

	traffic := h.StartTraffic(api)
	time.Sleep(2 * time.Second)
	start := time.Now()
	require.NoError(t, ns.Client.CoreV1().Secrets(ns.Name).Delete(context.Background(), secret, metav1.DeleteOptions{}))
	var took time.Duration
	err = h.Eventually(4*time.Minute, time.Second, func() (bool, error) {
		s, err := served()
		if err != nil {
			return false, err
		}
		took = time.Since(start)
		return s.Cmp(old) != 0, fmt.Errorf("still serving serial %s", s)
	})
	time.Sleep(3 * time.Second) // traffic on the new certificate too
	ok, failed := traffic.Stop()
	require.NoError(t, err, "the renewed certificate of %s is served", secret)
	now, err := served()
	require.NoError(t, err)
	fresh, err := ns.SecretCertSerial(t, secret)
	require.NoError(t, err)
	assert.Zero(t, now.Cmp(fresh), "the served certificate is the re-issued one")
	t.Logf("renewal of %s: %d requests succeeded, %d failed", secret, ok, len(failed))
	assert.Empty(t, failed, "requests failed during the renewal of %s", secret)
	assert.Positive(t, ok)
	return took
}

// TestBundledTLSExistingSecretReplaced (issue 13, point 3, the pre-provisioned path): the operator replaces the
// content of postgresql.tls.existingSecret; PostgreSQL serves the new certificate without a restart and no request
// fails. No cert-manager involved.
// Not parallel (it counts failed requests): it runs alone, before the parallel suites start (see
// TestArgoCDValuesChangeUnderLoad).
func TestBundledTLSExistingSecretReplaced(t *testing.T) {
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-pgtls-replace")
	rel := h.NewRelease(ns, release)
	ca := h.NewCA(t, "Spacefleet e2e pre-provisioned CA")
	names := []string{rel.PostgresHost(), rel.PostgresService(), rel.PostgresService() + "." + ns.Name}
	secret := "pg-server-tls"
	put := func(kp h.KeyPair, create bool) {
		data := map[string][]byte{"tls.crt": kp.CertPEM, "tls.key": kp.KeyPEM, "ca.crt": ca.PEM}
		if create {
			ns.CreateSecret(t, secret, data)
			return
		}
		s, err := ns.Client.CoreV1().Secrets(ns.Name).Get(context.Background(), secret, metav1.GetOptions{})
		require.NoError(t, err)
		s.Data = data
		_, err = ns.Client.CoreV1().Secrets(ns.Name).Update(context.Background(), s, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	put(ca.Server(t, names...), true)
	res := rel.Install(t, []string{"dev.yaml"}, map[string]any{"postgresql": map[string]any{"tls": map[string]any{
		"enabled": true, "existingSecret": secret, "required": true}}, "rateLimiting": trafficBudget})
	require.NoError(t, res.Err, "helm install (bundled TLS from an existing Secret)")

	api := h.PortForward(t, ns, rel.Web())
	pgAddr := h.Tunnel(t, ns, rel.PostgresService(), 5432)
	cfg := h.TLSClientConfig(t, ca.PEM, rel.PostgresHost())
	old, err := h.ServedSerial(pgAddr, cfg, true)
	require.NoError(t, err)
	all := longRunning(rel)
	before := ns.PodState(t, all)

	traffic := h.StartTraffic(api)
	time.Sleep(2 * time.Second)
	start := time.Now()
	put(ca.Server(t, names...), false)
	var took time.Duration
	err = h.Eventually(4*time.Minute, time.Second, func() (bool, error) {
		s, err := h.ServedSerial(pgAddr, cfg, true)
		if err != nil {
			return false, err
		}
		took = time.Since(start)
		return s.Cmp(old) != 0, fmt.Errorf("still serving serial %s", s)
	})
	time.Sleep(3 * time.Second)
	ok, failed := traffic.Stop()
	require.NoError(t, err, "the replaced certificate is served")
	t.Logf("TIMING replaced-secret-to-new-serial (database server, pre-provisioned): %s", took.Round(time.Second))
	t.Logf("replacement: %d requests succeeded, %d failed", ok, len(failed))
	assert.Empty(t, failed, "requests failed while the certificate was replaced")
	assert.Equal(t, before, ns.PodState(t, all), "no pod was restarted or replaced")
	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test after the replacement (a new verify-full connection)")
}

// longRunning selects the release's database, web and worker pods (not the Job's or `helm test`'s).
func longRunning(rel *h.Release) string {
	return "app.kubernetes.io/instance=" + rel.Name + ",app.kubernetes.io/component in (postgresql,web,worker)"
}
