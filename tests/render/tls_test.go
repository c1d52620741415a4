package render

import (
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

var (
	pgCertManager  = []string{"postgresql.tls.enabled=true", "postgresql.tls.certManager.issuerRef.name=ca", "postgresql.tls.certManager.issuerRef.kind=ClusterIssuer"}
	pgClientCerts  = append(append([]string{}, pgCertManager...), "postgresql.tls.clientCertificate.enabled=true")
	webCertManager = []string{"web.tls.enabled=true", "web.tls.certManager.issuerRef.name=web-ca", "web.tls.certManager.issuerRef.kind=ClusterIssuer"}
)

func certSpec(t *testing.T, res *chart.Result, name string) map[string]any {
	t.Helper()
	o := res.Find("Certificate", name)
	require.NotNilf(t, o, "Certificate %s", name)
	return o.Raw["spec"].(map[string]any)
}

func webDeployment(t *testing.T, res *chart.Result) *appsv1.Deployment {
	t.Helper()
	o := res.Find("Deployment", "spacefleet-web")
	require.NotNil(t, o)
	return o.Typed.(*appsv1.Deployment)
}

// Road 4: every Certificate the chart renders comes from one helper, so each one says its purpose and sets
// privateKey.rotationPolicy explicitly (a renewal gets a new key whatever cert-manager's default is).
func TestCertificatesShareOneShape(t *testing.T) {
	res := render(t, nil, append(append([]string{}, pgClientCerts...), webCertManager...)...)
	certs := res.All("Certificate")
	require.Len(t, certs, 3, "database server, database client, web")
	purposes := map[string]string{}
	for _, c := range certs {
		spec := c.Raw["spec"].(map[string]any)
		pk := spec["privateKey"].(map[string]any)
		assert.Equalf(t, "Always", pk["rotationPolicy"], "%s: privateKey.rotationPolicy", c.Name)
		purposes[c.Name] = c.Raw["metadata"].(map[string]any)["labels"].(map[string]any)["spacefleet.io/certificate"].(string)
		usages := spec["usages"].([]any)
		assert.Containsf(t, usages, purposes[c.Name]+" auth", "%s: usages %v", c.Name, usages)
	}
	assert.Equal(t, map[string]string{"spacefleet-postgresql": "server", "spacefleet-database-client": "client", "spacefleet-web-tls": "server"}, purposes)
	assert.Equal(t, "web-ca", certSpec(t, res, "spacefleet-web-tls")["issuerRef"].(map[string]any)["name"])
}

// Renewal without a restart: the database pod follows its certificate Secret with a sidecar that re-copies the 0600
// key and reloads PostgreSQL; with TLS off there is no such container.
func TestBundledTLSReloadsRenewedCertificates(t *testing.T) {
	for _, set := range [][]string{pgCertManager, {"postgresql.tls.enabled=true", "postgresql.tls.existingSecret=pg-tls"}} {
		sts := postgresSTS(t, render(t, nil, set...))
		reload := namedContainer(t, sts.Spec.Template.Spec.Containers, "tls-reload")
		script := strings.Join(reload.Command, " ")
		assert.Contains(t, script, "pg_reload_conf()")
		assert.Contains(t, script, "cmp -s", "it reloads when the Secret's files differ from the copies")
		assert.Contains(t, script, "chmod 0600 /tls/.tls.key.new", "the re-copied key stays private")
		mounts := map[string]string{}
		for _, m := range reload.VolumeMounts {
			mounts[m.Name] = m.MountPath
		}
		assert.Equal(t, "/tls-in", mounts["tls-in"], "it reads the mounted Secret (updated in place by the kubelet)")
		assert.Equal(t, "/tls", mounts["tls"], "it writes the copies PostgreSQL reads")
		assert.Equal(t, "/var/run/postgresql", mounts["run"], "pg_reload_conf() over the local socket")
	}
	for _, c := range postgresSTS(t, render(t, nil)).Spec.Template.Spec.Containers {
		assert.NotEqual(t, "tls-reload", c.Name, "TLS off: no reloader")
	}
}

// Client certificates for the bundled database (seed 003): CN = the database user, mounted into every client
// through road 2, named in DATABASE_URL, and required by pg_hba, with or without the password.
func TestBundledClientCertificates(t *testing.T) {
	res := render(t, nil, pgClientCerts...)
	spec := certSpec(t, res, "spacefleet-database-client")
	assert.Equal(t, "spacefleet", spec["commonName"], "CN = postgresql.auth.username")
	assert.Equal(t, "spacefleet-database-client-tls", spec["secretName"])
	assert.Equal(t, "ca", spec["issuerRef"].(map[string]any)["name"], "issued by the server's issuer, whose CA the server trusts")
	url := secretData(t, res, "spacefleet-database", "DATABASE_URL")
	assert.Contains(t, url, "sslmode=verify-full")
	assert.Contains(t, url, "&sslcert=/etc/spacefleet/database-client/tls.crt&sslkey=/etc/spacefleet/database-client/tls.key")
	for _, c := range dbClients {
		w := res.Workloads()[c]
		assertMountsClientCert(t, c, w.Pod, container(t, res, c))
	}
	hba := res.Find("ConfigMap", "spacefleet-postgresql-hba").Typed.(*corev1.ConfigMap).Data["pg_hba.conf"]
	assert.Contains(t, hba, "hostnossl all all all reject")
	assert.Contains(t, hba, "hostssl all all all scram-sha-256 clientcert=verify-full", "certificate and password by default")
	certOnly := render(t, nil, append(append([]string{}, pgClientCerts...), "postgresql.tls.clientCertificate.requirePassword=false")...)
	assert.Contains(t, certOnly.Find("ConfigMap", "spacefleet-postgresql-hba").Typed.(*corev1.ConfigMap).Data["pg_hba.conf"], "hostssl all all all cert clientcert=verify-full")

	// off: no client certificate anywhere
	off := render(t, nil, pgCertManager...)
	assert.Nil(t, off.Find("Certificate", "spacefleet-database-client"))
	assert.NotContains(t, secretData(t, off, "spacefleet-database", "DATABASE_URL"), "sslcert")
	assert.NotContains(t, off.Find("ConfigMap", "spacefleet-postgresql-hba").Typed.(*corev1.ConfigMap).Data["pg_hba.conf"], "clientcert")
	for _, v := range off.Workloads()["web"].Pod.Volumes {
		assert.NotEqual(t, "spacefleet-database-client", v.Name)
	}
	// turning client certificates on rolls the clients
	assert.NotEqual(t, webDeployment(t, off).Spec.Template.Annotations["checksum/database"], webDeployment(t, res).Spec.Template.Annotations["checksum/database"])
}

func assertMountsClientCert(t *testing.T, component string, pod *corev1.PodSpec, c corev1.Container) {
	t.Helper()
	var vol *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == "spacefleet-database-client" {
			vol = &pod.Volumes[i]
		}
	}
	require.NotNilf(t, vol, "%s: client certificate volume", component)
	require.NotNil(t, vol.Secret)
	assert.Equal(t, "spacefleet-database-client-tls", vol.Secret.SecretName)
	keys := []string{}
	for _, it := range vol.Secret.Items {
		keys = append(keys, it.Key)
	}
	assert.ElementsMatchf(t, []string{"tls.crt", "tls.key"}, keys, "%s: only the pair is mounted", component)
	require.NotNil(t, vol.Secret.DefaultMode)
	assert.Equalf(t, int32(0o440), *vol.Secret.DefaultMode, "%s: the key is readable by the app's group (fsGroup) only", component)
	found := false
	for _, m := range c.VolumeMounts {
		if m.Name == "spacefleet-database-client" && m.MountPath == "/etc/spacefleet/database-client" && m.ReadOnly {
			found = true
		}
	}
	assert.Truef(t, found, "%s: mounts the client certificate at /etc/spacefleet/database-client", component)
}

// An external database's client certificate from cert-manager: the Certificate, the mount and PGSSLCERT/PGSSLKEY
// (a sslcert/sslkey in the URI wins, so a URI you own stays in charge).
func TestExternalClientCertificateFromCertManager(t *testing.T) {
	res := render(t, nil, append(append([]string{}, external...),
		"externalDatabase.tls.clientCertificate.certManager.issuerRef.name=db-client-ca",
		"externalDatabase.tls.clientCertificate.certManager.commonName=app_user",
		"externalDatabase.tls.clientCertificate.certManager.duration=720h")...)
	spec := certSpec(t, res, "spacefleet-database-client")
	assert.Equal(t, "app_user", spec["commonName"])
	assert.Equal(t, "720h", spec["duration"])
	for _, c := range dbClients {
		ctr := container(t, res, c)
		for env, want := range map[string]string{"PGSSLCERT": "/etc/spacefleet/database-client/tls.crt", "PGSSLKEY": "/etc/spacefleet/database-client/tls.key"} {
			e := chart.Env(ctr, env)
			require.NotNilf(t, e, "%s: %s", c, env)
			assert.Equal(t, want, e.Value)
		}
		assertMountsClientCert(t, c, res.Workloads()[c].Pod, ctr)
	}
	plain := render(t, nil, external...)
	assert.Nil(t, plain.Find("Certificate", "spacefleet-database-client"))
	assert.Nil(t, chart.Env(container(t, plain, "web"), "PGSSLCERT"))
}

// HTTPS on web (seed 004), from cert-manager: the certificate covers the web Service's names, web gets the files,
// the probes speak HTTPS, the Service says https, the Ingress tells ingress-nginx, NOTES show an https URL.
func TestWebTLSFromCertManager(t *testing.T) {
	res := render(t, nil, append(append([]string{}, webCertManager...), "web.ingress.enabled=true", "web.ingress.hosts[0].host=fleet.example.com")...)
	spec := certSpec(t, res, "spacefleet-web-tls")
	assert.Equal(t, "spacefleet-web-tls", spec["secretName"])
	assert.ElementsMatch(t, []any{"spacefleet-web", "spacefleet-web.spacefleet", "spacefleet-web.spacefleet.svc", "spacefleet-web.spacefleet.svc.cluster.local"}, spec["dnsNames"])
	assertWebServesTLS(t, res, "spacefleet-web-tls")
	svc := res.Find("Service", "spacefleet-web").Typed.(*corev1.Service)
	require.NotNil(t, svc.Spec.Ports[0].AppProtocol)
	assert.Equal(t, "https", *svc.Spec.Ports[0].AppProtocol)
	ing := res.Find("Ingress", "spacefleet-web").Typed.(*networkingv1.Ingress)
	assert.Equal(t, "HTTPS", ing.Annotations["nginx.ingress.kubernetes.io/backend-protocol"])
	assert.Contains(t, res.Notes, "https://spacefleet-web:8080/readyz")

	custom := render(t, nil, append(append([]string{}, webCertManager...), "web.tls.certManager.dnsNames[0]=fleet.internal")...)
	assert.Equal(t, []any{"fleet.internal"}, certSpec(t, custom, "spacefleet-web-tls")["dnsNames"])

	off := render(t, nil, "web.ingress.enabled=true", "web.ingress.hosts[0].host=fleet.example.com")
	web := container(t, off, "web")
	assert.Nil(t, chart.Env(web, "SPACEFLEET_TLS_CERT_FILE"))
	assert.Empty(t, web.ReadinessProbe.HTTPGet.Scheme, "plain HTTP probes when web.tls is off")
	assert.Nil(t, off.Find("Service", "spacefleet-web").Typed.(*corev1.Service).Spec.Ports[0].AppProtocol)
	assert.NotContains(t, off.Find("Ingress", "spacefleet-web").Typed.(*networkingv1.Ingress).Annotations, "nginx.ingress.kubernetes.io/backend-protocol")
	assert.Contains(t, off.Notes, "curl http://127.0.0.1:8080/readyz")
}

func assertWebServesTLS(t *testing.T, res *chart.Result, secret string) {
	t.Helper()
	web := container(t, res, "web")
	for env, want := range map[string]string{"SPACEFLEET_TLS_CERT_FILE": "/etc/spacefleet/web-tls/tls.crt", "SPACEFLEET_TLS_KEY_FILE": "/etc/spacefleet/web-tls/tls.key"} {
		e := chart.Env(web, env)
		require.NotNilf(t, e, env)
		assert.Equal(t, want, e.Value)
	}
	for name, p := range map[string]*corev1.Probe{"startup": web.StartupProbe, "liveness": web.LivenessProbe, "readiness": web.ReadinessProbe} {
		require.NotNilf(t, p, name)
		assert.Equalf(t, corev1.URISchemeHTTPS, p.HTTPGet.Scheme, "%s probe over HTTPS", name)
	}
	pod := res.Workloads()["web"].Pod
	var vol *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == "spacefleet-web-tls" {
			vol = &pod.Volumes[i]
		}
	}
	require.NotNil(t, vol, "web TLS volume")
	assert.Equal(t, secret, vol.Secret.SecretName)
	// only web serves HTTPS: the worker and migrate do not get the web certificate
	for _, c := range []string{"worker", "migrate"} {
		for _, v := range res.Workloads()[c].Pod.Volumes {
			assert.NotEqualf(t, "spacefleet-web-tls", v.Name, "%s mounts the web certificate", c)
		}
	}
}

func TestWebTLSFromAnExistingSecret(t *testing.T) {
	res := render(t, nil, "web.tls.enabled=true", "web.tls.existingSecret=my-web-tls")
	assert.Empty(t, res.All("Certificate"))
	assert.Nil(t, res.Find("Secret", "spacefleet-web-tls"), "your Secret, not one of ours")
	assertWebServesTLS(t, res, "my-web-tls")
}

// The trial pair is generated in the cluster by the secrets Job (once, kept across upgrades), never rendered.
func TestWebTLSSelfSignedForTrials(t *testing.T) {
	res := render(t, nil, "web.tls.enabled=true", "web.tls.selfSigned=true")
	assert.Nil(t, res.Find("Secret", "spacefleet-web-tls"), "no rendered pair")
	assert.Nil(t, res.Find("Secret", "spacefleet-web-selfsigned"), "the Job makes it")
	job := secretsJob(res)
	require.NotNil(t, job)
	var names []string
	for _, sp := range secretSpecs(job) {
		if sp.SelfSigned != nil {
			names = append(names, sp.Name)
			assert.Equal(t, "kubernetes.io/tls", sp.Type)
			assert.Contains(t, sp.SelfSigned.DNSNames, "spacefleet-web.spacefleet.svc")
		}
	}
	assert.Equal(t, []string{"spacefleet-web-selfsigned"}, names)
	assertWebServesTLS(t, res, "spacefleet-web-selfsigned")
	assert.Contains(t, res.Notes, "web.tls.selfSigned=true")
	assert.NotContains(t, render(t, nil, webCertManager...).Notes, "self-signed certificate generated once")
}

func TestTLSValuesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		bad  []string
		want string
	}{
		{[]string{"web.tls.enabled=true"}, "web.tls.enabled=true needs exactly one certificate source, got 0"},
		{[]string{"web.tls.enabled=true", "web.tls.selfSigned=true", "web.tls.existingSecret=x"}, "got 2 (web.tls.existingSecret, web.tls.selfSigned)"},
		{[]string{"web.tls.selfSigned=true"}, "web.tls.selfSigned is set but web.tls.enabled is false"},
		{[]string{"postgresql.tls.clientCertificate.enabled=true"}, "postgresql.tls.clientCertificate.enabled=true needs postgresql.tls.enabled=true"},
		{[]string{"postgresql.tls.enabled=true", "postgresql.tls.existingSecret=pg", "postgresql.tls.clientCertificate.enabled=true"}, "needs postgresql.tls.certManager.issuerRef.name"},
		{[]string{"externalDatabase.tls.clientCertificate.certManager.issuerRef.name=x", "externalDatabase.tls.clientCertificate.certManager.commonName=u"}, "external-database keys are set too: externalDatabase.tls.clientCertificate.certManager.issuerRef, externalDatabase.tls.clientCertificate.certManager.commonName"},
		{append(append([]string{}, external...), "externalDatabase.tls.clientCertificate.certManager.issuerRef.name=x"), "needs externalDatabase.tls.clientCertificate.certManager.commonName"},
		{append(append([]string{}, external...), "externalDatabase.tls.clientCertificate.certManager.commonName=u"), "without issuerRef.name"},
		{[]string{"web.tls.certManager.duration=90 days"}, "duration"},
		{[]string{"postgresql.enabled=false", "externalDatabase.host=db.example.com", "externalDatabase.database=d", "externalDatabase.username=u",
			"externalDatabase.existingSecret=s", "externalDatabase.existingSecretKeys.password=p",
			"externalDatabase.sslcert=/etc/spacefleet/database-client/tls.crt", "externalDatabase.sslkey=/etc/spacefleet/database-client/tls.key",
			"externalDatabase.tls.clientCertificate.certManager.issuerRef.name=ca", "externalDatabase.tls.clientCertificate.certManager.commonName=u"},
			"both give the client certificate"},
	} {
		err := renderErr(nil, tc.bad...)
		require.Errorf(t, err, "%v must be refused", tc.bad)
		assert.Containsf(t, err.Error(), tc.want, "%v", tc.bad)
	}
}
