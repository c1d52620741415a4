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

// TestNetworkPolicy: with an enforcing NetworkPolicy controller (images/netpol) in the cluster, the chart with
// networkPolicy.enabled and allowExternal=false on the bundled database installs and works (migrate Job, web Ready,
// API write and read, `helm test`), while a pod outside the release is refused by the database and by web. Every
// NetworkPolicy failure fails open, so each refusal is checked next to a positive control: a probe that does connect
// to the same address (a pod carrying the release's labels), and the outsider itself reaching an unrestricted one.
// On a multi-node cluster the probes run on the control plane and the release on the workers: every connection
// checked crosses nodes (the node each side runs on is asserted).
// Not parallel: the controller sees every new connection in the cluster and slows other suites' down (see
// WithoutNetworkPolicyController), so this suite runs alone, before the parallel ones; its cleanup removes it.
func TestNetworkPolicy(t *testing.T) {
	env := h.Load(t)
	h.Timer(t)
	step := stepTimer(t)
	h.InstallNetworkPolicyController(t, env)
	step("controller enforcing")

	ns := h.NewNamespace(t, env, "e2e-netpol")
	rel := h.NewRelease(ns, release)
	res := rel.Install(t, []string{"dev.yaml"}, map[string]any{"networkPolicy": map[string]any{"enabled": true, "allowExternal": false}})
	require.NoError(t, res.Err, "helm install with networkPolicy.enabled")
	step("install-to-Ready")
	pols, err := ns.Kubectl(t, "get", "networkpolicy", "-o", "name")
	require.NoError(t, err)
	for _, c := range []string{"web", "worker", "dbcheck", "postgresql"} {
		assert.Contains(t, pols, "networkpolicy.networking.k8s.io/"+rel.Fullname()+"-"+c)
	}

	// The release's own pods reach the database: the hooked migrate Job ran, web is Ready (/readyz queries the
	// database), the API writes and reads, and the `helm test` pod connects.
	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job)
	assert.True(t, h.JobCondition(job, "Complete"), "migrate Job is Complete")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("web")), "web Ready")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("worker")), "worker Ready")
	api := h.PortForward(t, ns, rel.Web())
	name := "netpol-" + h.RandHex(4)
	ship := api.CreateShip(t, name)
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")
	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck printed its report")
	assert.Equal(t, "spacefleet-dbcheck", check.ApplicationName)
	step("release works (API, helm test)")

	// Three probes in the release's namespace. insider carries the `helm test` pod's labels, so the chart's
	// policies treat it as a database client (its egress is DNS and the database only); webClient carries the
	// client label web admits with allowExternal=false; outsider carries neither.
	sel := map[string]string{"app.kubernetes.io/name": "spacefleet", "app.kubernetes.io/instance": rel.Name}
	insider := h.NewProbePod(t, ns, "insider", merge(sel, map[string]string{"app.kubernetes.io/component": "dbcheck"}), h.OnControlPlane)
	webClient := h.NewProbePod(t, ns, "web-client", map[string]string{rel.Fullname() + "-client": "true"}, h.OnControlPlane)
	outsider := h.NewProbePod(t, ns, "outsider", map[string]string{"app": "e2e-outsider"}, h.OnControlPlane)
	step("probe pods Running")
	if len(h.Workers(t, env)) > 0 {
		probeNode := ns.NodeOf(t, outsider.Name)
		servers := map[string]string{"database": ns.NodeOf(t, rel.PostgresPod())}
		for _, p := range ns.Pods(t, rel.Selector("web")) {
			servers["web"] = p.Spec.NodeName
		}
		for what, node := range servers {
			require.NotEqual(t, probeNode, node, "the probes (on %s) and %s must run on different nodes", probeNode, what)
		}
		t.Logf("probes on %s, %v: every connection crosses nodes", probeNode, servers)
	} else {
		t.Logf("one node: the probes and the release share it")
	}

	db, web := rel.PostgresHost(), rel.Web()+"."+ns.Name+".svc"
	const dnsTCP = "kube-dns.kube-system.svc"
	// Positive controls first; they also wait until the controller knows the new pods' addresses.
	require.Equal(t, h.Open, insider.EventuallyTCP(t, db, 5432, h.Open, time.Minute), "insider -> database: a release client connects")
	require.Equal(t, h.Open, webClient.EventuallyTCP(t, web, 80, h.Open, time.Minute), "client-labelled pod -> web")
	require.Equal(t, h.Open, outsider.EventuallyTCP(t, dnsTCP, 53, h.Open, time.Minute), "outsider -> kube-dns: its own network works")
	step("positive controls")

	// The refusals: a dropped SYN times out (a refusal by RST, or an open port, would mean no policy applied).
	for i := 0; i < 2; i++ {
		assert.Equal(t, h.Timeout, outsider.TCP(t, db, 5432, 3*time.Second), "outsider -> database must be dropped")
		assert.Equal(t, h.Timeout, outsider.TCP(t, web, 80, 3*time.Second), "outsider -> web must be dropped (allowExternal=false)")
		assert.Equal(t, h.Timeout, insider.TCP(t, web, 80, 3*time.Second), "a database client's egress is DNS and the database only")
	}
	assert.Contains(t, outsider.PgIsReady(t, db, 5432, 5*time.Second), "no response", "pg_isready from the outsider")
	assert.Contains(t, insider.PgIsReady(t, db, 5432, 5*time.Second), "accepting connections", "pg_isready from the insider")
	// And the database still serves the release after all that.
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name)
	step("refusals")
	if t.Failed() {
		h.Logf(t, "kube-network-policies log tail:\n%s", h.NetworkPolicyControllerLogs(t, env))
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// stepTimer logs "TIMING <test> <step>: <duration since the previous step>".
func stepTimer(t *testing.T) func(string) {
	last := time.Now()
	return func(step string) {
		t.Logf("TIMING %s %s: %s", t.Name(), strings.ReplaceAll(step, " ", "-"), time.Since(last).Round(100*time.Millisecond))
		last = time.Now()
	}
}
