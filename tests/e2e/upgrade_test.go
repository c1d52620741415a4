//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestUpgradeFromPrevious: N-1 -> N, the way an operator upgrades. The newest released package (N-1, cut by
// `make package-previous` from its commit in ci/chart-releases.txt) is installed from the registry with --verify,
// data is written through the API, then `helm upgrade` to the current package (N) with the SAME values file.
// Asserted: the pre-upgrade migrate Job ran and completed before any pod of the new revision started, every row
// written before is still there, the app reads and writes, `helm test` passes, and no credential changed (the
// bundled database's password, the external DATABASE_URL). On the bundled release, an upgrade to another PostgreSQL
// major is then refused and changes nothing.
func TestUpgradeFromPrevious(t *testing.T) {
	h.Parallel(t)
	t.Run("bundled", func(t *testing.T) {
		t.Parallel()
		env := h.Load(t)
		oci := h.RequireOCI(t, env)
		h.Timer(t)
		ns := h.NewNamespace(t, env, "e2e-upg-bundled")
		rel := h.NewRelease(ns, release)
		// the values file of the previous release's trial example, as an operator of N-1 kept it
		files := []string{filepath.Join(oci.PrevValues, "dev.yaml")}
		runUpgrade(t, rel, oci, files, nil)
	})
	t.Run("external-tls", func(t *testing.T) {
		t.Parallel()
		env := h.Load(t)
		oci := h.RequireOCI(t, env)
		h.Timer(t)
		pg := h.StartPostgres(t, env, h.PostgresOptions{})
		ns := h.NewNamespace(t, env, "e2e-upg-tls")
		rel := h.NewRelease(ns, release)
		values := externalTLS(t, pg, ns, "existingSecret")
		// as an operator of N-1 wrote them: the key chart 0.2.0 renamed (existingSecretKey, still honoured with a
		// deprecation warning) — the one values file must install N-1 and upgrade to N
		ext := values["externalDatabase"].(map[string]any)
		ext["existingSecretKey"] = ext["existingSecretKeys"].(map[string]any)["url"]
		delete(ext, "existingSecretKeys")
		runUpgrade(t, rel, oci, nil, values)
	})
}

func runUpgrade(t *testing.T, rel *h.Release, oci h.OCI, files []string, values map[string]any) {
	ns := rel.NS
	require.NotEmpty(t, oci.PrevVersion, "SPACEFLEET_E2E_PREV_CHART_VERSION")
	require.NotEqual(t, oci.PrevVersion, oci.Version, "the current chart must have a new version (make version-increment)")
	// One values file for both revisions: written once, passed to install and upgrade alike.
	if values != nil {
		files = append(files, h.WriteValues(t, "values-upgrade.yaml", values))
	}

	rel.FromOCI(oci, oci.PrevVersion)
	res := rel.Install(t, files, nil)
	require.NoError(t, res.Err, "helm install %s --version %s", oci.ChartURL(), oci.PrevVersion)
	assert.Equal(t, "spacefleet-"+oci.PrevVersion, deployedChart(t, rel), "N-1 is installed")

	api := h.PortForward(t, ns, rel.Web())
	var ships []h.Ship
	for i := 0; i < 3; i++ {
		ships = append(ships, api.CreateShip(t, fmt.Sprintf("before-upgrade-%d-%s", i, h.RandHex(3))))
	}
	secretBefore := secretDigest(t, rel)
	var pwBefore string
	if values == nil {
		pwBefore = rel.BundledPassword(t)
	}

	rel.FromOCI(oci, oci.Version)
	start := time.Now().Add(-time.Second) // API timestamps have second precision
	up := rel.Upgrade(t, files, nil)
	require.NoError(t, up.Err, "helm upgrade to %s --version %s with the same values file", oci.ChartURL(), oci.Version)
	t.Logf("TIMING upgrade %s -> %s (%s): %s", oci.PrevVersion, oci.Version, helmName(rel), up.Duration.Round(time.Second))
	assert.Equal(t, "spacefleet-"+oci.Version, deployedChart(t, rel), "N is deployed")

	// The migrate Job of this upgrade (pre-upgrade hook) completed before the first pod of the new revision.
	job := ns.Job(t, rel.Migrate())
	require.NotNil(t, job, "the pre-upgrade migrate Job %s exists", rel.Migrate())
	require.True(t, h.JobCondition(job, "Complete"), "the migrate Job completed")
	require.False(t, job.CreationTimestamp.Time.Before(start), "the migrate Job is the upgrade's (created %s, upgrade started %s)", job.CreationTimestamp, start)
	require.NotNil(t, job.Status.CompletionTime)
	newPods := 0
	for _, component := range []string{"web", "worker"} {
		for _, p := range ns.Pods(t, rel.Selector(component)) {
			if p.Labels["helm.sh/chart"] != "spacefleet-"+oci.Version {
				continue
			}
			newPods++
			assert.False(t, p.CreationTimestamp.Time.Before(job.Status.CompletionTime.Time),
				"pod %s of the new revision was created at %s, before the migrate Job completed at %s", p.Name, p.CreationTimestamp, job.Status.CompletionTime)
		}
	}
	assert.Positive(t, newPods, "the upgrade rolled web and worker onto the new chart version")
	logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
	require.NoError(t, err)
	assert.Contains(t, logs, "schema is current", "migrate log")

	// --wait returns once the new pods are Ready; the old ones may still be terminating, and a port-forward to the
	// Service could land on one that no longer listens. Wait until only the new revision's web pods are left.
	web, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
	require.NoError(t, err)
	ns.WaitReadyPods(t, rel.Selector("web"), int(*web.Spec.Replicas), 3*time.Minute)
	api = h.PortForward(t, ns, rel.Web())
	for _, s := range ships {
		assert.Equal(t, s.Name, api.GetShip(t, s.ID).Name, "ship %d written on %s is still there on %s", s.ID, oci.PrevVersion, oci.Version)
	}
	after := api.CreateShip(t, "after-upgrade-"+h.RandHex(3))
	assert.Equal(t, after.Name, api.GetShip(t, after.ID).Name, "the app writes and reads after the upgrade")

	// Compared, never printed.
	assert.True(t, secretBefore == secretDigest(t, rel), "the database Secret changed across the upgrade: a credential rotated")
	if values == nil {
		assert.True(t, pwBefore == rel.BundledPassword(t), "the bundled database password changed across the upgrade")
		roleAccepts(t, rel, pwBefore, "pre-upgrade")
		out, err := h.PsqlPassword(t, ns, rel.PostgresPod(), pgContainer, tcpConninfo(passwordHost(rel), "disable"), pwBefore, "SELECT count(*) FROM ships")
		require.NoError(t, err, out)
		assert.Equal(t, fmt.Sprint(len(ships)+1), out, "rows in the bundled database")
	}

	tr := rel.Test(t)
	require.NoError(t, tr.Err, "helm test after the upgrade")

	if values == nil {
		majorUpgradeRefused(t, rel, files, api)
	}
}

type releaseInfo struct {
	Chart    string `json:"chart"`
	Revision string `json:"revision"`
	Status   string `json:"status"`
}

// deployed is the release's deployed revision (chart name-version, revision, status), from `helm list`.
func deployed(t *testing.T, rel *h.Release) releaseInfo {
	t.Helper()
	out, err := rel.Helm(t, "list", "--deployed", "--filter", "^"+rel.Name+"$", "-o", "json", "--namespace", rel.NS.Name,
		"--kubeconfig", rel.Env.Kubeconfig, "--kube-context", rel.Env.KubeContext)
	require.NoError(t, err, out)
	var list []releaseInfo
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list, 1, out)
	return list[0]
}

func deployedChart(t *testing.T, rel *h.Release) string { return deployed(t, rel).Chart }

// majorUpgradeRefused: on a running bundled release, `helm upgrade` to another PostgreSQL major (tag "16" while 15
// runs) is refused at template time naming both majors and the runbook, and nothing changes: same revision, same
// pods, the database image untouched, the app still serves.
func majorUpgradeRefused(t *testing.T, rel *h.Release, files []string, api *h.API) {
	ns := rel.NS
	before := deployed(t, rel)
	uids := ns.PodUIDs(t, "app.kubernetes.io/instance="+rel.Name)
	stsImage := func() string {
		sts, err := ns.Client.AppsV1().StatefulSets(ns.Name).Get(context.Background(), rel.PostgresService(), metav1.GetOptions{})
		require.NoError(t, err)
		return sts.Spec.Template.Spec.Containers[0].Image + " " + sts.Annotations["spacefleet.io/postgresql-major"]
	}
	img := stsImage()
	running := rel.Env.PGImage.Tag
	next := fmt.Sprint(atoi(t, running) + 1)
	rel.Images = map[string]string{
		"image.repository": rel.Env.AppImage.Repository, "image.tag": rel.Env.AppImage.Tag, "image.pullPolicy": "IfNotPresent",
		"postgresql.image.repository": rel.Env.PGImage.Repository, "postgresql.image.tag": next, "postgresql.image.pullPolicy": "IfNotPresent",
	}
	defer func() { rel.Images = nil }()
	res := rel.Upgrade(t, files, nil)
	require.Error(t, res.Err, "an upgrade from PostgreSQL %s to %s must be refused", running, next)
	assert.Contains(t, res.Output, fmt.Sprintf("is PostgreSQL %s, but the bundled database", next))
	assert.Contains(t, res.Output, "runs PostgreSQL "+running)
	assert.Contains(t, res.Output, "PostgreSQL major upgrades", "the message points at the runbook")

	after := deployed(t, rel)
	assert.Equal(t, before, after, "the refused upgrade left the release as it was")
	assert.Equal(t, uids, ns.PodUIDs(t, "app.kubernetes.io/instance="+rel.Name), "no pod was replaced")
	assert.Equal(t, img, stsImage(), "the database StatefulSet is untouched")
	s := api.CreateShip(t, "after-refused-major-"+h.RandHex(2))
	assert.Equal(t, s.Name, api.GetShip(t, s.ID).Name, "the release keeps serving")
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	require.NoError(t, err, "PostgreSQL tag %q has no leading major", s)
	return n
}

// secretDigest hashes the data of the Secret the app reads its connection from (the chart's, or the operator's
// existingSecret), so a test can compare it across revisions without holding or printing a credential.
func secretDigest(t *testing.T, rel *h.Release) string {
	t.Helper()
	name := rel.DatabaseSecret()
	s, err := rel.NS.Client.CoreV1().Secrets(rel.NS.Name).Get(context.Background(), name, metav1.GetOptions{})
	hsh := sha256.New()
	if err == nil {
		// bundled: what the clients connect with — the URI without its userinfo password (0.1.0 put the password in
		// the URI, 0.2.0 passes it as PGPASSWORD from the generated Secret), the user, and the database's password
		u, perr := url.Parse(string(s.Data["DATABASE_URL"]))
		require.NoError(t, perr, "DATABASE_URL parses")
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		fmt.Fprintf(hsh, "url=%s;username=%x;password=%x;", u.String(), s.Data["username"], rel.BundledPassword(t))
		return fmt.Sprintf("%s:%x", name, hsh.Sum(nil))
	}
	name = "spacefleet-db" // existingSecret mode: the operator's Secret (externalValues)
	s, err = rel.NS.Client.CoreV1().Secrets(rel.NS.Name).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	for _, k := range []string{"DATABASE_URL", "password", "username"} {
		fmt.Fprintf(hsh, "%s=%x;", k, s.Data[k])
	}
	return fmt.Sprintf("%s:%x", name, hsh.Sum(nil))
}
