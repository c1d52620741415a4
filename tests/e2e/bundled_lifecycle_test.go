//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// The bundled database's lifecycle (issue 4). Both tests are sequential on purpose: one bundled install at a time.
//
// TestLifecycleBundled:
//
//	step1: `helm install --wait -f dev.yaml` (generated password); rows written through the API.
//	step2: a no-op `helm upgrade` keeps the generated password and rolls nothing; `helm upgrade` with
//	       postgresql.auth.password=NEW rotates the role (new password accepted over TCP, old one rejected with
//	       28P01), the app keeps its rows and writes new ones, `helm test` passes; a repeated upgrade with the same
//	       NEW rolls nothing; dropping the password from values keeps NEW.
//	step2b: `helm rollback` to revision 1 keeps the StatefulSet and its PVC (same UIDs), the rows and the current
//	       password (a rollback runs no hooks; every pod reads the one password Secret); the app keeps working.
//	step4: `helm uninstall` keeps the PVC and the password Secret; a reinstall with the same release name and the
//	       same explicit password finds the rows; a second uninstall + reinstall without a password finds the password
//	       the data has.
//
// TestLifecycleBundledTLS (step3): postgresql.tls with a pre-provisioned Secret and required=true; the app and
// dbcheck connect with TLS (verify-full), a plaintext connection is rejected by pg_hba.

const pgContainer = "postgresql"

// tcpConninfo is a libpq conninfo to the bundled database from inside its own pod, over TCP.
func tcpConninfo(host, sslmode string) string {
	return fmt.Sprintf("host=%s port=5432 user=spacefleet dbname=spacefleet sslmode=%s connect_timeout=10", host, sslmode)
}

// authFailed is PostgreSQL's message for SQLSTATE 28P01 (invalid_password), as psql prints it.
const authFailed = `password authentication failed for user "spacefleet"`

// passwordHost is where the password checks connect: the database Service, from inside the database pod. Not
// 127.0.0.1: without postgresql.tls the chart keeps the image's initdb pg_hba.conf, which trusts loopback
// ("host all all 127.0.0.1/32 trust"), so any password "works" there. Through the Service the connection comes
// from the pod IP and meets "host all all all scram-sha-256", exactly like the app's.
func passwordHost(rel *h.Release) string { return rel.PostgresService() }

// roleAccepts asserts that the role's password is pw: a TCP connection from inside the database pod succeeds.
func roleAccepts(t *testing.T, rel *h.Release, pw, what string) {
	t.Helper()
	var out string
	err := h.Eventually(30*time.Second, 3*time.Second, func() (bool, error) {
		var err error
		out, err = h.PsqlPassword(t, rel.NS, rel.PostgresPod(), pgContainer, tcpConninfo(passwordHost(rel), "disable"), pw, "SELECT current_user")
		return err == nil, fmt.Errorf("%v: %s", err, out)
	})
	if assert.NoError(t, err, "psql over TCP with the %s password must connect", what) {
		assert.Equal(t, "spacefleet", out)
		h.Logf(t, "psql host=%s, %s password -> connected as %s", passwordHost(rel), what, out)
	}
}

// roleRejects asserts that pw is not the role's password: the server answers 28P01.
func roleRejects(t *testing.T, rel *h.Release, pw, what string) {
	t.Helper()
	out, err := h.PsqlPassword(t, rel.NS, rel.PostgresPod(), pgContainer, tcpConninfo(passwordHost(rel), "disable"), pw, "SELECT current_user")
	require.Error(t, err, "psql over TCP with the %s password must fail, got: %s", what, out)
	assert.Contains(t, out, authFailed, "the %s password is rejected as invalid_password (28P01)", what)
	h.Logf(t, "psql host=%s, %s password -> %s", passwordHost(rel), what, serverMessage(out))
}

// serverMessage is psql's report of a failed connection (the line with the server's FATAL), else its first line.
func serverMessage(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.Contains(l, "FATAL") || strings.Contains(l, "error:") {
			return strings.TrimSpace(l)
		}
	}
	return lines[0]
}

// readAll asserts every ship is readable through the API with its name.
func readAll(t *testing.T, api *h.API, ships []h.Ship) {
	t.Helper()
	for _, s := range ships {
		assert.Equal(t, s.Name, api.GetShip(t, s.ID).Name, "ship %d", s.ID)
	}
}

func sameUIDs(t *testing.T, before, after map[string]types.UID, what string) {
	t.Helper()
	assert.Equal(t, before, after, "%s pods must not be replaced", what)
}

func allReplaced(t *testing.T, before, after map[string]types.UID, what string) {
	t.Helper()
	require.NotEmpty(t, after, "%s pods exist", what)
	old := map[types.UID]bool{}
	for _, u := range before {
		old[u] = true
	}
	for name, u := range after {
		assert.False(t, old[u], "%s pod %s must have been replaced by the rotation", what, name)
	}
}

func podUIDs(t *testing.T, rel *h.Release) map[string]map[string]types.UID {
	m := map[string]map[string]types.UID{}
	for _, c := range []string{"web", "worker", "postgresql"} {
		m[c] = rel.NS.PodUIDs(t, rel.Selector(c))
	}
	return m
}

func passwordOverride(pw string) map[string]any {
	return map[string]any{"postgresql": map[string]any{"auth": map[string]any{"password": pw}}}
}

func TestLifecycleBundled(t *testing.T) {
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-life")
	rel := h.NewRelease(ns, release)
	var ships []h.Ship // every row written so far, in order
	var generated, rotated string

	write := func(t *testing.T, api *h.API, prefix string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			s := api.CreateShip(t, fmt.Sprintf("%s-%d-%s", prefix, i, h.RandHex(3)))
			assert.Equal(t, s.Name, api.GetShip(t, s.ID).Name)
			ships = append(ships, s)
		}
	}
	helmTest := func(t *testing.T) {
		t.Helper()
		tr := rel.Test(t)
		require.NoError(t, tr.Err, "helm test")
		check, ok := h.ParseDBCheck(tr.Output)
		require.True(t, ok, "dbcheck JSON in `helm test --logs`")
		assert.False(t, check.TLS, "bundled without TLS")
	}

	if !t.Run("step1-install", func(t *testing.T) {
		h.Timer(t)
		res := rel.Install(t, []string{"dev.yaml"}, nil)
		require.NoError(t, res.Err, "helm install (bundled, generated password)")
		t.Logf("TIMING step1 helm install --wait: %s", res.Duration.Round(time.Second))
		generated = rel.BundledPassword(t)
		assert.Len(t, generated, 32, "generated password length")
		name, _ := rel.PasswordRef(t)
		assert.Equal(t, rel.GeneratedPasswordSecret(), name, "generated in the cluster by the secrets Job")
		assert.Empty(t, h.URLPassword(t, string(rel.DatabaseSecretData(t)["DATABASE_URL"])), "DATABASE_URL carries no password (PGPASSWORD does)")
		assert.NotContains(t, rel.DatabaseSecretData(t), "password", "the rendered Secret holds no generated password")
		api := h.PortForward(t, ns, rel.Web())
		write(t, api, "install", 3)
		roleAccepts(t, rel, generated, "generated")
		roleRejects(t, rel, "wrong-"+h.RandHex(8), "wrong (control: this path really authenticates)")
	}) {
		t.FailNow()
	}

	if !t.Run("step2-rotate", func(t *testing.T) {
		h.Timer(t)

		// A no-op upgrade (same values, password still unset): lookup keeps the generated password, the checksum
		// is unchanged, nothing rolls.
		before := podUIDs(t, rel)
		res := rel.Upgrade(t, []string{"dev.yaml"}, nil)
		require.NoError(t, res.Err, "no-op helm upgrade")
		t.Logf("TIMING step2 no-op helm upgrade --wait: %s", res.Duration.Round(time.Second))
		assert.Equal(t, generated, rel.BundledPassword(t), "a no-op upgrade keeps the generated password")
		after := podUIDs(t, rel)
		for c := range before {
			sameUIDs(t, before[c], after[c], c)
		}
		roleAccepts(t, rel, generated, "generated (after the no-op upgrade)")

		// Rotation.
		rotated = h.NewPassword()
		before = after
		start := time.Now()
		res = rel.Upgrade(t, []string{"dev.yaml"}, passwordOverride(rotated))
		require.NoError(t, res.Err, "helm upgrade --set postgresql.auth.password=NEW")
		t.Logf("TIMING step2 rotation helm upgrade --wait: %s", res.Duration.Round(time.Second))
		assert.NotContains(t, rel.DatabaseSecretData(t), "password", "the release Secret never holds the password")
		assert.Equal(t, rotated, rel.BundledPassword(t), "the password Secret holds NEW (the password-set hook), the database reads it")
		after = podUIDs(t, rel)
		for c := range before {
			allReplaced(t, before[c], after[c], c)
		}
		ns.WaitReadyPods(t, rel.Selector("web"), 1, 5*time.Minute)
		api := h.PortForward(t, ns, rel.Web())
		readAll(t, api, ships)
		write(t, api, "rotated", 2)
		t.Logf("TIMING step2 rotation: app reads old rows and writes new ones %s after the upgrade started", time.Since(start).Round(time.Second))

		roleAccepts(t, rel, rotated, "NEW")
		roleRejects(t, rel, generated, "old (generated)")
		// The same, as the app's diagnosis (pgx prints the SQLSTATE): dbcheck with the old password.
		logs, ok := h.DBCheckPod(t, ns, "dbcheck-old-password",
			fmt.Sprintf("postgres://spacefleet:%s@%s:5432/spacefleet?sslmode=disable", generated, rel.PostgresHost()), nil, nil)
		assert.False(t, ok, "dbcheck with the old password must fail")
		assert.Contains(t, logs, "28P01", "dbcheck with the old password: SQLSTATE 28P01")
		h.Logf(t, "dbcheck pod with the old (generated) password ->\n%s", logs)

		sync, err := ns.Logs(t, rel.PostgresPod(), "password-sync", 0)
		require.NoError(t, err)
		assert.Contains(t, sync, "role password matches the Secret", "password-sync applied the Secret")
		pglog, err := ns.Logs(t, rel.PostgresPod(), pgContainer, 0)
		require.NoError(t, err)
		for what, pw := range map[string]string{"NEW": rotated, "old": generated} {
			assert.NotContains(t, sync+pglog, pw, "the %s password must not appear in the database pod's logs", what)
		}
		helmTest(t)

		// Upgrading again with the same NEW is a no-op too.
		before = podUIDs(t, rel)
		res = rel.Upgrade(t, []string{"dev.yaml"}, passwordOverride(rotated))
		require.NoError(t, res.Err, "repeated helm upgrade with the same NEW")
		after = podUIDs(t, rel)
		for c := range before {
			sameUIDs(t, before[c], after[c], c+" (same NEW again)")
		}

		// An upgrade that omits the password after an explicit rotation keeps NEW (no lockout): the pods' checksum
		// hashes the values' password ("" now), so they roll once, and all read the one password Secret.
		before = podUIDs(t, rel)
		res = rel.Upgrade(t, []string{"dev.yaml"}, nil)
		require.NoError(t, res.Err, "helm upgrade without the password after the rotation")
		assert.Equal(t, rotated, rel.BundledPassword(t), "omitting the password keeps the current one")
		after = podUIDs(t, rel)
		t.Logf("upgrade omitting the password after a rotation (%s): password kept, pods rolled=%v", res.Duration.Round(time.Second), fmt.Sprint(before) != fmt.Sprint(after))
		ns.WaitReadyPods(t, rel.Selector("web"), 1, 5*time.Minute)
		roleAccepts(t, rel, rotated, "NEW (after the upgrade that omitted it)")
		readAll(t, h.PortForward(t, ns, rel.Web()), ships)
	}) {
		t.FailNow()
	}

	pvcUID := func(t *testing.T) types.UID {
		t.Helper()
		pvc, err := ns.Client.CoreV1().PersistentVolumeClaims(ns.Name).Get(context.Background(), rel.PostgresPVC(), metav1.GetOptions{})
		require.NoError(t, err, "PVC %s exists", rel.PostgresPVC())
		assert.Equal(t, corev1.ClaimBound, pvc.Status.Phase, "PVC bound")
		return pvc.UID
	}
	stsUID := func(t *testing.T) types.UID {
		t.Helper()
		sts, err := ns.Client.AppsV1().StatefulSets(ns.Name).Get(context.Background(), rel.PostgresService(), metav1.GetOptions{})
		require.NoError(t, err)
		return sts.UID
	}

	// `helm rollback` across the rotation, to revision 1 (values without a password): the StatefulSet and its volume
	// are the same objects, the rows are there, and the password stays the current one (a rollback runs no hooks, and
	// every pod reads the one password Secret), so the app keeps working.
	if !t.Run("step2b-rollback", func(t *testing.T) {
		h.Timer(t)
		pvc, sts := pvcUID(t), stsUID(t)
		res := rel.Rollback(t, 1)
		require.NoError(t, res.Err, "helm rollback to revision 1")
		t.Logf("TIMING step2b helm rollback --wait: %s", res.Duration.Round(time.Second))
		assert.Equal(t, pvc, pvcUID(t), "rollback keeps the PVC (same object)")
		assert.Equal(t, sts, stsUID(t), "rollback does not recreate the StatefulSet")
		assert.Equal(t, rotated, rel.BundledPassword(t), "the rollback keeps the current password")
		ns.WaitReadyPods(t, rel.Selector("web"), 1, 5*time.Minute)
		api := h.PortForward(t, ns, rel.Web())
		readAll(t, api, ships)
		write(t, api, "rolled-back", 1)
		roleAccepts(t, rel, rotated, "current (after the rollback)")
		roleRejects(t, rel, generated, "generated (replaced by the rotation)")
		helmTest(t)
	}) {
		t.FailNow()
	}

	uninstall := func(t *testing.T) types.UID {
		t.Helper()
		uid := pvcUID(t)
		res := rel.Uninstall(t)
		require.NoError(t, res.Err, "helm uninstall")
		t.Logf("TIMING helm uninstall --wait: %s", res.Duration.Round(time.Second))
		// Never start a second postgres on the data directory while the old one is still terminating.
		ns.WaitNoPods(t, rel.Selector("postgresql"), 3*time.Minute)
		assert.Equal(t, uid, pvcUID(t), "the PVC survives helm uninstall (same object)")
		assert.Nil(t, rel.DatabaseSecretData(t), "the chart's Secret %s is gone with the release", rel.DatabaseSecret())
		_, err := ns.Client.AppsV1().StatefulSets(ns.Name).Get(context.Background(), rel.PostgresService(), metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "the StatefulSet is gone: %v", err)
		return uid
	}

	t.Run("step4-uninstall-keeps-data", func(t *testing.T) {
		h.Timer(t)

		t.Run("same-explicit-password", func(t *testing.T) {
			h.Timer(t)
			uid := uninstall(t)
			res := rel.Install(t, []string{"dev.yaml"}, passwordOverride(rotated))
			require.NoError(t, res.Err, "helm install again, same release name, same explicit password")
			t.Logf("TIMING step4 reinstall (same password) helm install --wait: %s", res.Duration.Round(time.Second))
			assert.Equal(t, uid, pvcUID(t), "the reinstall reuses the retained PVC")
			api := h.PortForward(t, ns, rel.Web())
			readAll(t, api, ships)
			write(t, api, "reinstalled", 1)
			roleAccepts(t, rel, rotated, "explicit (same as before the uninstall)")
		})
		if t.Failed() {
			return
		}

		// The password Secret is not a release resource: it outlives the uninstall with the data volume, so a reinstall
		// without a password finds the password the data has (the one of the last install). Then a reinstall with
		// another explicit password rotates it the usual way (password-set hook, password-sync on the database pod).
		t.Run("generated-password", func(t *testing.T) {
			h.Timer(t)
			uid := uninstall(t)
			_, err := ns.Client.CoreV1().Secrets(ns.Name).Get(context.Background(), rel.GeneratedPasswordSecret(), metav1.GetOptions{})
			require.NoError(t, err, "the password Secret survives helm uninstall, like the data volume")
			res := rel.Install(t, []string{"dev.yaml"}, nil)
			require.NoError(t, res.Err, "helm install again, same release name, no password in values")
			t.Logf("TIMING step4 reinstall (no password in values) helm install --wait: %s", res.Duration.Round(time.Second))
			assert.Equal(t, uid, pvcUID(t), "the reinstall reuses the retained PVC")
			assert.Equal(t, rotated, rel.BundledPassword(t), "the reinstall finds the password the data has")
			api := h.PortForward(t, ns, rel.Web())
			readAll(t, api, ships)
			write(t, api, "regenerated", 1)
			roleAccepts(t, rel, rotated, "kept across the uninstall")
			helmTest(t)
		})
	})
}

func TestLifecycleBundledTLS(t *testing.T) {
	env := h.Load(t)
	h.Timer(t)
	ns := h.NewNamespace(t, env, "e2e-life-tls")
	rel := h.NewRelease(ns, release)

	t.Run("step3-tls-required", func(t *testing.T) {
		h.Timer(t)
		svc := rel.PostgresService()
		ca := h.NewCA(t, "Spacefleet e2e bundled CA "+ns.Name)
		server := ca.Server(t, rel.PostgresHost(), svc, svc+"."+ns.Name, rel.PostgresHost()+".cluster.local")
		ns.CreateSecret(t, "bundled-pg-tls", map[string][]byte{"tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": ca.PEM})
		pw := h.NewPassword()
		over := map[string]any{"postgresql": map[string]any{
			"auth": map[string]any{"password": pw},
			"tls":  map[string]any{"enabled": true, "existingSecret": "bundled-pg-tls", "required": true},
		}}
		res := rel.Install(t, []string{"dev.yaml"}, over)
		require.NoError(t, res.Err, "helm install (bundled, TLS required)")
		t.Logf("TIMING step3 helm install --wait (TLS): %s", res.Duration.Round(time.Second))

		dbURL := string(rel.DatabaseSecretData(t)["DATABASE_URL"])
		assert.Contains(t, dbURL, "@"+rel.PostgresHost()+":5432/", "DATABASE_URL host is the Service's .svc name")
		assert.True(t, strings.HasSuffix(dbURL, "?sslmode=verify-full&sslrootcert=/etc/spacefleet/postgresql-ca/ca.crt"),
			"DATABASE_URL verifies the server fully against the mounted CA: %s", h.Redact(dbURL))
		hba, err := ns.Client.CoreV1().ConfigMaps(ns.Name).Get(context.Background(), svc+"-hba", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Contains(t, hba.Data["pg_hba.conf"], "hostnossl all all all reject")

		api := h.PortForward(t, ns, rel.Web())
		s := api.CreateShip(t, "tls-"+h.RandHex(3))
		assert.Equal(t, s.Name, api.GetShip(t, s.ID).Name)

		// The server's view of the app's connections.
		conns := h.SSLConnections(t, func(t testing.TB, sql string) string {
			return h.Psql(t, ns, rel.PostgresPod(), pgContainer, "spacefleet", "spacefleet", sql)
		})
		seen := map[string]bool{}
		for _, c := range conns {
			seen[c.App] = true
			assert.Equal(t, "t", c.SSL, "connection of %s uses TLS", c.App)
		}
		assert.True(t, seen["spacefleet-web"], "web is connected: %+v", conns)
		t.Logf("app connections as pg_stat_ssl sees them: %+v", conns)

		tr := rel.Test(t)
		require.NoError(t, tr.Err, "helm test")
		check, ok := h.ParseDBCheck(tr.Output)
		require.True(t, ok, "dbcheck JSON in `helm test --logs`")
		assert.True(t, check.TLS, "dbcheck reports TLS on")
		assert.NotEmpty(t, check.TLSVersion)
		t.Logf("dbcheck: tls=%v version=%s cipher=%s", check.TLS, check.TLSVersion, check.Cipher)

		// Plaintext to the Service name is refused by pg_hba (before authentication: the password is right).
		out, err := h.PsqlPassword(t, ns, rel.PostgresPod(), pgContainer, tcpConninfo(svc, "disable"), pw, "SELECT 1")
		require.Error(t, err, "a plaintext connection must be refused, got: %s", out)
		assert.Contains(t, out, "pg_hba.conf", "refused by pg_hba")
		assert.Contains(t, out, "no encryption", "refused because it is not encrypted")
		h.Logf(t, "plaintext psql host=%s sslmode=disable -> %s", svc, serverMessage(out))

		// TLS with verify-full against the same CA, to the same Service, succeeds.
		out, err = h.PsqlPassword(t, ns, rel.PostgresPod(), pgContainer,
			tcpConninfo(rel.PostgresHost(), "verify-full")+" sslrootcert=/tls/ca.crt", pw,
			"SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
		if assert.NoError(t, err, "psql verify-full: %s", out) {
			assert.Equal(t, "t", out, "the psql connection is TLS")
		}

		// The app's diagnosis of a plaintext URL (SQLSTATE 28000).
		logs, ok := h.DBCheckPod(t, ns, "dbcheck-plaintext",
			fmt.Sprintf("postgres://spacefleet:%s@%s:5432/spacefleet?sslmode=disable", pw, rel.PostgresHost()), nil, nil)
		assert.False(t, ok, "dbcheck over plaintext must fail")
		assert.Contains(t, logs, "28000", "dbcheck over plaintext: SQLSTATE 28000")
		h.Logf(t, "dbcheck pod over plaintext (sslmode=disable) ->\n%s", logs)
	})
}
