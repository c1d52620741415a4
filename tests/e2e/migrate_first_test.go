//go:build e2e

package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestMigrateRunsFirst: on a working release (external TLS, inline URL), `helm upgrade` that points
// config.extraVolumes at a ConfigMap holding the wrong CA fails at the pre-upgrade migrate Job, and the running
// web pods are untouched: same ReplicaSet, same pod UIDs, same Deployment generation, still serving.
func TestMigrateRunsFirst(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{})
	ns := h.NewNamespace(t, env, "e2e-first")
	rel := h.NewRelease(ns, release)
	good := externalTLS(t, pg, ns, "url")
	h.CAConfigMap(t, ns, "rds-ca-wrong", pg.WrongCA)
	base := map[string]any{"web": map[string]any{"replicas": 2}, "migrations": map[string]any{"backoffLimit": 0}}

	res := rel.Install(t, nil, h.Merge(good, base))
	require.NoError(t, res.Err, "helm install")
	ns.WaitReadyPods(t, rel.Selector("web"), 2, 3*time.Minute)
	api := h.PortForward(t, ns, rel.Web())
	ship := api.CreateShip(t, "first-"+h.RandHex(4))

	type snapshot struct {
		uids, rs   []string
		generation int64
		restarts   int32
	}
	snap := func() snapshot {
		var s snapshot
		for _, p := range ns.Pods(t, rel.Selector("web")) {
			if p.DeletionTimestamp != nil {
				continue
			}
			s.uids = append(s.uids, string(p.UID))
			for _, o := range p.OwnerReferences {
				s.rs = append(s.rs, o.Name)
			}
			s.restarts += h.Restarts(&p)
		}
		sort.Strings(s.uids)
		sort.Strings(s.rs)
		d, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
		require.NoError(t, err)
		s.generation = d.Generation
		return s
	}
	before := snap()

	bad := h.Merge(good, base, h.CAValues("rds-ca-wrong"))
	up := rel.Upgrade(t, nil, bad)
	require.Error(t, up.Err, "helm upgrade with the wrong CA must fail")
	assert.Contains(t, up.Output, "pre-upgrade", "helm names the failed pre-upgrade hook")
	logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
	require.NoError(t, err)
	assert.Contains(t, logs, "x509: certificate signed by unknown authority", "the pre-upgrade migrate Job failed on the CA")

	after := snap()
	assert.Equal(t, before.uids, after.uids, "web pod UIDs changed: the upgrade touched running pods")
	assert.Equal(t, before.rs, after.rs, "web ReplicaSet changed")
	assert.Equal(t, before.generation, after.generation, "web Deployment spec changed")
	assert.Equal(t, before.restarts, after.restarts, "web containers restarted")
	d, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
	require.NoError(t, err)
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			assert.Equal(t, "rds-ca-bundle", v.ConfigMap.Name, "web still mounts the good CA")
		}
	}
	assert.Equal(t, 2, ns.ReadyPods(t, rel.Selector("web")), "web pods still Ready")
	assert.Equal(t, ship.Name, api.GetShip(t, ship.ID).Name, "web still serves")
	api.CreateShip(t, "after-failed-upgrade-"+h.RandHex(2))

	// A failed upgrade that CHANGES the inline URL: the pre-upgrade migrate Job (reading its hook-scoped copy,
	// spacefleet-migrate-database) rejects it, and the Secret the running pods read (spacefleet-database, a release
	// resource) must still hold the URL they run with, or the next pod restart or scale-up picks up the URL that
	// just failed. The copy, holding the rejected URL, must be gone with the failed hook phase.
	t.Run("url-change-keeps-secret", func(t *testing.T) {
		secretName := rel.DatabaseSecret()
		read := func() []byte {
			s, err := ns.Client.CoreV1().Secrets(ns.Name).Get(context.Background(), secretName, metav1.GetOptions{})
			require.NoError(t, err)
			return s.Data["DATABASE_URL"]
		}
		orig := read()
		badURL := pg.URL(pg.AliasHost, pg.Port, tlsQuery, false) // valid CA, host not on the certificate
		up := rel.Upgrade(t, nil, h.Merge(good, base, map[string]any{"externalDatabase": map[string]any{"url": badURL}}))
		require.Error(t, up.Err, "helm upgrade to a URL whose host is not on the certificate must fail")
		logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
		require.NoError(t, err)
		assert.Contains(t, logs, "certificate is valid for")
		assert.Equal(t, before.uids, snap().uids, "web pods untouched")
		// compared, never printed
		assert.True(t, string(orig) == string(read()),
			"after the failed upgrade Secret %s holds the REJECTED url: a restarted or added web/worker pod would now connect with it", secretName)
		_, err = ns.Client.CoreV1().Secrets(ns.Name).Get(context.Background(), rel.Object("migrate-database"), metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "the migrate hook's Secret copy is removed with its failed hook phase: %v", err)

		// The consequence an operator sees: a web pod that restarts after the failed upgrade (node drain,
		// eviction, OOM) must come back Ready with the release's working URL.
		victim := ns.Pods(t, rel.Selector("web"))[0]
		require.NoError(t, ns.Client.CoreV1().Pods(ns.Name).Delete(context.Background(), victim.Name, metav1.DeleteOptions{}))
		err = h.Eventually(2*time.Minute, 3*time.Second, func() (bool, error) {
			return ns.ReadyPods(t, rel.Selector("web")) == 2 && len(ns.Pods(t, rel.Selector("web"))) == 2, nil
		})
		if err != nil {
			for _, p := range ns.Pods(t, rel.Selector("web")) {
				if !h.PodReady(&p) {
					logs, _ := ns.Logs(t, p.Name, "web", 3)
					h.Logf(t, "replacement web pod %s is not Ready; its log:\n%s", p.Name, logs)
				}
			}
			t.Errorf("a web pod replaced after the failed upgrade does not become Ready: it reads the rejected URL from %s", secretName)
		}
	})
}
