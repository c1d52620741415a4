package render

// Issue 25: the production path (production.yaml, the layered stacks), one setting for a database CA, the bundled
// database for longer trials, the `tests` section, symmetric web and worker defaults, the Gateway's BackendTLSPolicy.

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// externalDatabase.tls.ca: one setting wires the volume (only the named key), the mount and PGSSLROOTCERT into web,
// worker, migrate and the `helm test` pod, through the database road (spacefleet.database.volumes/volumeMounts/env).
func TestDatabaseCAIsOneSetting(t *testing.T) {
	parts := []string{"postgresql.enabled=false", "externalDatabase.host=spacefleet-pg-rw", "externalDatabase.database=app",
		"externalDatabase.username=app", "externalDatabase.existingSecret=pg-app", "externalDatabase.existingSecretKeys.password=password"}
	for name, tc := range map[string]struct {
		set  []string
		key  string
		from func(v corev1.Volume) (string, []corev1.KeyToPath)
	}{
		"a Secret (CloudNativePG's -ca)": {[]string{"externalDatabase.tls.ca.secretName=spacefleet-pg-ca"}, "ca.crt",
			func(v corev1.Volume) (string, []corev1.KeyToPath) {
				if v.Secret == nil {
					return "", nil
				}
				return v.Secret.SecretName, v.Secret.Items
			}},
		"a ConfigMap under another key": {[]string{"externalDatabase.tls.ca.configMapName=rds-ca-bundle", "externalDatabase.tls.ca.key=global-bundle.pem"}, "global-bundle.pem",
			func(v corev1.Volume) (string, []corev1.KeyToPath) {
				if v.ConfigMap == nil {
					return "", nil
				}
				return v.ConfigMap.Name, v.ConfigMap.Items
			}},
	} {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, append(append([]string{}, parts...), tc.set...)...)
			want := strings.SplitN(tc.set[0], "=", 2)[1]
			for _, c := range dbClients {
				w := res.Workloads()[c]
				var vol *corev1.Volume
				for i := range w.Pod.Volumes {
					if w.Pod.Volumes[i].Name == "spacefleet-database-ca" {
						vol = &w.Pod.Volumes[i]
					}
				}
				require.NotNilf(t, vol, "%s has the CA volume", c)
				src, items := tc.from(*vol)
				assert.Equal(t, want, src, c)
				assert.Equal(t, []corev1.KeyToPath{{Key: tc.key, Path: tc.key}}, items, "%s: only the CA's key is mounted (never a ca.key beside it)", c)
				ctr := w.Pod.Containers[0]
				var mounted bool
				for _, m := range ctr.VolumeMounts {
					if m.Name == "spacefleet-database-ca" {
						mounted = m.MountPath == "/etc/spacefleet/database-ca" && m.ReadOnly
					}
				}
				assert.Truef(t, mounted, "%s mounts the CA read-only at /etc/spacefleet/database-ca", c)
				assert.Equal(t, "/etc/spacefleet/database-ca/"+tc.key, literal(t, ctr, "PGSSLROOTCERT"), c)
				assert.Equal(t, "verify-full", literal(t, ctr, "PGSSLMODE"), "%s: an in-cluster host with a CA is verified fully", c)
			}
			assert.Contains(t, res.Notes, "in-cluster host with a CA mounted: verified against the CA in")
			assert.Contains(t, res.Notes, "(externalDatabase.tls.ca)")
			assert.NotContains(t, res.Notes, "WARNING")
		})
	}
	// A URI gets the CA as PGSSLROOTCERT (its own sslrootcert would win), an existing Secret's URI too.
	for _, set := range [][]string{
		{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db.example.com/sf?sslmode=verify-full"},
		{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "externalDatabase.sslmode=verify-full"},
	} {
		res := render(t, nil, append(set, "externalDatabase.tls.ca.configMapName=db-ca")...)
		for _, c := range dbClients {
			assert.Equal(t, "/etc/spacefleet/database-ca/ca.crt", literal(t, container(t, res, c), "PGSSLROOTCERT"), c)
		}
	}
	// Unset: nothing mounted, no PGSSLROOTCERT.
	res := render(t, nil, append(append([]string{}, parts...), "externalDatabase.sslmode=verify-full")...)
	for _, c := range dbClients {
		for _, v := range res.Workloads()[c].Pod.Volumes {
			assert.NotEqual(t, "spacefleet-database-ca", v.Name)
		}
		assert.Nil(t, chart.Env(container(t, res, c), "PGSSLROOTCERT"), c)
	}
	// A changed CA rolls the pods (the checksum follows it).
	a := res.Workloads()["web"].Meta["checksum/database"]
	b := render(t, nil, append(append([]string{}, parts...), "externalDatabase.sslmode=verify-full", "externalDatabase.tls.ca.secretName=x")...).Workloads()["web"].Meta["checksum/database"]
	assert.NotEqual(t, a, b)
}

func TestDatabaseCAValuesAreRefused(t *testing.T) {
	ext := []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "externalDatabase.sslmode=verify-full"}
	for name, tc := range map[string]struct {
		set  []string
		want string
	}{
		"a Secret and a ConfigMap": {append(append([]string{}, ext...), "externalDatabase.tls.ca.secretName=a", "externalDatabase.tls.ca.configMapName=b"),
			"externalDatabase.tls.ca.secretName and externalDatabase.tls.ca.configMapName are both set"},
		"tls.ca and sslrootcert": {append(append([]string{}, ext...), "externalDatabase.tls.ca.secretName=a", "externalDatabase.sslrootcert=/etc/x/ca.crt",
			"config.extraVolumes[0].name=x", "config.extraVolumes[0].configMap.name=x", "config.extraVolumeMounts[0].name=x", "config.extraVolumeMounts[0].mountPath=/etc/x"),
			"externalDatabase.tls.ca and externalDatabase.sslrootcert=/etc/x/ca.crt both name the database CA"},
		"a key with a slash": {append(append([]string{}, ext...), "externalDatabase.tls.ca.secretName=a", "externalDatabase.tls.ca.key=../ca.crt"),
			`externalDatabase.tls.ca.key "../ca.crt" is not a ConfigMap/Secret key`},
		"with the bundled database": {[]string{"externalDatabase.tls.ca.secretName=a"}, "external-database keys are set too: externalDatabase.tls.ca.secretName"},
	} {
		t.Run(name, func(t *testing.T) {
			refusedWithAndWithoutSchema(t, tc.set, tc.want)
		})
	}
}

// refusedWithAndWithoutSchema: the values fail to render, and without values.schema.json the template-time check
// alone refuses them with want (the schema may catch them first, with its own words).
func refusedWithAndWithoutSchema(t *testing.T, set []string, want string) {
	t.Helper()
	require.Error(t, renderErr(nil, set...))
	vals, err := chart.ValuesFrom(chart.Options{Set: set})
	require.NoError(t, err)
	_, err = chart.RenderWithoutSchema(vals)
	require.Error(t, err, "the template-time check refuses it without the schema too")
	assert.Contains(t, err.Error(), want)
}

// An overlay that switches a base file's external database to the bundled one: refused, naming every key to blank
// and the YAML that blanks them; with that YAML as one more values file the stack renders on the bundled database.
func TestOverlaySwitchingToTheBundledDatabase(t *testing.T) {
	files := append(example("cloudnativepg-parts.yaml"), example("dev.yaml")...)
	err := renderErr(files)
	require.Error(t, err)
	msg := err.Error()
	for _, k := range []string{"externalDatabase.existingSecret", "externalDatabase.host", "externalDatabase.existingSecretKeys.database",
		"externalDatabase.existingSecretKeys.username", "externalDatabase.existingSecretKeys.password", "externalDatabase.tls.ca.secretName"} {
		assert.Containsf(t, msg, k, "the refusal names %s", k)
	}
	m := regexp.MustCompile(`in an environment overlay: externalDatabase: (\{.*\})\); to use the external one`).FindStringSubmatch(msg)
	require.Len(t, m, 2, "the refusal carries the YAML that blanks every key: %s", msg)
	var blank map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(m[1]), &blank))
	overlay := filepath.Join(t.TempDir(), "blank.yaml")
	b, _ := yaml.Marshal(map[string]any{"externalDatabase": blank})
	require.NoError(t, os.WriteFile(overlay, b, 0o600))
	res := render(t, append(files, overlay))
	assert.NotNil(t, res.Find("StatefulSet", "spacefleet-postgresql"), "the stack now runs the bundled database")
	for _, c := range dbClients {
		for _, v := range res.Workloads()[c].Pod.Volumes {
			assert.NotEqualf(t, "spacefleet-database-ca", v.Name, "%s: no leftover CA of the old database", c)
		}
	}
}

func layered(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(chart.Root(), "examples", "values", "layered", n))
	}
	return out
}

// examples/values/layered: base.yaml plus one overlay per environment; every stack renders (strict decode), each
// overlay picks its own database, and the production stack is examples/values/production.yaml split in two.
func TestLayeredStacks(t *testing.T) {
	overlays, err := filepath.Glob(filepath.Join(chart.Root(), "examples", "values", "layered", "*.yaml"))
	require.NoError(t, err)
	var names []string
	for _, o := range overlays {
		if filepath.Base(o) != "base.yaml" {
			names = append(names, filepath.Base(o))
		}
	}
	sort.Strings(names)
	require.Equal(t, []string{"dev.yaml", "production.yaml", "staging.yaml"}, names)
	readme, err := os.ReadFile(filepath.Join(chart.Dir(), "README.md"))
	require.NoError(t, err)
	base := render(t, layered("base.yaml"))
	assert.NotNil(t, base.Find("StatefulSet", "spacefleet-postgresql"), "base.yaml alone: the chart's default database")
	wantMode := map[string]string{"dev.yaml": "the bundled PostgreSQL", "staging.yaml": "external, by parts", "production.yaml": "external, by parts"}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			res := render(t, layered("base.yaml", n))
			for _, c := range []string{"web", "worker", "migrate", "dbcheck"} {
				assert.Contains(t, res.Workloads(), c)
			}
			assert.Contains(t, res.Notes, "Database: "+wantMode[n])
			up, err := chart.Render(chart.Options{Files: layered("base.yaml", n), Upgrade: true})
			require.NoError(t, err, "renders as an upgrade too")
			assert.Equal(t, len(res.Objects), len(up.Objects))
			assert.Truef(t, strings.Contains(string(readme), "layered/"+n), "the chart README documents the stack layered/%s", n)
			if n == "dev.yaml" {
				assert.Equal(t, []string{"bundled-database"}, keys(warnings(res.Notes)), "dev: the only warning is the bundled database")
			}
		})
	}
	flat := render(t, example("production.yaml"))
	stack := render(t, layered("base.yaml", "production.yaml"))
	require.Equal(t, len(flat.Objects), len(stack.Objects))
	for i := range flat.Objects {
		assert.Equal(t, rawString(flat.Objects[i]), rawString(stack.Objects[i]), "%s/%s: base.yaml + layered/production.yaml is production.yaml", flat.Objects[i].Kind, flat.Objects[i].Name)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// production.yaml turns on every item of the production checklist.
func TestProductionExampleTurnsEverythingOn(t *testing.T) {
	res := render(t, example("production.yaml"))
	web := res.Workloads()["web"]
	for _, c := range dbClients {
		ctr := container(t, res, c)
		assert.Equal(t, "verify-full", literal(t, ctr, "PGSSLMODE"), "%s: database verified fully", c)
		assert.Equal(t, "/etc/spacefleet/database-ca/ca.crt", literal(t, ctr, "PGSSLROOTCERT"), c)
		assert.NotNil(t, chart.Env(ctr, "PGPASSWORD").ValueFrom.SecretKeyRef, "%s: password from a Secret", c)
		assert.NotEmpty(t, ctr.Resources.Requests, "%s: resources set", c)
		assert.NotEmpty(t, ctr.Resources.Limits, "%s: resources set", c)
	}
	assert.Nil(t, res.Find("StatefulSet", "spacefleet-postgresql"), "no bundled database")
	ing := res.Find("Ingress", "spacefleet-web")
	require.NotNil(t, ing, "an Ingress")
	assert.NotEmpty(t, ing.Raw["spec"].(map[string]any)["tls"], "with TLS")
	assert.NotNil(t, res.Find("HorizontalPodAutoscaler", "spacefleet-web"), "web autoscales")
	assert.NotNil(t, res.Find("PodDisruptionBudget", "spacefleet-web"))
	assert.NotNil(t, res.Find("PodDisruptionBudget", "spacefleet-worker"))
	assert.Len(t, web.Pod.TopologySpreadConstraints, 2, "spread over zones and nodes")
	assert.NotNil(t, res.Find("ServiceMonitor", "spacefleet-metrics"), "scraped")
	assert.NotNil(t, res.Find("PrometheusRule", "spacefleet-alerts"), "alerts")
	assert.Len(t, res.All("NetworkPolicy"), 4, "web, worker, migrate, dbcheck (no bundled database)")
	assert.Equal(t, "postgres", chart.Env(web.Pod.Containers[0], "SPACEFLEET_RATE_LIMIT_BACKEND").Value)
	assert.NotNil(t, chart.Env(web.Pod.Containers[0], "SPACEFLEET_MIGRATIONS_VIA_HOOK"), "the migrate Job owns the schema")
	assert.NotContains(t, res.Notes, "WARNING")
}

// The bundled database for longer trials: persistence on/off, an existing claim, claim settings.
func TestBundledPersistence(t *testing.T) {
	sts := postgresSTS(t, render(t, nil, "postgresql.persistence.accessModes[0]=ReadWriteOncePod",
		"postgresql.persistence.annotations.backup\\.example\\.com/schedule=daily", "postgresql.persistence.labels.tier=db",
		"postgresql.persistence.storageClass=fast", "postgresql.persistence.size=20Gi"))
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	pvc := sts.Spec.VolumeClaimTemplates[0]
	assert.Equal(t, "data", pvc.Name)
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{"ReadWriteOncePod"}, pvc.Spec.AccessModes)
	assert.Equal(t, "daily", pvc.Annotations["backup.example.com/schedule"])
	assert.Equal(t, "db", pvc.Labels["tier"])
	assert.Equal(t, "postgresql", pvc.Labels["app.kubernetes.io/component"], "the chart's selector labels stay")
	assert.Equal(t, "fast", *pvc.Spec.StorageClassName)
	assert.Equal(t, "20Gi", storage(pvc))
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{"ReadWriteOnce"}, postgresSTS(t, render(t, nil)).Spec.VolumeClaimTemplates[0].Spec.AccessModes, "default")

	dataVolume := func(sts *appsv1.StatefulSet) *corev1.Volume {
		for i, v := range sts.Spec.Template.Spec.Volumes {
			if v.Name == "data" {
				return &sts.Spec.Template.Spec.Volumes[i]
			}
		}
		return nil
	}
	assert.Nil(t, dataVolume(sts), "the claim template provides the data volume")

	throwaway := postgresSTS(t, render(t, nil, "postgresql.persistence.enabled=false"))
	assert.Empty(t, throwaway.Spec.VolumeClaimTemplates, "no claim")
	require.NotNil(t, dataVolume(throwaway))
	assert.NotNil(t, dataVolume(throwaway).EmptyDir, "data on an emptyDir")

	claimed := postgresSTS(t, render(t, nil, "postgresql.persistence.existingClaim=spacefleet-pg16"))
	assert.Empty(t, claimed.Spec.VolumeClaimTemplates, "no claim template with an existing claim")
	require.NotNil(t, dataVolume(claimed))
	require.NotNil(t, dataVolume(claimed).PersistentVolumeClaim)
	assert.Equal(t, "spacefleet-pg16", dataVolume(claimed).PersistentVolumeClaim.ClaimName)
	pg := namedContainer(t, claimed.Spec.Template.Spec.Containers, "postgresql")
	var mounted bool
	for _, m := range pg.VolumeMounts {
		mounted = mounted || (m.Name == "data" && m.MountPath == "/var/lib/postgresql/data")
	}
	assert.True(t, mounted, "the claim holds the data directory")

	noModes := map[string]any{"postgresql": map[string]any{"persistence": map[string]any{"accessModes": []any{}}}}
	_, err := chart.Render(chart.Options{Values: noModes})
	require.Error(t, err, "no access mode")
	assert.Contains(t, err.Error(), "accessModes")
	_, err = chart.RenderWithoutSchema(noModes)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgresql.persistence.accessModes is empty")
	for name, tc := range map[string]struct {
		set  []string
		want string
	}{
		"existingClaim on a throwaway volume": {[]string{"postgresql.persistence.enabled=false", "postgresql.persistence.existingClaim=x"}, "postgresql.persistence.existingClaim=x is set but postgresql.persistence.enabled=false"},
		"a selector label on the claim":       {[]string{"postgresql.persistence.labels.app\\.kubernetes\\.io/instance=x"}, "postgresql.persistence.labels sets app.kubernetes.io/instance"},
	} {
		t.Run(name, func(t *testing.T) {
			err := renderErr(nil, tc.set...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// postgresql.parameters become `-c name=value` arguments (after the TLS ones), roll the pod, and are checked.
func TestBundledParameters(t *testing.T) {
	args := func(res *chart.Result) []string {
		return namedContainer(t, postgresSTS(t, res).Spec.Template.Spec.Containers, "postgresql").Args
	}
	res := render(t, nil, "postgresql.parameters.max_connections=200", "postgresql.parameters.shared_buffers=256MB",
		"postgresql.parameters.pg_stat_statements\\.track=all", "postgresql.parameters.work_mem=4000000")
	assert.Equal(t, []string{"-c", "max_connections=200", "-c", "pg_stat_statements.track=all", "-c", "shared_buffers=256MB", "-c", "work_mem=4000000"}, args(res),
		"one -c per parameter, numbers in plain digits")
	assert.Empty(t, args(render(t, nil)), "none by default")
	// a values file reads 4000000 as a float: still plain digits
	fromFile, err := chart.Render(chart.Options{Values: map[string]any{"postgresql": map[string]any{"parameters": map[string]any{"work_mem": 4000000.0, "checkpoint_completion_target": 0.9}}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"-c", "checkpoint_completion_target=0.9", "-c", "work_mem=4000000"}, args(fromFile))
	tls := args(render(t, nil, "postgresql.tls.enabled=true", "postgresql.tls.existingSecret=pg-tls", "postgresql.parameters.max_connections=50"))
	assert.Equal(t, []string{"-c", "ssl=on"}, tls[:2], "the chart's TLS arguments come first")
	assert.Equal(t, []string{"-c", "max_connections=50"}, tls[len(tls)-2:])
	a := postgresSTS(t, render(t, nil, "postgresql.auth.password=x", "postgresql.parameters.max_connections=100")).Spec.Template.Annotations
	b := postgresSTS(t, render(t, nil, "postgresql.auth.password=x", "postgresql.parameters.max_connections=200")).Spec.Template.Annotations
	assert.NotEqual(t, a["checksum/parameters"], b["checksum/parameters"], "a changed parameter rolls the database pod (it needs a restart)")
	for name, tc := range map[string]struct {
		set  []string
		want string
	}{
		"an upper-case name":    {[]string{"postgresql.parameters.Max_Connections=1"}, `postgresql.parameters: "Max_Connections" is not a PostgreSQL parameter name`},
		"an injected argument":  {[]string{"postgresql.parameters.a=b -c ssl=off"}, ""},
		"a name the chart sets": {[]string{"postgresql.parameters.port=5433"}, "postgresql.parameters.port is set by the chart itself"},
		"an ssl setting":        {[]string{"postgresql.parameters.ssl_min_protocol_version=TLSv1.3"}, "postgresql.parameters.ssl_min_protocol_version is set by the chart itself"},
		"a multi-line value":    {nil, "postgresql.parameters.shared_preload_libraries must be one value on one line"},
		"an object":             {[]string{"postgresql.parameters.x.y=1"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			switch name {
			case "a multi-line value":
				_, err = chart.Render(chart.Options{Values: map[string]any{"postgresql": map[string]any{"parameters": map[string]any{"shared_preload_libraries": "a\nb"}}}})
			case "an injected argument":
				// a value with spaces is one argument (no shell): allowed, and rendered as exactly one -c value
				res := render(t, nil, tc.set...)
				assert.Equal(t, []string{"-c", "a=b -c ssl=off"}, args(res))
				return
			default:
				err = renderErr(nil, tc.set...)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Probe settings of the bundled database: the chart's pg_isready with the values' timings, or the values' own handler.
func TestBundledProbes(t *testing.T) {
	pg := func(set ...string) corev1.Container {
		return namedContainer(t, postgresSTS(t, render(t, nil, set...)).Spec.Template.Spec.Containers, "postgresql")
	}
	def := pg()
	require.NotNil(t, def.ReadinessProbe.Exec)
	assert.Equal(t, []string{"pg_isready", "-h", "/var/run/postgresql", "-U", "spacefleet", "-d", "spacefleet"}, def.ReadinessProbe.Exec.Command)
	assert.EqualValues(t, 5, def.ReadinessProbe.PeriodSeconds)
	assert.EqualValues(t, 30, def.LivenessProbe.InitialDelaySeconds)
	assert.EqualValues(t, 6, def.LivenessProbe.FailureThreshold)
	assert.Nil(t, def.StartupProbe, "no startup probe by default")

	c := pg("postgresql.livenessProbe.failureThreshold=12", "postgresql.startupProbe.periodSeconds=10", "postgresql.startupProbe.failureThreshold=90")
	assert.EqualValues(t, 12, c.LivenessProbe.FailureThreshold)
	assert.Equal(t, []string{"pg_isready", "-h", "/var/run/postgresql"}, c.LivenessProbe.Exec.Command, "the chart's check stays")
	require.NotNil(t, c.StartupProbe)
	assert.EqualValues(t, 90, c.StartupProbe.FailureThreshold)
	assert.Equal(t, []string{"pg_isready", "-h", "/var/run/postgresql"}, c.StartupProbe.Exec.Command)

	own := pg("postgresql.readinessProbe.tcpSocket.port=5432")
	assert.Nil(t, own.ReadinessProbe.Exec, "a handler of your own replaces the check")
	assert.Equal(t, "5432", own.ReadinessProbe.TCPSocket.Port.String())
}

// The `helm test` pod has its own section: its resources no longer follow migrations.resources.
func TestTestsSection(t *testing.T) {
	res := render(t, nil, "migrations.resources.limits.memory=1Gi", "tests.resources.limits.memory=100Mi",
		"tests.podLabels.team=qa", "tests.nodeSelector.pool=tests", "nodeSelector.zone=a", "tests.priorityClassName=low")
	pod := res.Workloads()["dbcheck"]
	assert.Equal(t, "100Mi", memLimit(pod.Pod.Containers[0]))
	assert.Equal(t, "1Gi", memLimit(container(t, res, "migrate")), "migrate keeps its own")
	assert.Equal(t, map[string]string{"pool": "tests", "zone": "a"}, pod.Pod.NodeSelector, "merged over the defaults")
	assert.Equal(t, "low", pod.Pod.PriorityClassName)
	assert.Equal(t, "qa", pod.Object.Typed.(*corev1.Pod).Labels["team"])
	assert.Equal(t, "256Mi", memLimit(render(t, nil).Workloads()["dbcheck"].Pod.Containers[0]), "default")

	off := render(t, nil, "tests.enabled=false", "networkPolicy.enabled=true")
	assert.NotContains(t, off.Workloads(), "dbcheck", "no test pod")
	assert.Nil(t, off.Find("NetworkPolicy", "spacefleet-dbcheck"), "and no policy for it")
	assert.NotContains(t, off.Notes, "helm test")
	err := renderErr(nil, "tests.podLabels.app\\.kubernetes\\.io/component=x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tests.podLabels sets app.kubernetes.io/component")
}

// web and worker roll the same way by default: a new pod before an old one stops.
func TestWebAndWorkerDefaultsAreSymmetric(t *testing.T) {
	res := render(t, nil, external...)
	web := res.Find("Deployment", "spacefleet-web").Typed.(*appsv1.Deployment).Spec.Strategy
	worker := res.Find("Deployment", "spacefleet-worker").Typed.(*appsv1.Deployment).Spec.Strategy
	assert.Equal(t, web, worker)
	require.NotNil(t, worker.RollingUpdate)
	assert.Equal(t, "0", worker.RollingUpdate.MaxUnavailable.String())
	assert.Equal(t, "1", worker.RollingUpdate.MaxSurge.String())
}

// web.route.backendTLS: the Gateway's BackendTLSPolicy for an HTTPS web.
func TestBackendTLSPolicy(t *testing.T) {
	route := append(append([]string{}, external...), "externalDatabase.sslmode=verify-full", "web.tls.enabled=true", "web.tls.existingSecret=web-tls",
		"web.route.enabled=true", "web.route.parentRefs[0].name=gw", "web.route.backendTLS.enabled=true")
	res := render(t, nil, append(route, "web.route.backendTLS.caCertificateConfigMaps[0]=web-ca")...)
	p := res.Find("BackendTLSPolicy", "spacefleet-web")
	require.NotNil(t, p)
	spec := p.Raw["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"group": "", "kind": "Service", "name": "spacefleet-web", "sectionName": "http"}}, spec["targetRefs"])
	assert.Equal(t, map[string]any{"hostname": "spacefleet-web.spacefleet.svc", "caCertificateRefs": []any{map[string]any{"group": "", "kind": "ConfigMap", "name": "web-ca"}}}, spec["validation"])
	assert.Equal(t, "gateway.networking.k8s.io/v1", p.Raw["apiVersion"])
	sys := render(t, nil, append(route, "web.route.backendTLS.wellKnownCACertificates=System", "web.route.backendTLS.hostname=web.example.com")...)
	assert.Equal(t, map[string]any{"hostname": "web.example.com", "wellKnownCACertificates": "System"}, sys.Find("BackendTLSPolicy", "spacefleet-web").Raw["spec"].(map[string]any)["validation"])
	assert.Nil(t, render(t, nil, external...).Find("BackendTLSPolicy", "spacefleet-web"), "none by default")

	for name, tc := range map[string]struct {
		set  []string
		want string
	}{
		"no CA":        {route, "needs the CA the Gateway verifies web's certificate against"},
		"both CAs":     {append(route, "web.route.backendTLS.caCertificateConfigMaps[0]=a", "web.route.backendTLS.wellKnownCACertificates=System"), "are both set"},
		"no route":     {append(append([]string{}, external...), "web.tls.enabled=true", "web.tls.existingSecret=w", "web.route.backendTLS.enabled=true", "web.route.backendTLS.wellKnownCACertificates=System"), "needs web.route.enabled=true and web.tls.enabled=true"},
		"unknown kind": {append(route, "web.route.backendTLS.wellKnownCACertificates=Everything"), `web.route.backendTLS.wellKnownCACertificates "Everything"`},
	} {
		t.Run(name, func(t *testing.T) {
			err := renderErr(nil, tc.set...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func memLimit(c corev1.Container) string {
	q := c.Resources.Limits[corev1.ResourceMemory]
	return q.String()
}

func storage(pvc corev1.PersistentVolumeClaim) string {
	q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	return q.String()
}
