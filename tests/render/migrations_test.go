package render

import (
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
)

func migrateJob(t *testing.T, res *chart.Result) (*chart.Object, *batchv1.Job) {
	t.Helper()
	var jobs []chart.Object
	for _, j := range res.All("Job") {
		if j.Typed.(*batchv1.Job).Labels["app.kubernetes.io/component"] == "migrate" {
			jobs = append(jobs, j)
		}
	}
	require.Len(t, jobs, 1, "exactly one migrate Job")
	return &jobs[0], jobs[0].Typed.(*batchv1.Job)
}

// certctl DEPL-003: the flag must reach the pods, and must be absent when off.
func TestViaHookReachesWebAndWorkerOnlyWhenOn(t *testing.T) {
	on := render(t, nil, append(external, "migrations.viaHook=true")...)
	for _, c := range []string{"web", "worker"} {
		env := chart.Env(container(t, on, c), "SPACEFLEET_MIGRATIONS_VIA_HOOK")
		require.NotNilf(t, env, "%s must get SPACEFLEET_MIGRATIONS_VIA_HOOK when viaHook=true", c)
		assert.Equal(t, "true", env.Value)
	}
	assert.Nil(t, chart.Env(container(t, on, "migrate"), "SPACEFLEET_MIGRATIONS_VIA_HOOK"), "the Job itself migrates")

	off := render(t, nil, append(external, "migrations.viaHook=false")...)
	for _, c := range []string{"web", "worker", "migrate"} {
		assert.Nilf(t, chart.Env(container(t, off, c), "SPACEFLEET_MIGRATIONS_VIA_HOOK"), "%s must not get the flag when viaHook=false", c)
	}
}

func TestMigrateJobIsNamedForKubectlLogs(t *testing.T) {
	res := render(t, nil)
	o, job := migrateJob(t, res)
	assert.Equal(t, "spacefleet-migrate", o.Name, "the product page says: kubectl logs job/spacefleet-migrate")
	assert.Equal(t, []string{"migrate"}, job.Spec.Template.Spec.Containers[0].Args)
	assert.Equal(t, "Never", string(job.Spec.Template.Spec.RestartPolicy))
	assert.Contains(t, res.Notes, "logs job/spacefleet-migrate")
}

// Hook phases: external databases exist before the release (pre-install); the bundled one does not (post-install).
func TestMigrateHookPhasesFollowWhereTheDatabaseLives(t *testing.T) {
	cases := map[string]struct {
		set   []string
		phase string
	}{
		"bundled":        {nil, "post-install,pre-upgrade"},
		"existingSecret": {external, "pre-install,pre-upgrade"},
		"inline url":     {[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"}, "pre-install,pre-upgrade"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, tc.set...)
			o, job := migrateJob(t, res)
			assert.True(t, o.Hook)
			assert.Equal(t, tc.phase, job.Annotations["helm.sh/hook"])
			assert.Equal(t, "before-hook-creation", job.Annotations["helm.sh/hook-delete-policy"], "keep the Job (and its logs) until the next run")
		})
	}
}

// Zitadel's rule: what a hooked Job reads must itself be a hook of lower weight. Ours is scoped to the hook phase,
// and nothing the running app reads is a hook: a failed pre-upgrade Job must leave the app's Secret unchanged.
func TestHookedJobDependenciesAreEarlierHooksAndTheAppsAreNot(t *testing.T) {
	const url = "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"
	hookDep := func(t *testing.T, res *chart.Result, kind, name, phases string) {
		t.Helper()
		o := res.Find(kind, name)
		require.NotNilf(t, o, "%s %s rendered", kind, name)
		assert.Truef(t, o.Hook, "%s %s is a hook", kind, name)
		ann := o.Raw["metadata"].(map[string]any)["annotations"].(map[string]any)
		assert.Equal(t, phases, ann["helm.sh/hook"], "%s %s runs in the Job's phases", kind, name)
		assert.Equal(t, "-10", ann["helm.sh/hook-weight"], "%s %s exists before the Job (weight 0)", kind, name)
		assert.Equal(t, "before-hook-creation,hook-succeeded", ann["helm.sh/hook-delete-policy"], "%s %s lives only as long as the hook phase", kind, name)
	}
	appSide := func(t *testing.T, res *chart.Result) {
		t.Helper()
		sec := res.Find("Secret", "spacefleet-database")
		require.NotNil(t, sec)
		assert.False(t, sec.Hook, "web and worker read an ordinary release Secret: Helm changes it only after pre-upgrade hooks succeed")
		sa := res.Find("ServiceAccount", "spacefleet")
		require.NotNil(t, sa)
		assert.False(t, sa.Hook)
		for _, c := range []string{"web", "worker", "dbcheck"} {
			assert.Equal(t, "spacefleet", res.Workloads()[c].Pod.ServiceAccountName, c)
		}
	}

	t.Run("inline url: Secret copy and ServiceAccount at pre-install", func(t *testing.T) {
		res := render(t, nil, "postgresql.enabled=false", url)
		hookDep(t, res, "Secret", "spacefleet-migrate-database", "pre-install,pre-upgrade")
		hookDep(t, res, "ServiceAccount", "spacefleet-migrate", "pre-install,pre-upgrade")
		o, job := migrateJob(t, res)
		assert.True(t, o.Hook)
		assert.Equal(t, "0", job.Annotations["helm.sh/hook-weight"])
		assert.Equal(t, "spacefleet-migrate", job.Spec.Template.Spec.ServiceAccountName, "the Job runs as the ServiceAccount that exists at pre-install")
		appSide(t, res)
	})
	t.Run("existingSecret: ServiceAccount only", func(t *testing.T) {
		res := render(t, nil, external...)
		hookDep(t, res, "ServiceAccount", "spacefleet-migrate", "pre-install,pre-upgrade")
		assert.Empty(t, res.All("Secret"))
		_, job := migrateJob(t, res)
		assert.Equal(t, "spacefleet-migrate", job.Spec.Template.Spec.ServiceAccountName)
	})
	t.Run("bundled: post-install hook, the release's Secret", func(t *testing.T) {
		res := render(t, nil)
		hookDep(t, res, "ServiceAccount", "spacefleet-migrate", "post-install,pre-upgrade")
		assert.Nil(t, res.Find("Secret", "spacefleet-migrate-database"))
		appSide(t, res)
	})
	t.Run("plain Job: no hook dependencies", func(t *testing.T) {
		res := render(t, nil, "postgresql.enabled=false", url, "migrations.useHelmHooks=false")
		for _, o := range res.Objects {
			if o.Kind != "Pod" { // the `helm test` pod is a test hook in every mode
				assert.Falsef(t, o.Hook, "%s %s must not be a hook", o.Kind, o.Name)
			}
		}
		_, job := migrateJob(t, res)
		assert.Equal(t, "spacefleet", job.Spec.Template.Spec.ServiceAccountName)
	})
	t.Run("serviceAccount.create=false: every pod uses the named one", func(t *testing.T) {
		res := render(t, nil, append(external, "serviceAccount.create=false", "serviceAccount.name=team-sa")...)
		assert.Empty(t, res.All("ServiceAccount"))
		_, job := migrateJob(t, res)
		assert.Equal(t, "team-sa", job.Spec.Template.Spec.ServiceAccountName)
	})
}

// GitOps: a plain Job (no hook) whose name tracks what it runs, not .Release.Revision.
func TestPlainMigrateJobForGitOps(t *testing.T) {
	res := render(t, nil, append(external, "migrations.useHelmHooks=false")...)
	o, job := migrateJob(t, res)
	assert.False(t, o.Hook, "useHelmHooks=false renders an ordinary resource")
	assert.Empty(t, job.Annotations["helm.sh/hook"])
	assert.True(t, strings.HasPrefix(o.Name, "spacefleet-migrate-"), o.Name)

	name := func(set ...string) string {
		o, _ := migrateJob(t, render(t, nil, append(append([]string{}, external...), append([]string{"migrations.useHelmHooks=false"}, set...)...)...))
		return o.Name
	}
	assert.Equal(t, o.Name, name(), "same inputs, same Job: an unchanged sync leaves it alone")
	assert.NotEqual(t, o.Name, name("image.tag=0.2.0"), "a new image is a new Job (Jobs are immutable)")
	assert.NotEqual(t, o.Name, name("externalDatabase.existingSecret=other"), "a new connection is a new Job")
	up, err := chart.Render(chart.Options{Set: append(append([]string{}, external...), "migrations.useHelmHooks=false"), Upgrade: true})
	require.NoError(t, err)
	o2, _ := migrateJob(t, up)
	assert.Equal(t, o.Name, o2.Name, "the name must not depend on install vs upgrade or the revision")
	assert.LessOrEqual(t, len(o.Name), 63)
}

// A hook that needs a database this release creates can only run post-install: with viaHook the pods wait
// for it and `helm install --wait` would never finish. Refuse it at template time, naming the way out.
func TestViaHookWithBundledDatabaseAndHooksIsRefused(t *testing.T) {
	err := renderErr(nil, "migrations.viaHook=true")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "migrations.useHelmHooks=false")
	assert.Contains(t, err.Error(), "migrations.viaHook")

	res := render(t, nil, "migrations.viaHook=true", "migrations.useHelmHooks=false")
	o, _ := migrateJob(t, res)
	assert.False(t, o.Hook, "bundled + viaHook runs a plain Job beside the database")
	assert.NotNil(t, chart.Env(container(t, res, "web"), "SPACEFLEET_MIGRATIONS_VIA_HOOK"))
}
