package render

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Every database client reads DATABASE_URL from one Secret through secretKeyRef, never a literal value. The one
// exception is by design: a hooked migrate Job with an inline URL reads a hook-scoped copy of the same data
// (spacefleet-migrate-database), so that the Secret the running app reads is never a hook.
func TestDatabaseURLComesFromOneSecretInEveryMode(t *testing.T) {
	const inlineURL = "postgres://u:p@db:5432/sf?sslmode=verify-full"
	cases := map[string]struct {
		set         []string
		secretName  string
		secretKey   string
		migrateCopy string // the Secret the migrate Job reads instead, "" when it reads secretName
	}{
		"bundled":           {nil, "spacefleet-database", "DATABASE_URL", ""},
		"inline url":        {[]string{"postgresql.enabled=false", "externalDatabase.url=" + inlineURL}, "spacefleet-database", "DATABASE_URL", "spacefleet-migrate-database"},
		"inline url, plain": {[]string{"postgresql.enabled=false", "externalDatabase.url=" + inlineURL, "migrations.useHelmHooks=false"}, "spacefleet-database", "DATABASE_URL", ""},
		"existingSecret":    {[]string{"postgresql.enabled=false", "externalDatabase.existingSecret=my-db", "externalDatabase.existingSecretKeys.url=uri"}, "my-db", "uri", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, tc.set...)
			for _, c := range dbClients {
				env := chart.Env(container(t, res, c), "DATABASE_URL")
				require.NotNilf(t, env, "%s has no DATABASE_URL", c)
				assert.Emptyf(t, env.Value, "%s: DATABASE_URL must not be a literal value", c)
				require.NotNilf(t, env.ValueFrom, "%s: DATABASE_URL has no valueFrom", c)
				require.NotNilf(t, env.ValueFrom.SecretKeyRef, "%s: DATABASE_URL is not a secretKeyRef", c)
				want := tc.secretName
				if c == "migrate" && tc.migrateCopy != "" {
					want = tc.migrateCopy
				}
				assert.Equalf(t, want, env.ValueFrom.SecretKeyRef.Name, "%s: secret name", c)
				assert.Equalf(t, tc.secretKey, env.ValueFrom.SecretKeyRef.Key, "%s: secret key", c)
			}
			if tc.migrateCopy != "" {
				assert.Equal(t, secretData(t, res, tc.secretName, "DATABASE_URL"), secretData(t, res, tc.migrateCopy, "DATABASE_URL"),
					"the migrate Job's copy holds the same URL as the app's Secret")
			} else {
				assert.Nil(t, res.Find("Secret", "spacefleet-migrate-database"), "no copy when the Job reads the release's Secret")
			}
		})
	}
}

func TestExistingSecretModeCreatesNoDatabaseSecret(t *testing.T) {
	res := render(t, nil, "postgresql.enabled=false", "externalDatabase.existingSecret=my-db")
	assert.Empty(t, res.All("Secret"), "the chart must not create or touch a Secret in existingSecret mode")
	assert.Nil(t, res.Find("StatefulSet", "spacefleet-postgresql"))

	res = render(t, nil, "postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full")
	assert.NotNil(t, res.Find("Secret", "spacefleet-database"), "inline url mode owns its Secret")
}

func secretData(t *testing.T, res *chart.Result, name, key string) string {
	t.Helper()
	o := res.Find("Secret", name)
	require.NotNilf(t, o, "Secret %s not rendered", name)
	s := o.Typed.(*corev1.Secret)
	v, ok := s.Data[key]
	require.Truef(t, ok, "Secret %s has no key %s", name, key)
	return string(v)
}

func TestInlineURLLandsInTheChartSecretUnchanged(t *testing.T) {
	url := "postgres://u:p%40ss@db.example.com:5432/sf?sslmode=verify-full"
	res := render(t, nil, "postgresql.enabled=false", "externalDatabase.url="+url)
	assert.Equal(t, url, secretData(t, res, "spacefleet-database", "DATABASE_URL"))
}

func TestBundledModeComposesURLForItsOwnService(t *testing.T) {
	res := render(t, nil, "postgresql.auth.password=s3cret p@ss", "postgresql.auth.username=fleet", "postgresql.auth.database=ships")
	url := secretData(t, res, "spacefleet-database", "DATABASE_URL")
	assert.Equal(t, "postgres://fleet@spacefleet-postgresql.spacefleet.svc:5432/ships?sslmode=disable", url,
		"the URI never carries the password: PGPASSWORD does")
	assert.NotContains(t, res.Find("Secret", "spacefleet-database").Typed.(*corev1.Secret).Data, "password")

	sts := res.Find("StatefulSet", "spacefleet-postgresql")
	require.NotNil(t, sts)
	ss := sts.Typed.(*appsv1.StatefulSet)
	assert.EqualValues(t, 1, *ss.Spec.Replicas)
	require.Len(t, ss.Spec.VolumeClaimTemplates, 1, "bundled database needs a PVC")
	want := corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "spacefleet-postgresql-password"}, Key: "password"}
	pw := chart.Env(ss.Spec.Template.Spec.Containers[0], "POSTGRES_PASSWORD")
	require.NotNil(t, pw)
	require.NotNil(t, pw.ValueFrom.SecretKeyRef, "POSTGRES_PASSWORD must come from the Secret")
	assert.Equal(t, want, *pw.ValueFrom.SecretKeyRef, "the password values gave, set into the one password Secret")
	for _, c := range dbClients {
		e := chart.Env(container(t, res, c), "PGPASSWORD")
		require.NotNilf(t, e, "%s: PGPASSWORD", c)
		require.NotNilf(t, e.ValueFrom, "%s: PGPASSWORD from a Secret, never a literal", c)
		assert.Equalf(t, want, *e.ValueFrom.SecretKeyRef, "%s", c)
	}
	assert.NotNil(t, res.Find("Service", "spacefleet-postgresql"))
}

// Without a password in values, the password is generated in the cluster (templates/secrets/), never in a render:
// every client and the database read it from the generated Secret.
func TestGeneratedPasswordIsNeverRendered(t *testing.T) {
	res := render(t, nil)
	s := res.Find("Secret", "spacefleet-database")
	require.NotNil(t, s)
	assert.NotContains(t, s.Typed.(*corev1.Secret).Data, "password", "no password key: nothing was given, nothing is rendered")
	assert.Equal(t, "postgres://spacefleet@spacefleet-postgresql.spacefleet.svc:5432/spacefleet?sslmode=disable",
		secretData(t, res, "spacefleet-database", "DATABASE_URL"))
	assert.Nil(t, res.Find("Secret", "spacefleet-postgresql-password"), "the generated Secret is made by the Job, not rendered")
	want := corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "spacefleet-postgresql-password"}, Key: "password"}
	for _, c := range append(append([]string{}, dbClients...), "postgresql") {
		name := "PGPASSWORD"
		if c == "postgresql" {
			name = "POSTGRES_PASSWORD"
		}
		e := chart.Env(container(t, res, c), name)
		require.NotNilf(t, e, "%s: %s", c, name)
		require.NotNilf(t, e.ValueFrom, "%s: from a Secret", c)
		assert.Equalf(t, want, *e.ValueFrom.SecretKeyRef, "%s reads the generated password", c)
	}
}

// A change of the chart's database Secret must roll the pods; an unchanged one must not.
func TestDatabaseChecksumRollsPodsOnlyWhenTheConnectionChanges(t *testing.T) {
	sum := func(set ...string) string {
		res := render(t, nil, set...)
		return res.Workloads()["web"].Meta["checksum/database"]
	}
	a := sum("postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full")
	b := sum("postgresql.enabled=false", "externalDatabase.url=postgres://u:p2@db/sf?sslmode=verify-full")
	require.NotEmpty(t, a)
	assert.NotEqual(t, a, b, "a new URL must change the checksum")
	assert.Equal(t, a, sum("postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"))
	res := render(t, nil, "postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full")
	for _, c := range []string{"web", "worker", "migrate"} {
		assert.Equalf(t, a, res.Workloads()[c].Meta["checksum/database"], "%s must carry the same checksum", c)
	}
	assert.NotContains(t, a, "p@db", "the checksum is a hash, not the URL")
}

// What rolls the pods: the values' password (a rotation, or a rollback to a revision with another one) and where the
// password lives (values, yours, generated). A generated password never changes, and is never known at render time.
func TestDatabaseChecksumFollowsTheEffectivePassword(t *testing.T) {
	sums := func(r *chart.Result) []string {
		var out []string
		for _, c := range []string{"web", "worker", "migrate", "postgresql"} {
			out = append(out, r.Workloads()[c].Meta["checksum/database"])
		}
		return out
	}
	gen, gen2 := sums(render(t, nil)), sums(render(t, nil))
	assert.Equal(t, gen, gen2, "two renders of the defaults: the same checksums (nothing generated is in them)")
	for _, c := range gen[1:] {
		assert.Equal(t, gen[0], c, "one checksum for every pod of a render")
	}
	a, b := sums(render(t, nil, "postgresql.auth.password=a")), sums(render(t, nil, "postgresql.auth.password=b"))
	assert.NotEqual(t, a, b, "a rotation rolls every client and the database pod (its password-sync applies it)")
	assert.NotEqual(t, gen, a, "giving a password rolls everything")
	assert.NotEqual(t, gen, sums(render(t, nil, "postgresql.auth.existingSecret=mine")), "moving to your own Secret rolls everything")
}

// config.extraVolumes / extraVolumeMounts reach web, worker, migrate and the test pod, and nothing else.
func TestExtraVolumesReachEveryDatabaseClient(t *testing.T) {
	res := render(t, example("mtls.yaml"))
	for _, c := range dbClients {
		w := res.Workloads()[c]
		require.NotNilf(t, w.Pod, "%s missing", c)
		var vol *corev1.Volume
		for i := range w.Pod.Volumes {
			if w.Pod.Volumes[i].Name == "db-ca" {
				vol = &w.Pod.Volumes[i]
			}
		}
		require.NotNilf(t, vol, "%s has no db-ca volume", c)
		require.NotNil(t, vol.ConfigMap)
		assert.Equal(t, "db-ca", vol.ConfigMap.Name)
		var mount *corev1.VolumeMount
		for i, m := range w.Pod.Containers[0].VolumeMounts {
			if m.Name == "db-ca" {
				mount = &w.Pod.Containers[0].VolumeMounts[i]
			}
		}
		require.NotNilf(t, mount, "%s has no db-ca mount", c)
		assert.Equal(t, "/etc/ssl/db-ca", mount.MountPath)
		assert.True(t, mount.ReadOnly)
	}
	// Without extra volumes, none are invented.
	plain := render(t, nil, external...)
	assert.Empty(t, plain.Workloads()["web"].Pod.Volumes)
}

func TestSSLDefaultsForOperatorSecretsBecomeLibpqEnv(t *testing.T) {
	res := render(t, example("cloudnativepg.yaml"))
	for _, c := range []string{"web", "worker", "migrate", "dbcheck"} {
		ctr := container(t, res, c)
		mode, root := chart.Env(ctr, "PGSSLMODE"), chart.Env(ctr, "PGSSLROOTCERT")
		require.NotNilf(t, mode, "%s: PGSSLMODE", c)
		assert.Equal(t, "verify-full", mode.Value)
		require.NotNilf(t, root, "%s: PGSSLROOTCERT", c)
		assert.Equal(t, "/etc/spacefleet/database-ca/ca.crt", root.Value, "the CA of externalDatabase.tls.ca")
	}
	plain := render(t, nil, external...)
	assert.Nil(t, chart.Env(container(t, plain, "web"), "PGSSLMODE"), "absent unless set")
}

func TestEachClientNamesItselfForPgStatActivity(t *testing.T) {
	res := render(t, nil)
	for _, c := range dbClients {
		env := chart.Env(container(t, res, c), "SPACEFLEET_COMPONENT")
		require.NotNil(t, env)
		assert.Equal(t, c, env.Value)
	}
}

func TestNoCredentialInAnyLiteralValueOrConfigMap(t *testing.T) {
	const pw = "Sup3rSecretPw"
	for _, set := range [][]string{
		{"postgresql.auth.password=" + pw},
		{"postgresql.enabled=false", "externalDatabase.url=postgres://u:" + pw + "@db/sf?sslmode=verify-full"},
	} {
		res := render(t, nil, set...)
		assert.NotContains(t, res.Notes, pw, "NOTES must never print a password")
		for _, o := range res.Objects {
			if o.Kind == "Secret" {
				continue
			}
			raw := strings.ToLower(rawString(o))
			assert.NotContainsf(t, raw, strings.ToLower(pw), "%s/%s carries the password", o.Kind, o.Name)
			assert.NotContainsf(t, raw, strings.ToLower(base64.StdEncoding.EncodeToString([]byte(pw))), "%s/%s carries the encoded password", o.Kind, o.Name)
		}
	}
}
