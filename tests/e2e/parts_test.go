//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// The connection by parts (issue 12) against the test's own PostgreSQL (TLS, plain TCP rejected by pg_hba).

// partsValues: the external database by parts, the password (and whatever keys says) read from Secret secret.
func partsValues(secret string, keys map[string]any, literals map[string]any) map[string]any {
	ext := map[string]any{"existingSecret": secret, "existingSecretKeys": keys}
	for k, v := range literals {
		ext[k] = v
	}
	return map[string]any{"postgresql": map[string]any{"enabled": false}, "externalDatabase": ext}
}

// noteLines returns NOTES' "Database:" block (three lines).
func noteLines(notes string) string {
	var out []string
	for _, l := range strings.Split(notes, "\n") {
		if strings.HasPrefix(l, "Database:") || strings.HasPrefix(l, "  connection type:") || strings.HasPrefix(l, "  sslmode:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPartsCloudNativePG (e2e 1): a Secret with CloudNativePG's key layout (<cluster>-app: username, password,
// host, port, dbname, uri, ...) whose password holds `@:/#?% +` and a non-ASCII letter, every part read from it,
// verify-full against the CA from a mounted <cluster>-ca Secret (only its ca.crt: the Secret also holds ca.key).
// Install, web Ready, the API writes and reads, the server sees TLS from every client, `helm test` reports TLS and
// the parts it connected with; the password appears nowhere but in Secrets.
func TestPartsCloudNativePG(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	pw := h.HardPassword()
	pg := h.StartPostgres(t, env, h.PostgresOptions{User: "app", DB: "app", Password: pw})
	ns := h.NewNamespace(t, env, "e2e-cnpg")
	rel := h.NewRelease(ns, release)
	cnpg := pg.CNPGSecrets(t, ns, "spacefleet-pg", pg.Host)
	values := h.Merge(partsValues(cnpg.AppSecret, h.CNPGKeys, nil), h.CASecretValues(cnpg.CASecret))

	res := rel.Install(t, nil, values)
	require.NoError(t, res.Err, "helm install by parts")
	t.Logf("TIMING install-to-Ready (by parts, CloudNativePG layout, verify-full): %s", res.Duration.Round(time.Second))
	h.NoSecretIn(t, "helm install output", res.Output, pw)

	notes := rel.Notes(t)
	h.NoSecretIn(t, "NOTES", notes, pw)
	t.Logf("NOTES:\n%s", noteLines(notes))
	assert.Contains(t, notes, "connection type: unknown (the host comes from Secret "+cnpg.AppSecret+" (key host)")
	assert.Contains(t, notes, "sslmode: verify-full (")

	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("web")), "web Ready")
	assert.Equal(t, 1, ns.ReadyPods(t, rel.Selector("worker")), "worker Ready")
	dep, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
	require.NoError(t, err)
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == cnpg.CASecret {
			require.Len(t, v.Secret.Items, 1, "only ca.crt of %s is mounted (never ca.key)", cnpg.CASecret)
			assert.Equal(t, "ca.crt", v.Secret.Items[0].Key)
		}
	}
	out, _ := ns.Kubectl(t, "get", "deployment,job,pod,configmap", "-o", "yaml")
	h.NoSecretIn(t, "the release's Deployments, Jobs, Pods and ConfigMaps", out, pw)

	api := h.PortForward(t, ns, rel.Web())
	name := "parts-" + h.RandHex(4)
	ship := api.CreateShip(t, name)
	assert.Equal(t, name, api.GetShip(t, ship.ID).Name, "the API reads back what it wrote")
	assert.Equal(t, "1", pg.Psql(t, "SELECT count(*) FROM ships WHERE name = '"+name+"'"), "the row is in the database the parts point at")

	assertAllTLS(t, pg, "")

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok, "dbcheck JSON in helm test output")
	assert.True(t, check.TLS, "dbcheck: the server sees TLS")
	assert.NotEmpty(t, check.TLSVersion)
	assert.Equal(t, pg.Host, check.Host, "dbcheck: the host from the Secret")
	assert.Equal(t, "app", check.User)
	assert.Equal(t, "app", check.Database)
	assert.Equal(t, 5432, check.Port)
	assert.Equal(t, "verify-full", check.SSLMode)

	for _, c := range []string{"job/" + rel.Migrate(), "deployment/" + rel.Web(), "deployment/" + rel.Worker()} {
		logs, err := ns.KubectlLogs(t, c)
		require.NoError(t, err)
		h.NoSecretIn(t, "kubectl logs "+c, logs, pw)
	}
}

// TestPartsSwitchDatabase (e2e 2): the migration runbook. Install against database A by parts, then `helm upgrade`
// to database B by parts. A switch whose new Secret holds the wrong password fails at the pre-upgrade migrate Job
// and leaves the running app on A (same pods, still writing to A). After the runbook's data copy (writers stopped,
// pg_dump A | psql B) and the right password, the switch succeeds: the migrate Job connected to B before any web
// pod did, the app ends up on B with the rows written on A, and new writes land in B.
func TestPartsSwitchDatabase(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	pgA := h.StartPostgres(t, env, h.PostgresOptions{})
	pgB := h.StartPostgres(t, env, h.PostgresOptions{User: "app", DB: "app", Password: h.HardPassword()})
	ns := h.NewNamespace(t, env, "e2e-switch")
	rel := h.NewRelease(ns, release)

	// Each database: literal host (an in-cluster Service name: verify-full with its CA mounted), user and database;
	// the password from a Secret.
	ns.CreateSecret(t, "db-a", map[string][]byte{"password": []byte(pgA.Password)})
	ns.CreateSecret(t, "db-a-ca", map[string][]byte{"ca.crt": pgA.CA.PEM})
	ns.CreateSecret(t, "db-b", map[string][]byte{"password": []byte("wrong-" + pgB.Password)})
	ns.CreateSecret(t, "db-b-ca", map[string][]byte{"ca.crt": pgB.CA.PEM})
	on := func(pg *h.Postgres, secret string) map[string]any {
		return h.Merge(partsValues(secret, map[string]any{"password": "password"},
			map[string]any{"host": pg.Host, "database": pg.DB, "username": pg.User}),
			h.CASecretValues(secret+"-ca"), map[string]any{"migrations": map[string]any{"backoffLimit": 0}})
	}

	start := time.Now()
	res := rel.Install(t, nil, on(pgA, "db-a"))
	require.NoError(t, res.Err, "helm install on A")
	notes := rel.Notes(t)
	t.Logf("NOTES:\n%s", noteLines(notes))
	assert.Contains(t, notes, "connection type: in-cluster (host \""+pgA.Host+"\" is a Service name in the cluster domain")
	assert.Contains(t, notes, "sslmode: verify-full (in-cluster host with a CA mounted")
	api := h.PortForward(t, ns, rel.Web())
	before := api.CreateShip(t, "on-a-"+h.RandHex(3))
	uids := ns.PodUIDs(t, rel.Selector("web"))

	// 1. The failed switch: wrong password in B's Secret.
	t0 := time.Now()
	up := rel.Upgrade(t, nil, on(pgB, "db-b"))
	require.Error(t, up.Err, "helm upgrade to B with a wrong password must fail")
	t.Logf("TIMING failed switch (pre-upgrade migrate Job refused by B): %s", time.Since(t0).Round(time.Second))
	assert.Contains(t, up.Output, "pre-upgrade")
	logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
	require.NoError(t, err)
	assert.Contains(t, logs, "28P01", "the migrate Job's log names the rejected password")
	assert.Contains(t, logs, "PGPASSWORD (chart: externalDatabase.password or externalDatabase.existingSecretKeys.password)")
	h.NoSecretIn(t, "the migrate log", logs, pgB.Password)
	assert.Equal(t, uids, ns.PodUIDs(t, rel.Selector("web")), "web pods untouched by the failed switch")
	dep, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
	require.NoError(t, err)
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "PGHOST" {
			assert.Equal(t, pgA.Host, e.Value, "web still points at A")
		}
	}
	during := api.CreateShip(t, "still-on-a-"+h.RandHex(3))
	assert.Equal(t, "1", pgA.Psql(t, "SELECT count(*) FROM ships WHERE name = '"+during.Name+"'"), "after the failed switch the app writes to A")

	// 2. The runbook: stop the writers, copy A to B, fix B's Secret, switch.
	_, err = ns.Kubectl(t, "scale", "deployment/"+rel.Web(), "deployment/"+rel.Worker(), "--replicas=0")
	require.NoError(t, err)
	ns.WaitNoPods(t, rel.Selector("web"), 2*time.Minute)
	ns.WaitNoPods(t, rel.Selector("worker"), 2*time.Minute)
	t1 := time.Now()
	dump, err := pgA.NS.Exec(t, "", pgA.Pod(), "-c", "postgres", "--", "pg_dump", "-U", pgA.User, "-d", pgA.DB, "--no-owner", "--no-privileges")
	require.NoError(t, err, "pg_dump A")
	_, err = pgB.NS.Exec(t, dump, pgB.Pod(), "-i", "-c", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", pgB.User, "-d", pgB.DB)
	require.NoError(t, err, "restore into B")
	t.Logf("TIMING data copy A -> B (pg_dump | psql): %s", time.Since(t1).Round(time.Second))
	ns.PutSecretData(t, "db-b", map[string][]byte{"password": []byte(pgB.Password)})

	t2 := time.Now()
	up = rel.Upgrade(t, nil, on(pgB, "db-b"))
	require.NoError(t, up.Err, "helm upgrade to B")
	t.Logf("TIMING switch to B (pre-upgrade migrate Job on B, web and worker rolled onto B): %s", time.Since(t2).Round(time.Second))

	// The migrate Job reached B before any web pod did (log_connections=on keeps the order).
	logB := pgB.Log(t)
	first := func(app string) int {
		for i, l := range strings.Split(logB, "\n") {
			if strings.Contains(l, "connection authorized") && strings.Contains(l, "application_name="+app) {
				return i
			}
		}
		return -1
	}
	migrateAt, webAt := first("spacefleet-migrate"), first("spacefleet-web")
	require.GreaterOrEqual(t, migrateAt, 0, "B's log has the migrate Job's connection")
	require.GreaterOrEqual(t, webAt, 0, "B's log has a web connection")
	assert.Less(t, migrateAt, webAt, "the migrate Job connected to B before web did")

	ns.WaitReadyPods(t, rel.Selector("web"), 1, 3*time.Minute)
	api = h.PortForward(t, ns, rel.Web())
	assert.Equal(t, before.Name, api.GetShip(t, before.ID).Name, "a row written on A is served from B")
	assert.Equal(t, during.Name, api.GetShip(t, during.ID).Name, "the row written after the failed switch was copied too")
	after := api.CreateShip(t, "on-b-"+h.RandHex(3))
	assert.Equal(t, "1", pgB.Psql(t, "SELECT count(*) FROM ships WHERE name = '"+after.Name+"'"), "new writes land in B")
	assert.Equal(t, "0", pgA.Psql(t, "SELECT count(*) FROM ships WHERE name = '"+after.Name+"'"), "and not in A")
	err = h.Eventually(90*time.Second, 3*time.Second, func() (bool, error) {
		rows := h.SSLConnections(t, pgA.Psql)
		return len(rows) == 0, nil
	})
	assert.NoError(t, err, "no spacefleet client is left connected to A")
	assertAllTLS(t, pgB, "")

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test")
	check, ok := h.ParseDBCheck(tr.Output)
	require.True(t, ok)
	assert.Equal(t, pgB.Host, check.Host, "helm test connects to B")
	assert.True(t, check.TLS)
	t.Logf("TIMING runbook end to end (install on A .. helm test on B): %s", time.Since(start).Round(time.Second))
}

// TestPartsFailureList (e2e 3): seed 001's failure list by parts, one row each, read from
// `kubectl logs job/<release>-migrate`: the install fails at the pre-install hook, the log line carries the Go
// error text operators grep for, a cause, and a fix naming the PG* variable and the values key; no password.
func TestPartsFailureList(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{Password: h.HardPassword()})

	rows := []struct {
		name     string
		literals map[string]any
		password string
		want     []string
	}{
		{"connection-refused", map[string]any{"port": pg.ClosedPort}, pg.Password,
			[]string{"connection refused", "PGPORT (chart: externalDatabase.port"}},
		{"ssl-required", map[string]any{"sslmode": "disable"}, pg.Password,
			[]string{"no encryption", "SSL required", "PGSSLMODE (chart: externalDatabase.sslmode)"}},
		{"authentication-failed", nil, "wrong-" + pg.Password,
			[]string{"28P01", "password authentication failed", "PGPASSWORD (chart: externalDatabase.password"}},
		{"database-does-not-exist", map[string]any{"database": "nosuchdb"}, pg.Password,
			[]string{"3D000", "does not exist", "PGDATABASE (chart: externalDatabase.database"}},
		{"host-does-not-resolve", map[string]any{"host": "nosuch-db." + pg.NS.Name + ".svc"}, pg.Password,
			[]string{"no such host", "PGHOST (chart: externalDatabase.host"}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			h.Timer(t)
			ns := h.NewNamespace(t, env, "e2e-pfail")
			rel := h.NewRelease(ns, release)
			ns.CreateSecret(t, "db", map[string][]byte{"password": []byte(row.password)})
			ns.CreateSecret(t, "db-ca", map[string][]byte{"ca.crt": pg.CA.PEM})
			literals := h.Merge(map[string]any{"host": pg.Host, "database": pg.DB, "username": pg.User}, row.literals)
			values := h.Merge(partsValues("db", map[string]any{"password": "password"}, literals), h.CASecretValues("db-ca"),
				map[string]any{"migrations": map[string]any{"backoffLimit": 0}})

			res := rel.Install(t, nil, values)
			require.Error(t, res.Err, "helm install must fail")
			assert.Contains(t, res.Output, "pre-install", "helm names the failed pre-install hook")
			h.NoSecretIn(t, "helm output", res.Output, pg.Password)

			logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
			require.NoError(t, err, "kubectl logs job/%s: %s", rel.Migrate(), h.Redact(logs))
			h.NoSecretIn(t, "the migrate log", logs, pg.Password)
			var failure h.LogLine
			for _, l := range h.ParseLogs(logs) {
				if l["level"] == "ERROR" && l["cause"] != nil && l["fix"] != nil {
					failure = l
				}
			}
			require.NotNil(t, failure, "the failure line carries error, cause and fix:\n%s", h.Redact(logs))
			all := h.Redact(strings.Join([]string{toString(failure["error"]), toString(failure["cause"]), toString(failure["fix"])}, " | "))
			t.Logf("%s: %s", row.name, all)
			for _, w := range row.want {
				assert.Contains(t, all, w)
			}
			assert.Zero(t, ns.ReadyPods(t, rel.Selector("web")), "Ready web pods after a failed install")
		})
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}
