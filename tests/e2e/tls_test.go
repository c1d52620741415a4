//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestExternalTLS: the test's own PostgreSQL (ssl=on, server certificate for its Service name signed by a CA the
// test generated, plain TCP rejected by pg_hba) and the chart in external mode with sslmode=verify-full and the
// CA delivered per the RDS recipe (ConfigMap key global-bundle.pem mounted at /etc/ssl/rds), once with
// externalDatabase.url and once with existingSecret. The server proves that web, worker and migrate used TLS.
//
// How the short-lived migrate Job is proven: the database runs with log_connections=on, so every authorized
// connection leaves a "connection authorized: ... application_name=spacefleet-migrate SSL enabled (protocol=...)"
// line in the server log, which outlives the Job's pod. Polling pg_stat_ssl while the Job runs would race a
// connection that lives well under a second. web and worker hold pooled connections, so for them the live
// pg_stat_ssl ⨝ pg_stat_activity rows are checked as well.
func TestExternalTLS(t *testing.T) {
	h.Parallel(t)
	for _, mode := range []string{"url", "existingSecret"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env := h.Load(t)
			h.Timer(t)
			runTLS(t, env, mode, false)
		})
	}
}

func runTLS(t *testing.T, env *h.Env, mode string, helm4 bool) {
	pg := h.StartPostgres(t, env, h.PostgresOptions{})
	ns := h.NewNamespace(t, env, "e2e-tls")
	rel := h.NewRelease(ns, release)
	rel.Helm4 = helm4
	values := externalTLS(t, pg, ns, mode)

	res := rel.Install(t, nil, values)
	require.NoError(t, res.Err, "helm install (external TLS, %s)", mode)
	t.Logf("TIMING install-to-Ready (external TLS %s, %s): %s", mode, helmName(rel), res.Duration.Round(time.Second))

	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job)
	assert.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"], "external database: the migrate hook runs pre-install")
	assert.True(t, h.JobCondition(job, "Complete"), "migrate Job Complete")
	assert.Equal(t, "spacefleet-migrate", job.Spec.Template.Spec.ServiceAccountName, "the pre-install Job runs as its own hook ServiceAccount")
	// What only the hook needed (its ServiceAccount, and with an inline URL its Secret copy) is gone with the
	// hook phase; the app's Secret and ServiceAccount are release resources.
	_, err := ns.Client.CoreV1().ServiceAccounts(ns.Name).Get(context.Background(), rel.Object("migrate"), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "hook ServiceAccount removed after the hook phase: %v", err)
	_, err = ns.Client.CoreV1().Secrets(ns.Name).Get(context.Background(), rel.Object("migrate-database"), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "hook Secret copy removed after the hook phase: %v", err)
	_, err = ns.Client.CoreV1().ServiceAccounts(ns.Name).Get(context.Background(), rel.Fullname(), metav1.GetOptions{})
	assert.NoError(t, err, "the release ServiceAccount exists")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("web")), "web Ready")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("worker")), "worker Ready")

	api := h.PortForward(t, ns, rel.Web())
	name := "tls-" + h.RandHex(4)
	ship := api.CreateShip(t, name)
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name)

	assertAllTLS(t, pg, "")

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck JSON in helm test output")
	assert.True(t, check.TLS, "dbcheck: the server sees TLS")
	assert.NotEmpty(t, check.TLSVersion)
	assert.Equal(t, "spacefleet-dbcheck", check.ApplicationName)
}

// assertAllTLS proves server-side that web, worker and migrate connected over TLS (and, when wantDN is set,
// with that client certificate subject).
func assertAllTLS(t *testing.T, pg *h.Postgres, wantDN string) {
	t.Helper()
	// Live connections: web and worker keep pooled connections open.
	var rows []h.ConnInfo
	err := h.Eventually(90*time.Second, 3*time.Second, func() (bool, error) {
		rows = h.SSLConnections(t, pg.Psql)
		seen := map[string]bool{}
		for _, r := range rows {
			seen[r.App] = true
		}
		return seen["spacefleet-web"] && seen["spacefleet-worker"], fmt.Errorf("live connections: %+v", rows)
	})
	require.NoError(t, err, "web and worker hold connections the server can see")
	for _, r := range rows {
		t.Logf("pg_stat_ssl: %s ssl=%s version=%s client_dn=%q", r.App, r.SSL, r.Version, r.ClientDN)
		assert.Equal(t, "t", r.SSL, "%s connected without TLS", r.App)
		assert.NotEmpty(t, r.Version, "%s: TLS version", r.App)
		if wantDN != "" {
			assert.Contains(t, r.ClientDN, wantDN, "%s: client certificate DN", r.App)
		}
	}

	// Every connection ever authorized (log_connections=on), including the finished migrate Job's.
	log := pg.Log(t)
	for _, app := range []string{"spacefleet-migrate", "spacefleet-web", "spacefleet-worker"} {
		lines := h.ConnectionLogLines(log, app)
		if assert.NotEmpty(t, lines, "server log has no authorized connection for application_name=%s", app) {
			t.Logf("server log, %s (%d connections), e.g.: %s", app, len(lines), strings.TrimSpace(lines[0]))
		}
		for _, l := range lines {
			assert.Contains(t, l, "SSL enabled (protocol=TLS", "%s connected without TLS: %s", app, l)
		}
	}
	// pg_hba rejects plain TCP; no spacefleet client may have tried it (the readiness probe's pg_isready, as
	// user postgres, does and is ignored).
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "no encryption") && strings.Contains(l, `user "spacefleet"`) {
			t.Errorf("a spacefleet client tried plain TCP: %s", l)
		}
	}
}
