package render

import (
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func postgresSTS(t *testing.T, res *chart.Result) *appsv1.StatefulSet {
	t.Helper()
	o := res.Find("StatefulSet", "spacefleet-postgresql")
	require.NotNil(t, o, "bundled StatefulSet")
	return o.Typed.(*appsv1.StatefulSet)
}

func namedContainer(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

// Rotation: a sidecar applies the Secret's password to the role at every start of the database pod, over
// the local socket, with the password on stdin (never argv), and the pod is Ready only after that.
func TestPasswordSyncAppliesTheSecretAtEveryStart(t *testing.T) {
	sts := postgresSTS(t, render(t, nil, "postgresql.auth.password=NewPassw0rd"))
	sync := namedContainer(t, sts.Spec.Template.Spec.Containers, "password-sync")
	script := strings.Join(sync.Command, " ")
	assert.Contains(t, script, "ALTER ROLE")
	assert.Contains(t, script, "-h /var/run/postgresql", "the local socket needs no old password")
	assert.NotContains(t, script, "NewPassw0rd", "the password comes from the env at run time")
	assert.NotContains(t, script, "-v pw", "the password must not be a psql argument (visible in ps)")
	assert.Contains(t, script, "log_min_error_statement", "a failing ALTER ROLE must not log the password")
	pw := chart.Env(sync, "POSTGRES_PASSWORD")
	require.NotNil(t, pw)
	require.NotNil(t, pw.ValueFrom)
	assert.Equal(t, "spacefleet-postgresql-password", pw.ValueFrom.SecretKeyRef.Name, "the one password Secret (set from values by the password-set hook)")
	require.NotNil(t, sync.ReadinessProbe, "the pod must not be Ready before the password is applied")

	// A new password rolls the database pod (and the app pods), so the sidecar runs again.
	other := postgresSTS(t, render(t, nil, "postgresql.auth.password=Another1"))
	assert.NotEqual(t, sts.Spec.Template.Annotations["checksum/database"], other.Spec.Template.Annotations["checksum/database"])
}

func TestPasswordFromAnExistingSecretNeverEntersTheURL(t *testing.T) {
	res := render(t, nil, "postgresql.auth.existingSecret=pg-pass", "postgresql.auth.existingSecretKeys.password=pw")
	url := secretData(t, res, "spacefleet-database", "DATABASE_URL")
	assert.Equal(t, "postgres://spacefleet@spacefleet-postgresql.spacefleet.svc:5432/spacefleet?sslmode=disable", url)
	assert.NotContains(t, res.Find("Secret", "spacefleet-database").Typed.(*corev1.Secret).Data, "password")
	for _, c := range dbClients {
		env := chart.Env(container(t, res, c), "PGPASSWORD")
		require.NotNilf(t, env, "%s needs PGPASSWORD", c)
		assert.Equal(t, "pg-pass", env.ValueFrom.SecretKeyRef.Name)
		assert.Equal(t, "pw", env.ValueFrom.SecretKeyRef.Key)
	}
	sts := postgresSTS(t, res)
	for _, name := range []string{"postgresql", "password-sync"} {
		env := chart.Env(namedContainer(t, sts.Spec.Template.Spec.Containers, name), "POSTGRES_PASSWORD")
		assert.Equal(t, "pg-pass", env.ValueFrom.SecretKeyRef.Name)
	}
	assert.Nil(t, chart.Env(container(t, render(t, nil, external...), "web"), "PGPASSWORD"), "absent for a URI in your Secret")
}

func TestBundledTLSFromAnExistingSecret(t *testing.T) {
	res := render(t, nil, "postgresql.tls.enabled=true", "postgresql.tls.existingSecret=pg-tls")
	url := secretData(t, res, "spacefleet-database", "DATABASE_URL")
	assert.True(t, strings.HasSuffix(url, "?sslmode=verify-full&sslrootcert=/etc/spacefleet/postgresql-ca/ca.crt"), url)
	for _, c := range dbClients {
		w := res.Workloads()[c]
		var found bool
		for _, v := range w.Pod.Volumes {
			if v.Secret != nil && v.Secret.SecretName == "pg-tls" {
				found = true
				require.Len(t, v.Secret.Items, 1)
				assert.Equal(t, "ca.crt", v.Secret.Items[0].Key, "clients get the CA, never the server key")
			}
		}
		assert.Truef(t, found, "%s lacks the CA volume", c)
		var mounted bool
		for _, m := range w.Pod.Containers[0].VolumeMounts {
			mounted = mounted || m.MountPath == "/etc/spacefleet/postgresql-ca"
		}
		assert.Truef(t, mounted, "%s lacks the CA mount", c)
	}
	sts := postgresSTS(t, res)
	pg := namedContainer(t, sts.Spec.Template.Spec.Containers, "postgresql")
	args := strings.Join(pg.Args, " ")
	assert.Contains(t, args, "ssl=on")
	assert.Contains(t, args, "ssl_key_file=/tls/tls.key")
	require.Len(t, sts.Spec.Template.Spec.InitContainers, 1)
	assert.Contains(t, strings.Join(sts.Spec.Template.Spec.InitContainers[0].Command, " "), "chmod 0600 /tls/.tls.key.new",
		"PostgreSQL refuses a group-readable key")
	assert.Nil(t, res.Find("Certificate", "spacefleet-postgresql"), "no cert-manager with an existing Secret")
	assert.Contains(t, res.Find("ConfigMap", "spacefleet-postgresql-hba").Typed.(*corev1.ConfigMap).Data["pg_hba.conf"], "host all all all scram-sha-256")
	assert.NotContains(t, res.Notes, "WARNING: externalDatabase")
}

func TestBundledTLSRequiredRefusesPlaintext(t *testing.T) {
	hba := func(set ...string) string {
		res := render(t, nil, append([]string{"postgresql.tls.enabled=true", "postgresql.tls.existingSecret=pg-tls"}, set...)...)
		return res.Find("ConfigMap", "spacefleet-postgresql-hba").Typed.(*corev1.ConfigMap).Data["pg_hba.conf"]
	}
	assert.Contains(t, hba("postgresql.tls.required=true"), "hostnossl all all all reject")
	assert.NotContains(t, hba("postgresql.tls.required=false"), "reject")
	off := render(t, nil)
	assert.Nil(t, off.Find("ConfigMap", "spacefleet-postgresql-hba"), "TLS off keeps the image's own pg_hba")
	assert.Empty(t, postgresSTS(t, off).Spec.Template.Spec.InitContainers)
}

func TestBundledTLSFromCertManager(t *testing.T) {
	res := render(t, nil, "postgresql.tls.enabled=true", "postgresql.tls.certManager.issuerRef.name=ca", "postgresql.tls.certManager.issuerRef.kind=ClusterIssuer")
	cert := res.Find("Certificate", "spacefleet-postgresql")
	require.NotNil(t, cert)
	spec := cert.Raw["spec"].(map[string]any)
	assert.Equal(t, "spacefleet-postgresql-tls", spec["secretName"])
	names := spec["dnsNames"].([]any)
	assert.Contains(t, names, "spacefleet-postgresql", "the Service's short name")
	assert.Contains(t, names, "spacefleet-postgresql.spacefleet.svc", "the name in DATABASE_URL")
	assert.Contains(t, names, "spacefleet-postgresql.spacefleet.svc.cluster.local")
	assert.Equal(t, "ClusterIssuer", spec["issuerRef"].(map[string]any)["kind"])
}

// Data safety: the volume outlives `helm uninstall` and scale-down.
func TestBundledDataVolumeIsRetained(t *testing.T) {
	sts := postgresSTS(t, render(t, nil))
	require.NotNil(t, sts.Spec.PersistentVolumeClaimRetentionPolicy)
	assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted)
	assert.Equal(t, "data", sts.Spec.VolumeClaimTemplates[0].Name)
}

func TestBundledTLSAndAuthValidation(t *testing.T) {
	for _, tc := range []struct {
		bad []string
		key string
	}{
		{[]string{"postgresql.tls.enabled=true"}, "postgresql.tls.existingSecret"},
		{[]string{"postgresql.tls.enabled=true", "postgresql.tls.existingSecret=a", "postgresql.tls.certManager.issuerRef.name=b"}, "postgresql.tls.certManager.issuerRef"},
		{[]string{"postgresql.tls.required=true"}, "postgresql.tls.enabled"},
		{[]string{"postgresql.auth.password=x", "postgresql.auth.existingSecret=y"}, "postgresql.auth.existingSecret"},
	} {
		err := renderErr(nil, tc.bad...)
		require.Errorf(t, err, "%v", tc.bad)
		assertNamesKey(t, err, tc.key)
	}
}

// A StatefulSet's serviceName must be a headless Service.
func TestBundledDatabaseHasAHeadlessGoverningService(t *testing.T) {
	res := render(t, nil)
	sts := postgresSTS(t, res)
	hl := res.Find("Service", sts.Spec.ServiceName)
	require.NotNil(t, hl, "the governing Service %s must exist", sts.Spec.ServiceName)
	assert.Equal(t, "None", hl.Typed.(*corev1.Service).Spec.ClusterIP)
	client := res.Find("Service", "spacefleet-postgresql")
	require.NotNil(t, client, "the clients' Service")
	assert.NotEqual(t, "None", client.Typed.(*corev1.Service).Spec.ClusterIP)
}
