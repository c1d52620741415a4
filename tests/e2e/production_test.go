//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestProductionExample (issue 25): examples/values/production.yaml as written, in a cluster that enforces
// NetworkPolicies and knows the Prometheus Operator CRDs, against an external PostgreSQL that accepts TLS only (the
// test's own, in another namespace): the database's password Secret and CA ConfigMap created as the file's header
// says, and only what differs from the operator's site overridden (the database's host, and its address for the
// egress policy: a namespace selector here instead of the file's subnet). Proves: helm install --wait succeeds with
// every production setting on (Ingress with TLS, HPA, PDBs, spread, NetworkPolicies, ServiceMonitor, PrometheusRule,
// resources, the migrate Job owning the schema), NOTES print no warning, web and worker reach the database under
// the policies with verify-full, the API writes and reads, and `helm test` reports TLS and verify-full.
func TestProductionExample(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	step := stepTimer(t)
	h.InstallNetworkPolicyController(t, env)
	h.ApplyPrometheusOperatorCRDs(t, env)
	step("controller enforcing, CRDs Established")
	pg := h.StartPostgres(t, env, h.PostgresOptions{})
	step("database Ready")

	ns := h.NewNamespace(t, env, "e2e-production")
	ns.CreateSecret(t, "spacefleet-db", map[string][]byte{"password": []byte(pg.Password)})
	ns.CreateConfigMap(t, "spacefleet-db-ca", map[string]string{"ca.crt": string(pg.CA.PEM)})
	rel := h.NewRelease(ns, release)
	site := map[string]any{
		"externalDatabase": map[string]any{"host": pg.Host},
		"networkPolicy": map[string]any{
			"egress": map[string]any{"database": map[string]any{"cidrs": []any{}}},
			"extraEgress": []any{map[string]any{
				"to":    []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": pg.NS.Name}}}},
				"ports": []any{map[string]any{"port": 5432, "protocol": "TCP"}},
			}},
		},
	}
	res := rel.Install(t, []string{"production.yaml"}, site)
	require.NoError(t, res.Err, "helm install -f examples/values/production.yaml")
	t.Logf("TIMING install-to-Ready (production.yaml): %s", res.Duration.Round(time.Second))
	step("install-to-Ready")

	for _, obj := range []string{"ingress/" + rel.Web(), "hpa/" + rel.Web(), "pdb/" + rel.Web(), "pdb/" + rel.Worker(),
		"servicemonitor/" + rel.Object("metrics"), "prometheusrule/" + rel.Object("alerts"),
		"networkpolicy/" + rel.Web(), "networkpolicy/" + rel.Worker(), "networkpolicy/" + rel.Object("dbcheck")} {
		_, err := ns.Kubectl(t, "get", obj, "-o", "name")
		assert.NoErrorf(t, err, "%s was accepted and stored", obj)
	}
	tls, err := ns.Kubectl(t, "get", "ingress/"+rel.Web(), "-o", "jsonpath={.spec.tls[0].secretName}")
	require.NoError(t, err)
	assert.Equal(t, "spacefleet-tls", tls, "the Ingress serves TLS")
	notes := rel.Notes(t)
	assert.NotContains(t, notes, "WARNING", "the production example prints no warning")
	assert.Contains(t, notes, "sslmode: verify-full")

	ns.WaitReadyPods(t, rel.Selector("web"), 2, 3*time.Minute)    // the HPA's minimum
	ns.WaitReadyPods(t, rel.Selector("worker"), 2, 3*time.Minute) // worker.replicas
	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job)
	assert.True(t, h.JobCondition(job, "Complete"), "the migrate Job ran first and completed")
	for _, p := range ns.Pods(t, rel.Selector("web")) {
		c := p.Spec.Containers[0]
		assert.NotEmpty(t, c.Resources.Requests, "resources set")
		var spread []string
		for _, s := range p.Spec.TopologySpreadConstraints {
			spread = append(spread, s.TopologyKey)
		}
		assert.Equal(t, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, spread)
	}
	step("every object accepted, pods Ready")

	api := h.PortForward(t, ns, rel.Web())
	name := "production-" + h.RandHex(4)
	ship := api.CreateShip(t, name)
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name, "the API writes and reads under the NetworkPolicies")
	assertAllTLS(t, pg, "")
	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck report in helm test output")
	assert.True(t, check.TLS, "helm test: the server sees TLS")
	assert.Equal(t, "verify-full", check.SSLMode, "helm test: the server certificate is verified fully")
	assert.True(t, strings.HasPrefix(check.ApplicationName, "spacefleet-"), check.ApplicationName)
	step("API, TLS seen by the server, helm test")
}
