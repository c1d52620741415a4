//go:build e2e

package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// PostgresOptions shape the test's own PostgreSQL.
type PostgresOptions struct {
	// MTLS makes pg_hba demand a client certificate (`hostssl all all all cert clientcert=verify-full`);
	// otherwise TLS with a password (`hostssl all all all scram-sha-256`). Plain TCP is always rejected.
	MTLS bool
	// User, DB and Password of the app role (defaults: spacefleet, spacefleet, a random hex password). The
	// password goes to initdb through a file, so any character but a newline works.
	User, DB, Password string
	// Place, when set, adjusts the pod spec (e.g. OnControlPlane: off the workers a test drains).
	Place func(*corev1.PodSpec)
}

// Postgres is an in-cluster PostgreSQL (the spacefleet/postgres image) in its own namespace, serving TLS with a
// certificate for its Service name signed by a CA the test generated, logging every connection
// (log_connections=on: the server log records each connection's application_name and TLS parameters).
type Postgres struct {
	NS         *NS
	CA         *CA // signed the server (and client) certificates
	WrongCA    *CA // an unrelated CA: the "wrong bundle"
	Client     KeyPair
	User, DB   string
	Password   string
	Host       string // pg.<ns>.svc: on the certificate
	AliasHost  string // pg-alias.<ns>.svc: a second Service on the same pod, NOT on the certificate
	Port       int
	ClosedPort int // a port of Service pg whose target nothing listens on
	pod        string
}

// ClientCN is the CN of the generated client certificate (= the database role under `cert` auth).
const ClientCN = "spacefleet"

// StartPostgres deploys the database into a new namespace and waits until it is Ready.
func StartPostgres(t *testing.T, env *Env, opts PostgresOptions) *Postgres {
	t.Helper()
	ns := NewNamespace(t, env, "e2e-pg")
	p := &Postgres{NS: ns, User: "spacefleet", DB: "spacefleet", Port: 5432, ClosedPort: 5433,
		Host: "pg." + ns.Name + ".svc", AliasHost: "pg-alias." + ns.Name + ".svc"}
	if opts.User != "" {
		p.User = opts.User
	}
	if opts.DB != "" {
		p.DB = opts.DB
	}
	if p.Password = opts.Password; p.Password == "" {
		p.Password = NewPassword()
	}
	p.CA = NewCA(t, "Spacefleet e2e CA "+ns.Name)
	p.WrongCA = NewCA(t, "Unrelated e2e CA")
	server := p.CA.Server(t, p.Host, "pg", "pg."+ns.Name, "pg."+ns.Name+".svc.cluster.local")
	p.Client = p.CA.Client(t, ClientCN, "Spacefleet e2e clients")

	hba := "local all all trust\nhostssl all all all scram-sha-256\nhostnossl all all all reject\n"
	if opts.MTLS {
		hba = "local all all trust\nhostssl all all all cert clientcert=verify-full\nhostnossl all all all reject\n"
	}
	ns.CreateSecret(t, "pg-tls", map[string][]byte{"tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": p.CA.PEM})
	ns.CreateSecret(t, "pg-auth", map[string][]byte{"password": []byte(p.Password)})
	ns.CreateConfigMap(t, "pg-hba", map[string]string{"pg_hba.conf": hba})

	labels := map[string]string{"app": "pg"}
	img := env.PGImage.String()
	restricted := &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pg", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](999), RunAsGroup: ptr.To[int64](999),
						FSGroup: ptr.To[int64](999), RunAsNonRoot: ptr.To(true)},
					InitContainers: []corev1.Container{{
						// PostgreSQL refuses a key others can read: copy it to a 0600 file the postgres user owns.
						Name: "tls-key", Image: img, ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"/bin/sh", "-c", "cp /tls-in/tls.crt /tls-in/ca.crt /tls-in/tls.key /tls/ && chmod 0600 /tls/tls.key"},
						SecurityContext: restricted,
						VolumeMounts:    []corev1.VolumeMount{{Name: "tls-in", MountPath: "/tls-in"}, {Name: "tls", MountPath: "/tls"}},
					}},
					Containers: []corev1.Container{{
						Name: "postgres", Image: img, ImagePullPolicy: corev1.PullIfNotPresent,
						Args: []string{"-c", "ssl=on", "-c", "ssl_cert_file=/tls/tls.crt", "-c", "ssl_key_file=/tls/tls.key",
							"-c", "ssl_ca_file=/tls/ca.crt", "-c", "hba_file=/etc/pg-hba/pg_hba.conf", "-c", "log_connections=on"},
						Env: []corev1.EnvVar{
							{Name: "POSTGRES_USER", Value: p.User},
							{Name: "POSTGRES_DB", Value: p.DB},
							{Name: "POSTGRES_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "pg-auth"}, Key: "password"}}},
							{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
						},
						Ports: []corev1.ContainerPort{{Name: "postgresql", ContainerPort: 5432}},
						// TCP on 127.0.0.1: the entrypoint's init-time server listens on the socket only.
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
							Command: []string{"pg_isready", "-h", "127.0.0.1", "-p", "5432"}}}, PeriodSeconds: 2, TimeoutSeconds: 3},
						SecurityContext: restricted,
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/postgresql/data"},
							{Name: "tls", MountPath: "/tls", ReadOnly: true}, {Name: "hba", MountPath: "/etc/pg-hba", ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{
						{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "tls", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
						{Name: "tls-in", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "pg-tls", DefaultMode: ptr.To[int32](0o440)}}},
						{Name: "hba", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: "pg-hba"}}}},
					},
				},
			},
		},
	}
	if opts.Place != nil {
		opts.Place(&dep.Spec.Template.Spec)
	}
	ctx := context.Background()
	if _, err := ns.Client.AppsV1().Deployments(ns.Name).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create postgres deployment: %v", err)
	}
	svc := func(name string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: labels, Ports: ports}}
	}
	for _, s := range []*corev1.Service{
		svc("pg", corev1.ServicePort{Name: "postgresql", Port: 5432, TargetPort: intstr.FromInt32(5432)},
			// nothing listens on 5433 in the pod: the connection is refused, not timed out
			corev1.ServicePort{Name: "closed", Port: int32(p.ClosedPort), TargetPort: intstr.FromInt32(5433)}),
		svc("pg-alias", corev1.ServicePort{Name: "postgresql", Port: 5432, TargetPort: intstr.FromInt32(5432)}),
	} {
		if _, err := ns.Client.CoreV1().Services(ns.Name).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create service %s: %v", s.Name, err)
		}
	}
	start := time.Now()
	ns.WaitReadyPods(t, "app=pg", 1, 5*time.Minute)
	p.pod = ns.Pods(t, "app=pg")[0].Name
	t.Logf("postgres %s ready in %s (TLS, %s)", p.Host, time.Since(start).Round(time.Second), map[bool]string{true: "client certificates required", false: "scram-sha-256"}[opts.MTLS])
	return p
}

// URL is the app's connection URI for host:port with the given query (password included unless nopass).
func (p *Postgres) URL(host string, port int, query string, nopass bool) string {
	userinfo := p.User + ":" + p.Password
	if nopass {
		userinfo = p.User
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?%s", userinfo, host, port, p.DB, query)
}

// Psql runs SQL as the superuser over the pod's local socket and returns psql's unaligned output
// (fields separated by '|').
func (p *Postgres) Psql(t testing.TB, sql string) string {
	t.Helper()
	return Psql(t, p.NS, p.pod, "postgres", p.User, p.DB, sql)
}

// Log returns the server log (stderr of the postgres container).
func (p *Postgres) Log(t testing.TB) string {
	t.Helper()
	out, err := p.NS.Logs(t, p.pod, "postgres", 0)
	if err != nil {
		t.Fatalf("postgres log: %v", err)
	}
	return out
}

// Psql runs sql with psql in a database pod over the local socket.
func Psql(t testing.TB, ns *NS, pod, container, user, db, sql string) string {
	t.Helper()
	var out string
	err := Eventually(30*time.Second, 2*time.Second, func() (bool, error) {
		var err error
		out, err = ns.Exec(t, "", pod, "-c", container, "--", "psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", db, "-At", "-F", "|", "-c", sql)
		if err != nil {
			return false, fmt.Errorf("%v: %s", err, Redact(out))
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("psql %q in %s/%s: %v", sql, ns.Name, pod, err)
	}
	return strings.TrimSpace(out)
}

// ConnInfo is one row of pg_stat_activity joined with pg_stat_ssl.
type ConnInfo struct {
	App, SSL, Version, ClientDN string
}

// SSLConnections lists the server's client connections whose application_name starts with "spacefleet-".
func SSLConnections(t testing.TB, psql func(testing.TB, string) string) []ConnInfo {
	t.Helper()
	out := psql(t, `SELECT a.application_name, s.ssl, coalesce(s.version, ''), coalesce(s.client_dn, '')
		FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
		WHERE a.application_name LIKE 'spacefleet-%' AND a.backend_type = 'client backend' ORDER BY 1`)
	var rows []ConnInfo
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) == 4 {
			rows = append(rows, ConnInfo{App: f[0], SSL: f[1], Version: f[2], ClientDN: f[3]})
		}
	}
	return rows
}

// ConnectionLogLines returns the "connection authorized" lines of the server log for an application_name.
func ConnectionLogLines(log, app string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "connection authorized") && strings.Contains(l, "application_name="+app+" ") ||
			strings.Contains(l, "connection authorized") && strings.HasSuffix(strings.TrimSpace(l), "application_name="+app) {
			out = append(out, l)
		}
	}
	return out
}

// CAConfigMap puts a CA bundle into ns as a ConfigMap with key global-bundle.pem (the RDS recipe:
// `kubectl create configmap rds-ca-bundle --from-file=global-bundle.pem`).
func CAConfigMap(t testing.TB, ns *NS, name string, ca *CA) {
	t.Helper()
	ns.CreateConfigMap(t, name, map[string]string{"global-bundle.pem": string(ca.PEM)})
}

// RDSMountPath and RDSRootCert are the RDS recipe's mount and sslrootcert.
const (
	RDSMountPath = "/etc/ssl/rds"
	RDSRootCert  = RDSMountPath + "/global-bundle.pem"
)

// CAValues mounts ConfigMap cm at /etc/ssl/rds in every database client (config.extraVolumes/extraVolumeMounts).
func CAValues(cm string) map[string]any {
	return map[string]any{"config": map[string]any{
		"extraVolumes":      []any{map[string]any{"name": "rds-ca", "configMap": map[string]any{"name": cm}}},
		"extraVolumeMounts": []any{map[string]any{"name": "rds-ca", "mountPath": RDSMountPath, "readOnly": true}},
	}}
}
