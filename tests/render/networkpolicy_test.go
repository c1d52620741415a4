package render

import (
	"net"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The NetworkPolicies are checked by what they allow, not by their shape: a small evaluator of the NetworkPolicy
// rules (the semantics every enforcing plugin implements) decides whether one endpoint may open a connection to
// another, and the pods are the chart's own rendered pod templates. tests/e2e/networkpolicy_test.go proves the same
// rules against a real enforcing controller in kind.

// endpoint is a pod (namespace, labels, its namespace's labels) or an address outside the cluster (ip).
type endpoint struct {
	name     string
	ns       string
	labels   map[string]string
	nsLabels map[string]string
	ip       string
}

func inNS(ns, name string, labels map[string]string) endpoint {
	return endpoint{name: name, ns: ns, labels: labels, nsLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
}

func outside(name, ip string) endpoint { return endpoint{name: name, ip: ip} }

var (
	kubeDNS  = inNS("kube-system", "kube-dns", map[string]string{"k8s-app": "kube-dns"})
	intruder = inNS(chart.Namespace, "intruder", map[string]string{"app": "intruder"})
	internet = outside("internet", "93.184.216.34")
)

// pod is the rendered pod template of a component, in the release's namespace.
func pod(t *testing.T, res *chart.Result, component string) endpoint {
	t.Helper()
	w, ok := res.Workloads()[component]
	require.Truef(t, ok, "no workload %q", component)
	var labels map[string]string
	switch o := w.Typed.(type) {
	case *appsv1.Deployment:
		labels = o.Spec.Template.Labels
	case *appsv1.StatefulSet:
		labels = o.Spec.Template.Labels
	case *batchv1.Job:
		labels = o.Spec.Template.Labels
	case *corev1.Pod:
		labels = o.Labels
	}
	require.NotEmptyf(t, labels, "%s: pod labels", component)
	return inNS(chart.Namespace, component, labels)
}

func policies(res *chart.Result) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, o := range res.All("NetworkPolicy") {
		np := o.Typed.(*networkingv1.NetworkPolicy)
		if np.Namespace == "" {
			np.Namespace = chart.Namespace
		}
		out = append(out, np)
	}
	return out
}

func matches(t *testing.T, sel *metav1.LabelSelector, labels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	require.NoError(t, err)
	return s.Matches(k8slabels.Set(labels))
}

func hasType(np *networkingv1.NetworkPolicy, typ networkingv1.PolicyType) bool {
	for _, p := range np.Spec.PolicyTypes {
		if p == typ {
			return true
		}
	}
	return false
}

func portMatches(ports []networkingv1.NetworkPolicyPort, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp == proto && (p.Port == nil || p.Port.IntVal == port) {
			return true
		}
	}
	return false
}

// peerMatches: is ep one of the peers of a rule of a policy in namespace policyNS?
func peerMatches(t *testing.T, peers []networkingv1.NetworkPolicyPeer, policyNS string, ep endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			if ep.ip == "" {
				continue
			}
			_, cidr, err := net.ParseCIDR(p.IPBlock.CIDR)
			require.NoError(t, err)
			if cidr.Contains(net.ParseIP(ep.ip)) {
				return true
			}
			continue
		}
		if ep.ns == "" { // an address outside the cluster is no pod
			continue
		}
		nsOK := ep.ns == policyNS
		if p.NamespaceSelector != nil {
			nsOK = matches(t, p.NamespaceSelector, ep.nsLabels)
		}
		if nsOK && (p.PodSelector == nil || matches(t, p.PodSelector, ep.labels)) {
			return true
		}
	}
	return false
}

// allowed: may from open a connection to to:port/proto? Egress of from and ingress of to must both admit it; a pod
// no policy selects (for that direction) is not isolated.
func allowed(t *testing.T, pols []*networkingv1.NetworkPolicy, from, to endpoint, port int32, proto corev1.Protocol) bool {
	t.Helper()
	egress, isolated := false, false
	for _, np := range pols {
		if from.ns == np.Namespace && hasType(np, networkingv1.PolicyTypeEgress) && matches(t, &np.Spec.PodSelector, from.labels) {
			isolated = true
			for _, r := range np.Spec.Egress {
				egress = egress || (portMatches(r.Ports, port, proto) && peerMatches(t, r.To, np.Namespace, to))
			}
		}
	}
	if isolated && !egress {
		return false
	}
	ingress, isolated := false, false
	for _, np := range pols {
		if to.ns == np.Namespace && hasType(np, networkingv1.PolicyTypeIngress) && matches(t, &np.Spec.PodSelector, to.labels) {
			isolated = true
			for _, r := range np.Spec.Ingress {
				ingress = ingress || (portMatches(r.Ports, port, proto) && peerMatches(t, r.From, np.Namespace, from))
			}
		}
	}
	return !isolated || ingress
}

const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP

func assertFlow(t *testing.T, pols []*networkingv1.NetworkPolicy, want bool, from, to endpoint, port int32, proto corev1.Protocol) {
	t.Helper()
	verb := map[bool]string{true: "must reach", false: "must not reach"}[want]
	assert.Equalf(t, want, allowed(t, pols, from, to, port, proto), "%s %s %s:%d/%s", from.name, verb, to.name, port, proto)
}

var netpolOn = []string{"networkPolicy.enabled=true"}

func TestNetworkPolicyOffRendersNone(t *testing.T) {
	assert.Empty(t, render(t, nil).All("NetworkPolicy"), "networkPolicy.enabled defaults to false")
	assert.Empty(t, render(t, nil, external...).All("NetworkPolicy"))
	assert.Len(t, render(t, nil, netpolOn...).All("NetworkPolicy"), 6, "on: web, worker, migrate, dbcheck, postgresql, and the secrets Job's (a generated password)")
	assert.Len(t, render(t, nil, append([]string{"postgresql.auth.existingSecret=mine"}, netpolOn...)...).All("NetworkPolicy"), 5, "nothing generated (your own password Secret): no secrets Job, no policy for it")
}

// Bitnami's way: one policy per component, each selecting exactly its component's pods.
func TestNetworkPolicyOnePerComponent(t *testing.T) {
	res := render(t, nil, netpolOn...)
	pols := policies(res)
	comps := []string{"web", "worker", "migrate", "dbcheck", "postgresql", "secrets"}
	for _, c := range comps {
		o := res.Find("NetworkPolicy", "spacefleet-"+c)
		require.NotNilf(t, o, "NetworkPolicy spacefleet-%s", c)
		np := o.Typed.(*networkingv1.NetworkPolicy)
		for _, other := range comps {
			assert.Equalf(t, c == other, matches(t, &np.Spec.PodSelector, pod(t, res, other).labels), "policy %s selects the %s pod", c, other)
		}
		assert.Truef(t, hasType(np, networkingv1.PolicyTypeIngress), "%s: Ingress", c)
		assert.Truef(t, hasType(np, networkingv1.PolicyTypeEgress), "%s: Egress (allowExternalEgress=false by default)", c)
	}
	assert.Len(t, pols, len(comps))
}

// The rule: the bundled PostgreSQL accepts connections only from this release's web, worker, migrate and
// `helm test` pods (their rendered labels, the hooked migrate Job's included).
func TestBundledDatabaseAdmitsOnlyTheReleasesClients(t *testing.T) {
	for name, set := range map[string][]string{"hooked migrate": netpolOn, "plain migrate Job": append([]string{"migrations.useHelmHooks=false"}, netpolOn...)} {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, set...)
			pols := policies(res)
			db := pod(t, res, "postgresql")
			for _, c := range dbClients {
				assertFlow(t, pols, true, pod(t, res, c), db, 5432, tcp)
			}
			assertFlow(t, pols, false, intruder, db, 5432, tcp)
			assertFlow(t, pols, false, pod(t, res, "web"), db, 5433, tcp)
			otherWeb := pod(t, res, "web")
			otherWeb.name, otherWeb.labels = "another release's web", copyLabels(otherWeb.labels, "app.kubernetes.io/instance", "other")
			assertFlow(t, pols, false, otherWeb, db, 5432, tcp)
			sameLabelsElsewhere := pod(t, res, "web")
			sameLabelsElsewhere.name, sameLabelsElsewhere.ns, sameLabelsElsewhere.nsLabels = "web labels in another namespace", "other", map[string]string{"kubernetes.io/metadata.name": "other"}
			assertFlow(t, pols, false, sameLabelsElsewhere, db, 5432, tcp)
			assertFlow(t, pols, false, db, internet, 443, tcp) // the database calls nothing
			assertFlow(t, pols, true, db, kubeDNS, 53, udp)
		})
	}
}

func copyLabels(l map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range l {
		out[a] = b
	}
	out[k] = v
	return out
}

// Egress of the app pods: DNS and the database only, unless allowExternalEgress.
func TestAppEgressIsDNSAndTheDatabase(t *testing.T) {
	res := render(t, nil, netpolOn...)
	pols := policies(res)
	for _, c := range dbClients {
		p := pod(t, res, c)
		assertFlow(t, pols, true, p, kubeDNS, 53, udp)
		assertFlow(t, pols, true, p, kubeDNS, 53, tcp)
		assertFlow(t, pols, false, p, kubeDNS, 80, tcp)
		assertFlow(t, pols, false, p, inNS("other", "dns elsewhere", map[string]string{"k8s-app": "kube-dns"}), 53, udp)
		assertFlow(t, pols, false, p, internet, 443, tcp)
		assertFlow(t, pols, false, p, intruder, 8080, tcp)
	}
	assertFlow(t, pols, false, pod(t, res, "worker"), pod(t, res, "web"), 8080, tcp)
	assertFlow(t, pols, false, pod(t, res, "web"), pod(t, res, "worker"), 8081, tcp)

	open := policies(render(t, nil, append([]string{"networkPolicy.allowExternalEgress=true"}, netpolOn...)...))
	for _, c := range append([]string{"postgresql"}, dbClients...) {
		assertFlow(t, open, true, pod(t, res, c), internet, 443, tcp)
	}
	assertFlow(t, open, false, intruder, pod(t, res, "postgresql"), 5432, tcp)

	dns := policies(render(t, nil, append([]string{"networkPolicy.egress.dns.cidrs={169.254.20.10/32}", "networkPolicy.egress.dns.port=5353"}, netpolOn...)...))
	assertFlow(t, dns, true, pod(t, res, "web"), outside("nodelocaldns", "169.254.20.10"), 5353, udp)
	assertFlow(t, dns, false, pod(t, res, "web"), outside("nodelocaldns", "169.254.20.10"), 53, udp)
}

func TestExternalDatabaseEgressGoesToItsCIDRs(t *testing.T) {
	vals := map[string]any{
		"postgresql":       map[string]any{"enabled": false},
		"externalDatabase": map[string]any{"existingSecret": "db"},
		"networkPolicy": map[string]any{"enabled": true,
			"egress": map[string]any{"database": map[string]any{"cidrs": []any{"10.20.0.0/16"}, "ports": []any{5432, 6432}}},
			"extraEgress": []any{map[string]any{
				"to":    []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "{{ .Release.Namespace }}-db"}}}},
				"ports": []any{map[string]any{"port": 5432}}}}},
	}
	res, err := chart.Render(chart.Options{Values: vals})
	require.NoError(t, err)
	pols := policies(res)
	assert.Nil(t, res.Find("NetworkPolicy", "spacefleet-postgresql"), "no bundled database, no policy for it")
	db, other := outside("rds", "10.20.1.5"), outside("elsewhere", "10.99.0.1")
	cnpg := inNS(chart.Namespace+"-db", "cloudnativepg", map[string]string{"cnpg.io/cluster": "pg"})
	for _, c := range dbClients {
		p := pod(t, res, c)
		assertFlow(t, pols, true, p, db, 5432, tcp)
		assertFlow(t, pols, true, p, db, 6432, tcp)
		assertFlow(t, pols, false, p, db, 22, tcp)
		assertFlow(t, pols, false, p, other, 5432, tcp)
		assertFlow(t, pols, true, p, cnpg, 5432, tcp) // extraEgress, tpl-rendered
		assertFlow(t, pols, false, p, cnpg, 8000, tcp)
	}
}

// web: anyone (allowExternal) on web.port only; or only the client label and the configured sources.
func TestWebIngressSources(t *testing.T) {
	res := render(t, nil, append([]string{"web.port=9000"}, netpolOn...)...)
	pols := policies(res)
	web := pod(t, res, "web")
	assertFlow(t, pols, true, intruder, web, 9000, tcp)
	assertFlow(t, pols, true, internet, web, 9000, tcp)
	assertFlow(t, pols, false, intruder, web, 8080, tcp)

	vals := map[string]any{"networkPolicy": map[string]any{"enabled": true, "allowExternal": false,
		"ingress": map[string]any{
			"namespaceSelector": map[string]any{"kubernetes.io/metadata.name": "ingress-nginx"},
			"podSelector":       map[string]any{"app.kubernetes.io/name": "ingress-nginx"},
			"cidrs":             []any{"10.1.0.0/16"}},
		"extraIngress": []any{map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "{{ .Release.Name }}-scraper"}}}},
			"ports": []any{map[string]any{"port": 9102}}}}}}
	res, err := chart.Render(chart.Options{Values: vals})
	require.NoError(t, err)
	pols = policies(res)
	web = pod(t, res, "web")
	nginx := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
	assertFlow(t, pols, false, intruder, web, 8080, tcp)
	assertFlow(t, pols, false, internet, web, 8080, tcp)
	assertFlow(t, pols, true, inNS(chart.Namespace, "client-labelled pod", map[string]string{"spacefleet-client": "true"}), web, 8080, tcp)
	assert.Contains(t, res.Notes, "labelled spacefleet-client=true", "NOTES name the client label")
	assert.NotContains(t, render(t, nil, netpolOn...).Notes, "-client=true", "no client label to tell with allowExternal=true")
	assertFlow(t, pols, false, inNS("other", "client label in another namespace", map[string]string{"spacefleet-client": "true"}), web, 8080, tcp)
	assertFlow(t, pols, true, inNS("ingress-nginx", "ingress controller", nginx), web, 8080, tcp)
	assertFlow(t, pols, false, inNS("ingress-nginx", "another pod of the controller's namespace", map[string]string{"app": "x"}), web, 8080, tcp)
	assertFlow(t, pols, false, inNS("default", "controller labels elsewhere", nginx), web, 8080, tcp)
	assertFlow(t, pols, true, outside("load balancer", "10.1.2.3"), web, 8080, tcp)
	assertFlow(t, pols, false, outside("load balancer", "10.2.2.3"), web, 8080, tcp)
	assertFlow(t, pols, true, inNS(chart.Namespace, "scraper", map[string]string{"app": "spacefleet-scraper"}), web, 9102, tcp)
	assertFlow(t, pols, false, inNS(chart.Namespace, "scraper", map[string]string{"app": "spacefleet-scraper"}), web, 8080, tcp)
	// only a namespace: every pod of it
	ns, err := chart.Render(chart.Options{Set: []string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "networkPolicy.ingress.namespaceSelector.team=edge"}})
	require.NoError(t, err)
	edge := inNS("edge", "pod of the edge namespace", map[string]string{"app": "x"})
	edge.nsLabels["team"] = "edge"
	assertFlow(t, policies(ns), true, edge, pod(t, ns, "web"), 8080, tcp)
	assertFlow(t, policies(ns), false, inNS("edge2", "pod elsewhere", map[string]string{"app": "x"}), pod(t, ns, "web"), 8080, tcp)
}

// The client label follows the naming rule, so it stays a valid label key for a 53-character release name.
func TestWebClientLabelIsAValidKeyForLongReleaseNames(t *testing.T) {
	for _, rel := range []string{"spacefleet", "prod", strings.Repeat("r", 53)} {
		res, err := chart.Render(chart.Options{Release: rel, Set: []string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false"}})
		require.NoError(t, err)
		var web *networkingv1.NetworkPolicy
		for _, np := range policies(res) {
			if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] == "web" {
				web = np
			}
		}
		require.NotNil(t, web)
		require.NotEmpty(t, web.Spec.Ingress[0].From)
		for k, v := range web.Spec.Ingress[0].From[0].PodSelector.MatchLabels {
			assert.Emptyf(t, validation.IsQualifiedName(k), "release %s: client label key %q", rel, k)
			assert.True(t, strings.HasSuffix(k, "-client"), k)
			assert.Equal(t, "true", v)
		}
	}
}

// A hooked migrate Job runs before (pre-install) or beside (post-install) the release's objects: its policy is a
// hook of its own, created before the Job and removed with the phase, like its ServiceAccount.
func TestMigratePolicyFollowsTheJob(t *testing.T) {
	for name, tc := range map[string]struct {
		set   []string
		phase string
	}{
		"bundled":  {netpolOn, "post-install,pre-upgrade"},
		"external": {append([]string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "networkPolicy.egress.database.cidrs={10.0.0.0/8}"}, netpolOn...), "pre-install,pre-upgrade"},
		"plain":    {append([]string{"migrations.useHelmHooks=false"}, netpolOn...), ""},
	} {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, tc.set...)
			o := res.Find("NetworkPolicy", "spacefleet-migrate")
			require.NotNil(t, o)
			ann := o.Typed.(*networkingv1.NetworkPolicy).Annotations
			if tc.phase == "" {
				assert.False(t, o.Hook, "a plain Job's policy is a release object")
				assert.Empty(t, ann["helm.sh/hook"])
				return
			}
			assert.True(t, o.Hook)
			assert.Equal(t, tc.phase, ann["helm.sh/hook"])
			assert.Equal(t, "-10", ann["helm.sh/hook-weight"], "before the Job (weight 0)")
			assert.Equal(t, "before-hook-creation,hook-succeeded", ann["helm.sh/hook-delete-policy"])
			for _, c := range []string{"web", "worker", "dbcheck", "postgresql"} {
				if p := res.Find("NetworkPolicy", "spacefleet-"+c); p != nil {
					assert.Falsef(t, p.Hook, "%s's policy is a release object", c)
				}
			}
		})
	}
}

// Nonsense combinations fail at `helm template`, naming the key; each has a corrected twin that renders.
func TestNetworkPolicyNonsenseIsRefused(t *testing.T) {
	ext := []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "networkPolicy.enabled=true"}
	cases := []struct {
		name      string
		bad, good []string
		key       string
	}{
		{"ingress sources while allowExternal", []string{"networkPolicy.enabled=true", "networkPolicy.ingress.cidrs={10.0.0.0/8}"},
			[]string{"networkPolicy.enabled=true", "networkPolicy.ingress.cidrs={10.0.0.0/8}", "networkPolicy.allowExternal=false"}, "networkPolicy.allowExternal"},
		{"pod selector while allowExternal", []string{"networkPolicy.enabled=true", "networkPolicy.ingress.podSelector.app=lb"},
			[]string{"networkPolicy.enabled=true", "networkPolicy.ingress.podSelector.app=lb", "networkPolicy.allowExternal=false"}, "networkPolicy.ingress"},
		{"ingress with no source", []string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "web.ingress.enabled=true"},
			[]string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "web.ingress.enabled=true", "networkPolicy.ingress.namespaceSelector.kubernetes\\.io/metadata\\.name=ingress-nginx"}, "networkPolicy.ingress.namespaceSelector"},
		{"LoadBalancer web with no source", []string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "web.service.type=LoadBalancer"},
			[]string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "web.service.type=LoadBalancer", "networkPolicy.ingress.cidrs={0.0.0.0/0}"}, "networkPolicy.ingress.cidrs"},
		{"database CIDRs with the bundled database", []string{"networkPolicy.enabled=true", "networkPolicy.egress.database.cidrs={10.0.0.0/8}"},
			append(append([]string{}, ext...), "networkPolicy.egress.database.cidrs={10.0.0.0/8}"), "networkPolicy.egress.database.cidrs"},
		{"external database unreachable", ext,
			append(append([]string{}, ext...), "networkPolicy.egress.database.cidrs={10.0.0.0/8}"), "networkPolicy.egress.database.cidrs"},
		{"external database, allowExternalEgress", append(append([]string{}, ext...), "networkPolicy.allowExternalEgress=true", "networkPolicy.egress.database.cidrs={10.0.0.0/8}"),
			append(append([]string{}, ext...), "networkPolicy.allowExternalEgress=true"), "networkPolicy.allowExternalEgress"},
		{"extraEgress while allowExternalEgress", []string{"networkPolicy.enabled=true", "networkPolicy.allowExternalEgress=true", "networkPolicy.extraEgress[0].ports[0].port=25"},
			[]string{"networkPolicy.enabled=true", "networkPolicy.extraEgress[0].ports[0].port=25"}, "networkPolicy.extraEgress"},
		{"postgresql.extraIngress without the bundled database", append(append([]string{}, ext...), "networkPolicy.egress.database.cidrs={10.0.0.0/8}", "networkPolicy.postgresql.extraIngress[0].ports[0].port=5432"),
			[]string{"networkPolicy.enabled=true", "networkPolicy.postgresql.extraIngress[0].ports[0].port=5432"}, "networkPolicy.postgresql.extraIngress"},
		{"exposed bundled database", []string{"networkPolicy.enabled=true", "postgresql.service.type=NodePort"},
			[]string{"networkPolicy.enabled=true", "postgresql.service.type=NodePort", "networkPolicy.postgresql.extraIngress[0].from[0].ipBlock.cidr=10.0.0.0/8"}, "networkPolicy.postgresql.extraIngress"},
		{"not a CIDR", []string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "networkPolicy.ingress.cidrs={10.0.0.0}"},
			[]string{"networkPolicy.enabled=true", "networkPolicy.allowExternal=false", "networkPolicy.ingress.cidrs={10.0.0.0/32}"}, "networkPolicy.ingress.cidrs"},
		{"unknown key", []string{"networkPolicy.enabled=true", "networkPolicy.allowExternalIngress=false"}, nil, "allowExternalIngress"},
		{"no database port", append(append([]string{}, ext...), "networkPolicy.egress.database.cidrs={10.0.0.0/8}", "networkPolicy.egress.database.ports={}"),
			append(append([]string{}, ext...), "networkPolicy.egress.database.cidrs={10.0.0.0/8}", "networkPolicy.egress.database.ports={6432}"), "networkPolicy.egress.database.ports"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := renderErr(nil, tc.bad...)
			require.Error(t, err, "must be refused")
			assertNamesKey(t, err, tc.key)
			if tc.good != nil {
				assert.NoError(t, renderErr(nil, tc.good...), "the corrected values render")
			}
		})
	}
	// The same combinations are ignored while networkPolicy is off (nothing is rendered for them).
	assert.NoError(t, renderErr(nil, "networkPolicy.ingress.cidrs={10.0.0.0/8}", "networkPolicy.egress.database.cidrs={10.0.0.0/8}"))
}

// The checks stand without the schema too (`helm template --skip-schema-validation`, or a parent chart's).
func TestNetworkPolicyChecksWithoutTheSchema(t *testing.T) {
	vals, err := chart.ValuesFrom(chart.Options{Set: []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "networkPolicy.enabled=true"}})
	require.NoError(t, err)
	_, err = chart.RenderWithoutSchema(vals)
	require.Error(t, err)
	assertNamesKey(t, err, "networkPolicy.egress.database.cidrs")
}

// With metrics on, web's and worker's metrics port admits the scraper networkPolicy.metrics names (anyone when it
// names none), and nothing else beyond what web admits anyway.
func TestMetricsPortAdmitsTheScraper(t *testing.T) {
	res := render(t, nil, append([]string{"networkPolicy.allowExternal=false"}, netpolOn...)...)
	pols := policies(res)
	for _, c := range []string{"web", "worker"} {
		assertFlow(t, pols, true, intruder, pod(t, res, c), 9090, tcp)
	}
	res = render(t, nil, append([]string{"networkPolicy.allowExternal=false",
		"networkPolicy.metrics.namespaceSelector.kubernetes\\.io/metadata\\.name=monitoring",
		"networkPolicy.metrics.podSelector.app\\.kubernetes\\.io/name=prometheus"}, netpolOn...)...)
	pols = policies(res)
	prom := inNS("monitoring", "prometheus", map[string]string{"app.kubernetes.io/name": "prometheus"})
	prom.nsLabels["kubernetes.io/metadata.name"] = "monitoring"
	for _, c := range []string{"web", "worker"} {
		assertFlow(t, pols, true, prom, pod(t, res, c), 9090, tcp)
		assertFlow(t, pols, false, intruder, pod(t, res, c), 9090, tcp)
		assertFlow(t, pols, false, prom, pod(t, res, c), 8081, tcp)
	}
	assertFlow(t, pols, false, prom, pod(t, res, "web"), 8080, tcp)
	res = render(t, nil, append([]string{"metrics.enabled=false"}, netpolOn...)...)
	assertFlow(t, policies(res), false, intruder, pod(t, res, "worker"), 9090, tcp)
}

// A connection by parts on another port: the egress rule must list it, or the pods could not reach the database.
func TestExternalDatabaseEgressCoversItsPort(t *testing.T) {
	parts := []string{"networkPolicy.enabled=true", "postgresql.enabled=false", "externalDatabase.host=db.example.com",
		"externalDatabase.database=d", "externalDatabase.username=u", "externalDatabase.existingSecret=s",
		"externalDatabase.existingSecretKeys.password=p", "networkPolicy.egress.database.cidrs[0]=10.0.0.0/8"}
	err := renderErr(nil, append(parts, "externalDatabase.port=6432")...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "networkPolicy.egress.database.ports")
	res := render(t, nil, append(parts, "externalDatabase.port=6432", "networkPolicy.egress.database.ports[0]=6432")...)
	assertFlow(t, policies(res), true, pod(t, res, "web"), outside("database", "10.0.0.7"), 6432, tcp)
	render(t, nil, parts...) // the default port 5432 is in the default list
}

// The secrets Job reaches only DNS and the API server (it talks to no database), through a hook policy that exists
// before it; no policy when there is nothing to generate.
func TestSecretsJobPolicyAllowsOnlyDNSAndTheAPIServer(t *testing.T) {
	res := render(t, nil, "networkPolicy.enabled=true", "networkPolicy.egress.kubeAPI.cidrs[0]=172.18.0.2/32")
	o := res.Find("NetworkPolicy", "spacefleet-secrets")
	require.NotNil(t, o)
	np := o.Typed.(*networkingv1.NetworkPolicy)
	assert.Equal(t, "secrets", np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"])
	assert.Equal(t, "-30", np.Annotations["helm.sh/hook-weight"], "before the Job (-20)")
	assert.Equal(t, "pre-install,pre-upgrade", np.Annotations["helm.sh/hook"])
	require.Len(t, np.Spec.Egress, 2, "DNS and the API server")
	api := np.Spec.Egress[1]
	var ports []int32
	for _, p := range api.Ports {
		ports = append(ports, p.Port.IntVal)
	}
	assert.Equal(t, []int32{443, 6443}, ports)
	require.Len(t, api.To, 1)
	assert.Equal(t, "172.18.0.2/32", api.To[0].IPBlock.CIDR)
	assert.Empty(t, np.Spec.Ingress)
	assert.Nil(t, render(t, nil, "networkPolicy.enabled=true", "postgresql.auth.existingSecret=mine").Find("NetworkPolicy", "spacefleet-secrets"),
		"nothing to generate, no Job, no policy")
}
