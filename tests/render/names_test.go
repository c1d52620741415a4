package render

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Every name Helm accepts must install (issue 17). Helm takes release names of 1 to 53 characters matching
// this rule; the chart must turn each of them (and any nameOverride/fullnameOverride) into object names that
// Kubernetes accepts, without two objects of a kind colliding, with every reference pointing at a rendered object.
const releaseChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// releaseName makes a random name of length n that Helm accepts: [a-z0-9] at both ends, '-' and '.' inside
// (never two dots in a row, never '-.' or '.-').
func releaseName(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = releaseChars[r.IntN(len(releaseChars))]
		if i > 0 && i < n-1 && b[i-1] != '.' && b[i-1] != '-' {
			switch r.IntN(8) {
			case 0:
				b[i] = '-'
			case 1:
				b[i] = '.'
			}
		}
	}
	return string(b)
}

// nameCases: the release names of the property test (every length 1..53, twice) and the value sets that render
// every object kind the chart has.
func nameValueSets() map[string][]string {
	return map[string][]string{
		"bundled-tls-certmanager": {"postgresql.tls.enabled=true", "postgresql.tls.certManager.issuerRef.name=ca",
			"web.ingress.enabled=true", "web.ingress.hosts[0].host=x.example.com", "web.autoscaling.enabled=true",
			"worker.autoscaling.enabled=true"},
		"external-url-hooks": {"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db.example.com/sf?sslmode=verify-full",
			"web.route.enabled=true", "web.route.parentRefs[0].name=gw"},
		"plain-job": {"postgresql.enabled=false", "externalDatabase.existingSecret=db", "migrations.useHelmHooks=false"},
	}
}

func TestEveryReleaseNameHelmAcceptsRendersValidNames(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 53))
	var names []string
	for n := 1; n <= 53; n++ {
		names = append(names, releaseName(r, n), releaseName(r, n))
	}
	names = append(names, "pr-4821-feature-longer-branch-name-for-review-env", strings.Repeat("a", 53), "1", "9abc", "a.b.c", "spacefleet")
	if testing.Short() {
		names = names[len(names)-12:]
	}
	checked := 0
	for set, vals := range nameValueSets() {
		for _, rel := range names {
			res, err := chart.Render(chart.Options{Set: vals, Release: rel})
			require.NoErrorf(t, err, "release %q (%d chars), %s", rel, len(rel), set)
			if err := validNames(res, rel); err != nil {
				t.Fatalf("release %q (%d chars), %s: %v", rel, len(rel), set, err)
			}
			checked++
		}
	}
	t.Logf("%d renders: every name valid, unique per kind, every reference resolved (release names of 1 to 53 characters)", checked)
}

func TestOverridesOfAnyLengthRenderValidNames(t *testing.T) {
	for _, o := range [][]string{
		{"fullnameOverride=" + strings.Repeat("f", 63)},
		{"fullnameOverride=" + strings.Repeat("f", 40) + "-" + strings.Repeat("g", 22)},
		{"nameOverride=" + strings.Repeat("n", 63)},
		{"nameOverride=" + strings.Repeat("n", 63), "fullnameOverride=9" + strings.Repeat("x", 62)},
		{"serviceAccount.name=" + strings.Repeat("s", 63)},
	} {
		for set, vals := range nameValueSets() {
			res, err := chart.Render(chart.Options{Set: append(append([]string{}, vals...), o...), Release: "r"})
			require.NoErrorf(t, err, "%v %s", o, set)
			require.NoErrorf(t, validNames(res, "r"), "%v %s", o, set)
		}
	}
}

// Short names keep their plain, documented form (only what does not fit is hashed).
func TestShortNamesStayReadable(t *testing.T) {
	res := render(t, nil)
	for kind, name := range map[string]string{"Deployment": "spacefleet-web", "StatefulSet": "spacefleet-postgresql",
		"Job": "spacefleet-migrate", "Secret": "spacefleet-database"} {
		require.NotNilf(t, res.Find(kind, name), "%s/%s", kind, name)
	}
	long := strings.Repeat("a", 53)
	res, err := chart.Render(chart.Options{Release: long})
	require.NoError(t, err)
	for _, o := range res.Objects {
		require.LessOrEqualf(t, len(o.Name), 63, "%s/%s", o.Kind, o.Name)
		require.Truef(t, strings.HasPrefix(o.Name, "aaaa"), "%s/%s keeps the release name as its stem", o.Kind, o.Name)
	}
}

func validNames(res *chart.Result, release string) error {
	seen := map[string]bool{}
	has := func(kind, name string) bool { return seen[kind+"/"+name] }
	for _, o := range res.Objects {
		key := o.Kind + "/" + o.Name
		if seen[key] {
			return fmt.Errorf("two %s objects named %q", o.Kind, o.Name)
		}
		seen[key] = true
		if len(o.Name) > 63 {
			return fmt.Errorf("%s: longer than 63 characters (%d)", key, len(o.Name))
		}
		if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
			return fmt.Errorf("%s: %v", key, errs)
		}
		// the Secrets the secrets Job ensures exist before any pod starts: a reference to one resolves
		for _, g := range generatedSecrets(o) {
			if errs := validation.IsDNS1123Subdomain(g); len(errs) > 0 {
				return fmt.Errorf("%s: generated Secret %q: %v", key, g, errs)
			}
			seen["Secret/"+g] = true
		}
		md, _ := o.Raw["metadata"].(map[string]any)
		if err := validLabels(key, md["labels"]); err != nil {
			return err
		}
	}
	pg := ""
	for _, o := range res.Objects {
		key := o.Kind + "/" + o.Name
		switch obj := o.Typed.(type) {
		case *corev1.Service:
			if errs := validation.IsDNS1035Label(o.Name); len(errs) > 0 {
				return fmt.Errorf("%s is not a DNS-1035 label: %v", key, errs)
			}
			if obj.Labels["app.kubernetes.io/component"] == "postgresql" && obj.Spec.ClusterIP != corev1.ClusterIPNone {
				pg = o.Name
			}
		case *appsv1.StatefulSet:
			// the controller labels pods with <name>-<10-character revision hash>
			if errs := validation.IsValidLabelValue(o.Name + "-7d9f8c6b5d"); len(errs) > 0 {
				return fmt.Errorf("%s: its controller-revision-hash label would be invalid: %v", key, errs)
			}
			if !has("Service", obj.Spec.ServiceName) {
				return fmt.Errorf("%s: serviceName %q is not a rendered Service", key, obj.Spec.ServiceName)
			}
			if err := podRefs(key, has, &obj.Spec.Template.Spec, obj.Spec.Template.Labels); err != nil {
				return err
			}
		case *appsv1.Deployment:
			if err := podRefs(key, has, &obj.Spec.Template.Spec, obj.Spec.Template.Labels); err != nil {
				return err
			}
		case *batchv1.Job:
			if errs := validation.IsValidLabelValue(o.Name); len(errs) > 0 { // the job-name label
				return fmt.Errorf("%s: the job-name label would be invalid: %v", key, errs)
			}
			if err := podRefs(key, has, &obj.Spec.Template.Spec, obj.Spec.Template.Labels); err != nil {
				return err
			}
		case *corev1.Pod:
			if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 { // the pod's host name
				return fmt.Errorf("%s: %v", key, errs)
			}
			if err := podRefs(key, has, &obj.Spec, obj.Labels); err != nil {
				return err
			}
		case *networkingv1.Ingress:
			for _, rule := range obj.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					if !has("Service", p.Backend.Service.Name) {
						return fmt.Errorf("%s: backend %q is not a rendered Service", key, p.Backend.Service.Name)
					}
				}
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if !has(obj.Spec.ScaleTargetRef.Kind, obj.Spec.ScaleTargetRef.Name) {
				return fmt.Errorf("%s: target %s/%s is not rendered", key, obj.Spec.ScaleTargetRef.Kind, obj.Spec.ScaleTargetRef.Name)
			}
		case *policyv1.PodDisruptionBudget:
			if !selectsAPod(res, obj.Spec.Selector.MatchLabels) {
				return fmt.Errorf("%s: its selector matches no rendered pod template", key)
			}
		case map[string]any: // CRDs: Certificate, HTTPRoute
			spec, _ := obj["spec"].(map[string]any)
			switch o.Kind {
			case "Certificate":
				if sn, _ := spec["secretName"].(string); len(validation.IsDNS1123Subdomain(sn)) > 0 {
					return fmt.Errorf("%s: secretName %q", key, sn)
				}
				if cn, _ := spec["commonName"].(string); len(cn) > 64 {
					return fmt.Errorf("%s: commonName %q is longer than X.509's 64", key, cn)
				}
			case "HTTPRoute":
				for _, rule := range spec["rules"].([]any) {
					for _, b := range rule.(map[string]any)["backendRefs"].([]any) {
						if n := b.(map[string]any)["name"].(string); !has("Service", n) {
							return fmt.Errorf("%s: backendRef %q is not a rendered Service", key, n)
						}
					}
				}
			}
		}
	}
	// The names that reach the app and the certificate are the truncated objects' names.
	if pg != "" {
		for _, o := range res.Objects {
			if s, ok := o.Typed.(*corev1.Secret); ok && s.Data["DATABASE_URL"] != nil {
				u, err := url.Parse(string(s.Data["DATABASE_URL"]))
				if err != nil {
					return fmt.Errorf("Secret/%s: %v", o.Name, err)
				}
				if want := pg + "." + chart.Namespace + ".svc"; u.Hostname() != want {
					return fmt.Errorf("Secret/%s: DATABASE_URL host %q, want the Service's %q", o.Name, u.Hostname(), want)
				}
			}
			if o.Kind == "Certificate" {
				dns := fmt.Sprint(o.Raw["spec"].(map[string]any)["dnsNames"])
				for _, want := range []string{pg, pg + "." + chart.Namespace + ".svc"} {
					if !strings.Contains(" "+strings.Trim(dns, "[]")+" ", " "+want+" ") {
						return fmt.Errorf("Certificate/%s: dnsNames %s lack %q", o.Name, dns, want)
					}
				}
			}
		}
	}
	return nil
}

func validLabels(key string, labels any) error {
	m, _ := labels.(map[string]any)
	for k, v := range m {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("%s: label key %q: %v", key, k, errs)
		}
		if errs := validation.IsValidLabelValue(fmt.Sprint(v)); len(errs) > 0 {
			return fmt.Errorf("%s: label %s=%q: %v", key, k, v, errs)
		}
	}
	return nil
}

// podRefs: the ServiceAccount, the chart-owned Secrets and ConfigMaps a pod names are rendered objects.
func podRefs(key string, has func(kind, name string) bool, pod *corev1.PodSpec, labels map[string]string) error {
	if err := validLabels(key+" pod template", toAny(labels)); err != nil {
		return err
	}
	if sa := pod.ServiceAccountName; sa != "" && sa != "default" && !has("ServiceAccount", sa) {
		return fmt.Errorf("%s: serviceAccountName %q is not a rendered ServiceAccount", key, sa)
	}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		for _, e := range c.Env {
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil && ref.SecretKeyRef.Name != "db" && !has("Secret", ref.SecretKeyRef.Name) {
				return fmt.Errorf("%s: env %s reads Secret %q, which is not rendered", key, e.Name, ref.SecretKeyRef.Name)
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && !has("ConfigMap", v.ConfigMap.Name) {
			return fmt.Errorf("%s: volume %s mounts ConfigMap %q, which is not rendered", key, v.Name, v.ConfigMap.Name)
		}
	}
	return nil
}

func toAny(m map[string]string) any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func selectsAPod(res *chart.Result, sel map[string]string) bool {
	for _, w := range res.Workloads() {
		labels := map[string]string{}
		switch t := w.Typed.(type) {
		case *appsv1.Deployment:
			labels = t.Spec.Template.Labels
		case *appsv1.StatefulSet:
			labels = t.Spec.Template.Labels
		default:
			continue
		}
		ok := true
		for k, v := range sel {
			if labels[k] != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
