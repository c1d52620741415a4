//go:build e2e

package harness

// Helpers for the bundled-database lifecycle suite (bundled_lifecycle_test.go): uninstall, the bundled
// database's names and password, psql over TCP with a password fed on stdin, pod identities, and a one-off
// `spacefleet dbcheck` pod. No password ever reaches argv, a values file outside the test's temp dir, or the log.

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Uninstall runs `helm uninstall --wait` (the release's resources are gone when it returns; the StatefulSet's
// PVC is not a release resource and stays).
func (r *Release) Uninstall(t testing.TB) Result {
	t.Helper()
	res := r.command(t, "uninstall", "--wait", "--timeout", "5m")
	if res.Err != nil {
		Logf(t, "helm uninstall %s (%s) failed after %s:\n%s", r.Name, r.helmName(), res.Duration.Round(time.Second), res.Output)
	} else {
		t.Logf("helm uninstall %s (%s) succeeded in %s", r.Name, r.helmName(), res.Duration.Round(time.Second))
	}
	return res
}

// Rollback runs `helm rollback RELEASE REVISION --wait`.
func (r *Release) Rollback(t testing.TB, revision int) Result {
	t.Helper()
	res := r.command(t, "rollback", strconv.Itoa(revision), "--wait", "--timeout", "5m")
	if res.Err != nil {
		Logf(t, "helm rollback %s %d (%s) failed after %s:\n%s", r.Name, revision, r.helmName(), res.Duration.Round(time.Second), res.Output)
	}
	return res
}

// Names of the bundled database's objects.
func (r *Release) PostgresPod() string     { return r.Object("postgresql") + "-0" }
func (r *Release) PostgresService() string { return r.Object("postgresql") }
func (r *Release) PostgresPVC() string     { return "data-" + r.Object("postgresql") + "-0" }
func (r *Release) DatabaseSecret() string  { return r.Object("database") }

// PostgresHost is the Service's namespaced name, as DATABASE_URL and the server certificate carry it.
func (r *Release) PostgresHost() string { return r.PostgresService() + "." + r.NS.Name + ".svc" }

// DatabaseSecretData returns the chart's database Secret (nil when it does not exist). Every value that looks
// like a credential (password, DATABASE_URL's password) is registered for redaction before it is returned.
func (r *Release) DatabaseSecretData(t testing.TB) map[string][]byte {
	t.Helper()
	s, err := r.NS.Client.CoreV1().Secrets(r.NS.Name).Get(context.Background(), r.DatabaseSecret(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get secret %s: %v", r.DatabaseSecret(), err)
	}
	if pw := s.Data["password"]; len(pw) > 0 {
		RegisterSecret(string(pw))
	}
	if u, err := url.Parse(string(s.Data["DATABASE_URL"])); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			RegisterSecret(pw)
		}
	}
	return s.Data
}

// BundledPassword is the bundled database's password as the database pod gets it (registered for redaction): the
// Secret and key its StatefulSet's POSTGRES_PASSWORD names — <fullname>-postgresql-password when generated (chart
// 0.2.0 on), <fullname>-database when values gave it (or when chart 0.1.0 generated it there).
func (r *Release) BundledPassword(t testing.TB) string {
	t.Helper()
	name, key := r.PasswordRef(t)
	s, err := r.NS.Client.CoreV1().Secrets(r.NS.Name).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get secret %s (the database's password): %v", name, err)
	}
	pw := string(s.Data[key])
	if pw == "" {
		t.Fatalf("secret %s has no key %s", name, key)
	}
	RegisterSecret(pw)
	return pw
}

// PasswordRef is the Secret and key the bundled database's StatefulSet reads its password from.
func (r *Release) PasswordRef(t testing.TB) (string, string) {
	t.Helper()
	sts, err := r.NS.Client.AppsV1().StatefulSets(r.NS.Name).Get(context.Background(), r.PostgresService(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get statefulset %s: %v", r.PostgresService(), err)
	}
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if c.Name == "postgresql" && e.Name == "POSTGRES_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
			}
		}
	}
	t.Fatalf("statefulset %s: no POSTGRES_PASSWORD from a Secret", r.PostgresService())
	return "", ""
}

// GeneratedPasswordSecret is where the secrets Job keeps the generated password (chart 0.2.0 on).
func (r *Release) GeneratedPasswordSecret() string { return r.Object("postgresql-password") }

// URLPassword is the password inside the Secret's DATABASE_URL ("" when the URL carries none).
func URLPassword(t testing.TB, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("DATABASE_URL does not parse: %v", Redact(err.Error()))
	}
	if u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// PsqlPassword runs one psql command in a container of pod with the libpq conninfo (e.g. "host=127.0.0.1
// user=spacefleet dbname=spacefleet sslmode=disable") and PGPASSWORD=password. The password travels on stdin
// (`read`), never in argv. It returns psql's redacted output (unaligned, tuples only) and its error: a failed
// connection is an error whose output carries the server's message.
func PsqlPassword(t testing.TB, ns *NS, pod, container, conninfo, password, sql string) (string, error) {
	t.Helper()
	script := `IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -X -w -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"`
	out, err := ns.Exec(t, password+"\n", "-i", pod, "-c", container, "--", "sh", "-c", script, "psql", conninfo, sql)
	return strings.TrimSpace(Redact(out)), err
}

// PodUIDs maps the names of the selector's live (not terminating) pods to their UIDs.
func (ns *NS) PodUIDs(t testing.TB, selector string) map[string]types.UID {
	t.Helper()
	m := map[string]types.UID{}
	for _, p := range ns.Pods(t, selector) {
		if p.DeletionTimestamp == nil {
			m[p.Name] = p.UID
		}
	}
	return m
}

// WaitNoPods waits until no pod (terminating or not) matches the selector.
func (ns *NS) WaitNoPods(t testing.TB, selector string, timeout time.Duration) {
	t.Helper()
	err := Eventually(timeout, 2*time.Second, func() (bool, error) {
		n := len(ns.Pods(t, selector))
		return n == 0, fmt.Errorf("%d pods still match %s", n, selector)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// DBCheckPod runs `spacefleet dbcheck` once in a pod of the app image, with DATABASE_URL from a new Secret (so a
// URL with a password never appears in argv or a log), waits for it to end, and returns its redacted log and
// whether it exited 0. Extra volumes/mounts deliver CA files.
func DBCheckPod(t testing.TB, ns *NS, name, databaseURL string, vols []corev1.Volume, mounts []corev1.VolumeMount) (string, bool) {
	t.Helper()
	if pw := URLPassword(t, databaseURL); pw != "" {
		RegisterSecret(pw)
	}
	ns.CreateSecret(t, name, map[string][]byte{"DATABASE_URL": []byte(databaseURL)})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "e2e-dbcheck"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
				RunAsGroup: ptr.To[int64](65532), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "dbcheck", Image: ns.Env.AppImage.String(), ImagePullPolicy: corev1.PullIfNotPresent,
				Args: []string{"dbcheck"},
				Env: []corev1.EnvVar{
					{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "DATABASE_URL"}}},
					{Name: "SPACEFLEET_COMPONENT", Value: "e2e-dbcheck"},
				},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				VolumeMounts: mounts,
			}},
			Volumes: vols,
		},
	}
	ctx := context.Background()
	if _, err := ns.Client.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	var phase corev1.PodPhase
	err := Eventually(4*time.Minute, 2*time.Second, func() (bool, error) {
		p, err := ns.Client.CoreV1().Pods(ns.Name).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, fmt.Errorf("pod %s is %s", name, phase)
	})
	if err != nil {
		t.Fatalf("dbcheck pod: %v", err)
	}
	logs, err := ns.Logs(t, name, "dbcheck", 0)
	if err != nil {
		t.Fatalf("logs of %s: %v", name, err)
	}
	return Redact(logs), phase == corev1.PodSucceeded
}
