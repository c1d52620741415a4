package render

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// generatedSecrets: the Secrets a secrets Job ensures (from its SPACEFLEET_SECRETS), nil for any other object.
func generatedSecrets(o chart.Object) []string {
	job, ok := o.Typed.(*batchv1.Job)
	if !ok || job.Labels["app.kubernetes.io/component"] != "secrets" {
		return nil
	}
	var names []string
	for _, sp := range secretSpecs(job) {
		names = append(names, sp.Name)
	}
	return names
}

type secretSpec struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Generate map[string]string `json:"generate"`
	Adopt    []struct {
		Secret, Key, As string
	} `json:"adopt"`
	SelfSigned *struct {
		CommonName string   `json:"commonName"`
		DNSNames   []string `json:"dnsNames"`
	} `json:"selfSigned"`
	Set map[string]string `json:"set"`
	Fix string            `json:"fix"`
}

func secretSpecs(job *batchv1.Job) []secretSpec {
	var specs []secretSpec
	for _, c := range job.Spec.Template.Spec.Containers {
		if e := chart.Env(c, "SPACEFLEET_SECRETS"); e != nil {
			_ = json.Unmarshal([]byte(e.Value), &specs)
		}
	}
	return specs
}

// secretsJob: the create-if-missing Job (<fullname>-secrets); passwordSetJob: the one that writes the values' password.
func secretsJob(res *chart.Result) *batchv1.Job { return jobNamed(res, "spacefleet-secrets") }

func passwordSetJob(res *chart.Result) *batchv1.Job { return jobNamed(res, "spacefleet-password-set") }

func jobNamed(res *chart.Result, name string) *batchv1.Job {
	if o := res.Find("Job", name); o != nil {
		return o.Typed.(*batchv1.Job)
	}
	return nil
}

// renderSets: the defaults, every example, and the value sets that generate something or order things differently.
func renderSets() map[string]chart.Options {
	sets := map[string]chart.Options{
		"default":                   {},
		"web.tls.selfSigned":        {Set: []string{"web.tls.enabled=true", "web.tls.selfSigned=true"}},
		"useHelmHooks=false":        {Set: []string{"migrations.useHelmHooks=false"}},
		"bundled TLS, cert-manager": {Set: []string{"postgresql.tls.enabled=true", "postgresql.tls.certManager.issuerRef.name=ca", "postgresql.tls.clientCertificates.enabled=true"}},
	}
	for _, f := range chart.ExampleFiles() {
		sets[f] = chart.Options{Files: []string{f}}
	}
	return sets
}

// One render for one set of values: Argo CD renders with `helm template` on every refresh, and Flux diffs renders
// for drift. Two renders (install and upgrade alike) must be the same bytes: no generated value, no lookup result.
func TestOneRenderForOneSetOfValues(t *testing.T) {
	n := 0
	for name, o := range renderSets() {
		for _, upgrade := range []bool{false, true} {
			o.Upgrade = upgrade
			a, err := chart.Render(o)
			require.NoErrorf(t, err, "%s", name)
			b, err := chart.Render(o)
			require.NoError(t, err)
			if a.Text != b.Text {
				al, bl := lines(a.Text), lines(b.Text)
				for i := range al {
					if i >= len(bl) || al[i] != bl[i] {
						t.Fatalf("%s (upgrade=%v): two renders differ first at line %d:\n  %s\n  %s", name, upgrade, i+1, al[i], bl[min(i, len(bl)-1)])
					}
				}
				t.Fatalf("%s: two renders differ in length", name)
			}
			n++
		}
	}
	t.Logf("%d value sets rendered twice each: byte-identical", n)
}

// Nothing generated is ever in a render: no generated password (the rendered Secret has no password key unless
// values gave one), no private key, no certificate.
func TestNoGeneratedSecretMaterialInAnyRender(t *testing.T) {
	for name, o := range renderSets() {
		res, err := chart.Render(o)
		require.NoErrorf(t, err, "%s", name)
		assert.NotContainsf(t, res.Text, "PRIVATE KEY", "%s: a private key in the render", name)
		assert.NotContainsf(t, res.Text, "BEGIN CERTIFICATE", "%s: a certificate in the render", name)
		for _, s := range res.All("Secret") {
			sec := s.Typed.(*corev1.Secret)
			assert.NotContainsf(t, sec.Data, "tls.key", "%s: Secret %s holds a key", name, s.Name)
			if _, ok := sec.Data["password"]; ok {
				vals, _ := chart.ValuesFrom(o)
				pg, _ := vals["postgresql"].(map[string]any)
				auth, _ := pg["auth"].(map[string]any)
				ext, _ := vals["externalDatabase"].(map[string]any)
				assert.Truef(t, (auth != nil && auth["password"] != nil) || (ext != nil && ext["password"] != nil),
					"%s: Secret %s holds a password no value gave", name, s.Name)
			}
		}
	}
}

// The create-if-missing Job: what it ensures, with a Role that allows exactly that.
func TestGeneratedSecretsJob(t *testing.T) {
	res := render(t, nil, "web.tls.enabled=true", "web.tls.selfSigned=true")
	job := secretsJob(res)
	require.NotNil(t, job, "defaults generate the password: a secrets Job")
	specs := secretSpecs(job)
	require.Len(t, specs, 2)
	pw, web := specs[0], specs[1]
	assert.Equal(t, "spacefleet-postgresql-password", pw.Name)
	assert.Equal(t, map[string]string{"password": "password"}, pw.Generate)
	require.Len(t, pw.Adopt, 1, "an upgrade from chart 0.1.0/0.2.0 keeps the password its release Secret holds")
	assert.Equal(t, "spacefleet-database", pw.Adopt[0].Secret)
	assert.Equal(t, "password", pw.Adopt[0].Key)
	assert.Contains(t, pw.Fix, "postgresql.auth.password")
	assert.Equal(t, "spacefleet-web-selfsigned", web.Name)
	assert.Equal(t, "kubernetes.io/tls", web.Type)
	require.NotNil(t, web.SelfSigned)
	assert.Contains(t, web.SelfSigned.DNSNames, "spacefleet-web.spacefleet.svc")

	// a hook before install and upgrade (Argo CD: PreSync), its RBAC earlier still and gone after the phase
	assert.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"])
	assert.Equal(t, "-20", job.Annotations["helm.sh/hook-weight"])
	pod := job.Spec.Template.Spec
	assert.Equal(t, "spacefleet-secrets", pod.ServiceAccountName)
	require.NotNil(t, pod.AutomountServiceAccountToken)
	assert.True(t, *pod.AutomountServiceAccountToken, "the one pod that talks to the API server")
	assert.Equal(t, []string{"secrets"}, pod.Containers[0].Args)
	ns := chart.Env(pod.Containers[0], "POD_NAMESPACE")
	require.NotNil(t, ns)
	assert.Equal(t, "metadata.namespace", ns.ValueFrom.FieldRef.FieldPath)

	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding"} {
		o := res.Find(kind, "spacefleet-secrets")
		require.NotNilf(t, o, kind)
		ann := o.Raw["metadata"].(map[string]any)["annotations"].(map[string]any)
		assert.Equalf(t, "pre-install,pre-upgrade", ann["helm.sh/hook"], kind)
		assert.Equalf(t, "-30", ann["helm.sh/hook-weight"], "%s before the Job", kind)
		assert.Equalf(t, "before-hook-creation,hook-succeeded", ann["helm.sh/hook-delete-policy"], "%s: gone after the phase", kind)
	}
	role := res.Find("Role", "spacefleet-secrets").Typed.(*rbacv1.Role)
	got := map[string][]string{}
	for _, r := range role.Rules {
		assert.Equal(t, []string{""}, r.APIGroups)
		assert.Equal(t, []string{"secrets"}, r.Resources, "Secrets only")
		got[strings.Join(r.Verbs, ",")] = r.ResourceNames
	}
	assert.Equal(t, map[string][]string{
		"get,patch": {"spacefleet-postgresql-password", "spacefleet-web-selfsigned"},
		"get":       {"spacefleet-database"},
		"create":    nil, // Kubernetes cannot limit create to a name
	}, got, "least privilege: get/patch of exactly what it ensures, get of what it adopts from, create")
	rb := res.Find("RoleBinding", "spacefleet-secrets").Typed.(*rbacv1.RoleBinding)
	assert.Equal(t, "spacefleet-secrets", rb.RoleRef.Name)
	assert.Equal(t, "spacefleet-secrets", rb.Subjects[0].Name)

	// the web pod serves the generated pair
	var served string
	for _, v := range res.Workloads()["web"].Pod.Volumes {
		if v.Secret != nil && strings.Contains(v.Secret.SecretName, "web") {
			served = v.Secret.SecretName
		}
	}
	assert.Equal(t, "spacefleet-web-selfsigned", served)

	// nothing to generate, no Job
	for _, set := range [][]string{{"postgresql.auth.existingSecret=mine"}, external} {
		assert.Nilf(t, secretsJob(render(t, nil, set...)), "%v: nothing to generate", set)
		assert.Nilf(t, passwordSetJob(render(t, nil, set...)), "%v: no password to set", set)
	}
	assert.Nil(t, passwordSetJob(res), "no password in values: nothing to set")
}

// A password values give is written into <fullname>-postgresql-password by the password-set hook, after the
// pre-upgrade migrate Job (which connects with the password the database has until it rolls) and before the database
// and the app roll onto it; the ensure Job still creates the Secret first (adopting an older release's password).
func TestGivenPasswordIsSetAfterTheMigrateHook(t *testing.T) {
	res := render(t, nil, "postgresql.auth.password=s3cret p@ss")
	ensure := secretsJob(res)
	require.NotNil(t, ensure, "the Secret exists before the pre-upgrade migrate Job reads it")
	require.Len(t, secretSpecs(ensure), 1)
	assert.Equal(t, "spacefleet-postgresql-password", secretSpecs(ensure)[0].Name)
	assert.NotEmpty(t, secretSpecs(ensure)[0].Adopt)

	set := passwordSetJob(res)
	require.NotNil(t, set)
	specs := secretSpecs(set)
	require.Len(t, specs, 1)
	assert.Equal(t, "spacefleet-postgresql-password", specs[0].Name)
	assert.Equal(t, map[string]string{"password": "SPACEFLEET_GIVEN_PASSWORD"}, specs[0].Set)
	e := chart.Env(set.Spec.Template.Spec.Containers[0], "SPACEFLEET_GIVEN_PASSWORD")
	require.NotNil(t, e)
	require.NotNil(t, e.ValueFrom, "from a Secret, never a literal env value")
	assert.Equal(t, corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "spacefleet-password-set"}, Key: "password"}, *e.ValueFrom.SecretKeyRef)
	given := res.Find("Secret", "spacefleet-password-set")
	require.NotNil(t, given)
	assert.Equal(t, "s3cret p@ss", string(given.Typed.(*corev1.Secret).Data["password"]))

	weight := func(o *chart.Object) int {
		w, err := strconv.Atoi(o.Raw["metadata"].(map[string]any)["annotations"].(map[string]any)["helm.sh/hook-weight"].(string))
		require.NoError(t, err)
		return w
	}
	migrate, _ := migrateJob(t, res)
	assert.Less(t, weight(res.Find("Job", "spacefleet-secrets")), weight(migrate), "the Secret exists before migrate")
	assert.Greater(t, weight(given), weight(migrate), "the given password is written after the pre-upgrade migrate Job")
	assert.Greater(t, weight(res.Find("Job", "spacefleet-password-set")), weight(given))
	for _, o := range []*chart.Object{given, res.Find("Job", "spacefleet-password-set")} {
		ann := o.Raw["metadata"].(map[string]any)["annotations"].(map[string]any)
		assert.Equal(t, "pre-install,pre-upgrade", ann["helm.sh/hook"], "Argo CD: PreSync, before the database rolls")
		assert.Equal(t, "before-hook-creation,hook-succeeded", ann["helm.sh/hook-delete-policy"], "the password's hook Secret goes when the phase ends")
	}
	role := res.Find("Role", "spacefleet-secrets").Typed.(*rbacv1.Role)
	assert.Equal(t, []string{"spacefleet-postgresql-password"}, role.Rules[0].ResourceNames)
	assert.Contains(t, res.Notes, "set from postgresql.auth.password")
}

// Ordering without Helm's lifecycle: under Argo CD the migrate Job is a Sync hook in wave -1, after the database (wave
// -2) and before the app (wave 0); Helm keeps its own hook phases. One table (_ordering.tpl) renders both.
func TestArgoCDOrderingMatchesHelms(t *testing.T) {
	ann := func(o *chart.Object) map[string]any {
		a, _ := o.Raw["metadata"].(map[string]any)["annotations"].(map[string]any)
		return a
	}
	res := render(t, nil)
	_, job := migrateJob(t, res)
	assert.Equal(t, "post-install,pre-upgrade", job.Annotations["helm.sh/hook"], "Helm: unchanged")
	assert.Equal(t, "Sync", job.Annotations["argocd.argoproj.io/hook"], "Argo CD: one run per sync, not PreSync and PostSync")
	assert.Equal(t, "-1", job.Annotations["argocd.argoproj.io/sync-wave"])
	assert.Equal(t, "BeforeHookCreation", job.Annotations["argocd.argoproj.io/hook-delete-policy"])
	for _, kr := range [][2]string{{"StatefulSet", "spacefleet-postgresql"}, {"Service", "spacefleet-postgresql"},
		{"Service", "spacefleet-postgresql-hl"}, {"Secret", "spacefleet-database"}, {"ServiceAccount", "spacefleet"}} {
		o := res.Find(kr[0], kr[1])
		require.NotNilf(t, o, "%v", kr)
		assert.Equalf(t, "-2", ann(o)["argocd.argoproj.io/sync-wave"], "%s/%s: the database step, before migrate", kr[0], kr[1])
	}
	for _, kr := range [][2]string{{"Deployment", "spacefleet-web"}, {"Deployment", "spacefleet-worker"}, {"Service", "spacefleet-web"}} {
		assert.NotContainsf(t, ann(res.Find(kr[0], kr[1])), "argocd.argoproj.io/sync-wave", "%s/%s: the app, wave 0", kr[0], kr[1])
	}
	sa := res.Find("ServiceAccount", "spacefleet-migrate")
	require.NotNil(t, sa)
	assert.Equal(t, "Sync", ann(sa)["argocd.argoproj.io/hook"], "the migrate Job's ServiceAccount goes with it")
	assert.Equal(t, "-1", ann(sa)["argocd.argoproj.io/sync-wave"])

	// a plain Job (useHelmHooks=false): no hook at all, wave -1; your own wave in jobAnnotations wins
	plain := render(t, nil, "migrations.useHelmHooks=false")
	_, pj := migrateJob(t, plain)
	assert.NotContains(t, pj.Annotations, "helm.sh/hook")
	assert.NotContains(t, pj.Annotations, "argocd.argoproj.io/hook")
	assert.Equal(t, "-1", pj.Annotations["argocd.argoproj.io/sync-wave"])
	_, own := migrateJob(t, renderValues(t, map[string]any{"migrations": map[string]any{"useHelmHooks": false,
		"jobAnnotations": map[string]any{"argocd.argoproj.io/sync-wave": "-5"}}}))
	assert.Equal(t, "-5", own.Annotations["argocd.argoproj.io/sync-wave"])
	_, hooked := migrateJob(t, render(t, nil, "migrations.jobAnnotations.helm\\.sh/hook=pre-install"))
	assert.Equal(t, "post-install,pre-upgrade", hooked.Annotations["helm.sh/hook"], "Helm's phases are the chart's")
}

// The API server stores a volumeClaimTemplate with its apiVersion and kind: without them a server-side diff never
// matches (Argo CD shows the StatefulSet OutOfSync forever).
func TestVolumeClaimTemplatesAreComplete(t *testing.T) {
	sts := render(t, nil).Find("StatefulSet", "spacefleet-postgresql").Typed.(*appsv1.StatefulSet)
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	assert.Equal(t, "v1", sts.Spec.VolumeClaimTemplates[0].APIVersion)
	assert.Equal(t, "PersistentVolumeClaim", sts.Spec.VolumeClaimTemplates[0].Kind)
}

// NOTES says where the password lives (never the password).
func TestNotesNameTheGeneratedPasswordSecret(t *testing.T) {
	assert.Contains(t, render(t, nil).Notes, "password: in Secret spacefleet-postgresql-password (key password; generated once in the cluster")
	assert.NotContains(t, render(t, nil, "postgresql.auth.password=given").Notes, "generated once")
	assert.NotContains(t, render(t, nil, "postgresql.auth.password=given").Notes, "given")
}
