//go:build e2e

package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestMigrateRunsFirst: on a working release (external TLS, inline URL), `helm upgrade` that points
// config.extraVolumes at a ConfigMap holding the wrong CA fails at the pre-upgrade migrate Job, and the running
// web pods are untouched: same ReplicaSet, same pod UIDs, same Deployment generation, still serving.
func TestMigrateRunsFirst(t *testing.T) {
	t.Parallel()
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
}
