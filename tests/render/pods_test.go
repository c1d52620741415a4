package render

import (
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// Road 3 (issue 11): every pod setting is a top-level default that web.*, worker.*, migrations.* override for
// their own pods; the `helm test` pod takes the defaults; the bundled database takes the scheduling ones.

func renderValues(t *testing.T, vals map[string]any) *chart.Result {
	t.Helper()
	res, err := chart.Render(chart.Options{Values: vals})
	require.NoError(t, err)
	return res
}

func TestPodDefaultsReachEveryPodAndComponentsOverrideThem(t *testing.T) {
	res := renderValues(t, map[string]any{
		"priorityClassName": "fleet-default", "runtimeClassName": "gvisor", "terminationGracePeriodSeconds": 45,
		"dnsPolicy": "ClusterFirst", "dnsConfig": map[string]any{"options": []any{map[string]any{"name": "ndots", "value": "2"}}},
		"hostAliases": []any{map[string]any{"ip": "10.0.0.5", "hostnames": []any{"db.internal"}}},
		"podLabels":   map[string]any{"tier": "backend", "team": "fleet"},
		"lifecycle":   map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": 5}}},
		"web": map[string]any{
			"priorityClassName": "fleet-web", "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": true,
			"podLabels": map[string]any{"team": "web-team"}, "securityContext": map[string]any{"runAsUser": 70000},
			"hostAliases": []any{map[string]any{"ip": "10.0.0.6", "hostnames": []any{"cache.internal"}}},
		},
	})
	w := res.Workloads()
	for _, c := range []string{"worker", "migrate", "dbcheck"} {
		p := w[c].Pod
		assert.Equalf(t, "fleet-default", p.PriorityClassName, "%s priorityClassName", c)
		assert.Equalf(t, "gvisor", *p.RuntimeClassName, "%s runtimeClassName", c)
		assert.Equalf(t, int64(45), *p.TerminationGracePeriodSeconds, "%s grace", c)
		assert.Falsef(t, *p.AutomountServiceAccountToken, "%s token", c)
		assert.Lenf(t, p.HostAliases, 1, "%s hostAliases", c)
		assert.Equalf(t, corev1.DNSClusterFirst, p.DNSPolicy, "%s dnsPolicy", c)
		require.NotNilf(t, p.DNSConfig, "%s dnsConfig", c)
		require.NotNilf(t, p.Containers[0].Lifecycle, "%s lifecycle", c)
	}
	web := w["web"].Pod
	assert.Equal(t, "fleet-web", web.PriorityClassName, "web overrides priorityClassName")
	assert.Equal(t, "gvisor", *web.RuntimeClassName, "web keeps the default it does not override")
	assert.Equal(t, int64(0), *web.TerminationGracePeriodSeconds, "0 is a value, not 'unset'")
	assert.True(t, *web.AutomountServiceAccountToken)
	assert.Len(t, web.HostAliases, 2, "hostAliases add up")
	assert.Equal(t, int64(70000), *web.Containers[0].SecurityContext.RunAsUser, "security contexts merge key by key")
	assert.True(t, *web.Containers[0].SecurityContext.ReadOnlyRootFilesystem, "... keeping the defaults' other keys")
	labels := res.Find("Deployment", "spacefleet-web").Typed.(*appsv1.Deployment).Spec.Template.Labels
	assert.Equal(t, "web-team", labels["team"], "pod labels merge, the component wins")
	assert.Equal(t, "backend", labels["tier"])
	assert.Equal(t, "web", labels["app.kubernetes.io/component"], "the chart's labels are kept")
	// the bundled database takes scheduling defaults, never the app's security context or lifecycle
	pg := w["postgresql"].Pod
	assert.Equal(t, "fleet-default", pg.PriorityClassName)
	assert.Equal(t, int64(999), *pg.SecurityContext.RunAsUser)
	assert.Nil(t, pg.Containers[0].Lifecycle)
	assert.Empty(t, pg.HostAliases)
}

func TestExtraEnvAddsUpByNameAndNeverShadowsTheChart(t *testing.T) {
	res := renderValues(t, map[string]any{
		"postgresql": map[string]any{"enabled": false}, "externalDatabase": map[string]any{"existingSecret": "db"},
		"extraEnv": []any{map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
			map[string]any{"name": "RELEASE", "value": "{{ .Release.Name }}"}},
		"extraEnvFrom": []any{map[string]any{"configMapRef": map[string]any{"name": "shared"}}},
		"worker":       map[string]any{"extraEnv": []any{map[string]any{"name": "HTTPS_PROXY", "value": "http://worker-proxy:3128"}}},
	})
	for _, c := range dbClients {
		ctr := container(t, res, c)
		require.NotNilf(t, chart.Env(ctr, "RELEASE"), "%s: extraEnv reaches every pod", c)
		assert.Equalf(t, "spacefleet", chart.Env(ctr, "RELEASE").Value, "%s: extraEnv is tpl-rendered", c)
		require.Lenf(t, ctr.EnvFrom, 1, "%s envFrom", c)
		want := "http://proxy:3128"
		if c == "worker" {
			want = "http://worker-proxy:3128"
		}
		assert.Equalf(t, want, chart.Env(ctr, "HTTPS_PROXY").Value, "%s: a component's entry replaces the default of the same name", c)
	}
	for _, tc := range []struct{ set, key, fix string }{
		{"extraEnv[0].name=DATABASE_URL", "extraEnv[0]", "externalDatabase"},
		{"web.extraEnv[0].name=SPACEFLEET_RATE_LIMIT_REQUESTS", "web.extraEnv[0]", "rateLimiting.requests"},
		{"migrations.extraEnv[0].name=PGSSLMODE", "migrations.extraEnv[0]", "externalDatabase.sslmode"},
		{"worker.extraEnv[0].name=SPACEFLEET_ANYTHING", "worker.extraEnv[0]", "SPACEFLEET_"},
		{"extraEnv[0].name=PORT", "extraEnv[0]", "web.port"},
	} {
		err := renderErr(nil, append(append([]string{}, external...), tc.set, strings.SplitN(tc.set, ".name=", 2)[0]+".value=x")...)
		require.Errorf(t, err, "%s must be refused", tc.set)
		assert.Contains(t, err.Error(), tc.key)
		assert.Contains(t, err.Error(), tc.fix)
	}
}

func TestSidecarsAreNativeAndStartBeforeInitContainers(t *testing.T) {
	proxy := map[string]any{"name": "cloud-sql-proxy", "image": "proxy:2.11.0", "args": []any{"--port=5432", "{{ .Release.Name }}:db"}}
	res := renderValues(t, map[string]any{
		"sidecars":       []any{proxy},
		"initContainers": []any{map[string]any{"name": "wait", "image": "busybox:1.36", "command": []any{"true"}}},
		"migrations":     map[string]any{"sidecars": []any{map[string]any{"name": "iam-auth", "image": "iam:1", "restartPolicy": "Never"}}},
	})
	for _, c := range dbClients {
		p := res.Workloads()[c].Pod
		require.GreaterOrEqualf(t, len(p.InitContainers), 2, "%s", c)
		assert.Equalf(t, "cloud-sql-proxy", p.InitContainers[0].Name, "%s: sidecars first, so init containers can use them", c)
		require.NotNilf(t, p.InitContainers[0].RestartPolicy, "%s: native sidecar", c)
		assert.Equal(t, corev1.ContainerRestartPolicyAlways, *p.InitContainers[0].RestartPolicy)
		assert.Equal(t, "spacefleet:db", p.InitContainers[0].Args[1], "tpl-rendered")
		last := p.InitContainers[len(p.InitContainers)-1]
		assert.Equalf(t, "wait", last.Name, "%s: plain init containers after the sidecars", c)
		assert.Nilf(t, last.RestartPolicy, "%s: an init container is not a sidecar", c)
	}
	job := res.Workloads()["migrate"].Pod
	require.Len(t, job.InitContainers, 3)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *job.InitContainers[1].RestartPolicy, "a sidecar is native even if it says otherwise: a Job must still complete")
	assert.Empty(t, res.Workloads()["postgresql"].Pod.InitContainers, "the app's sidecars are not the database's")
	err := renderErr(nil, "sidecars[0].name=web", "sidecars[0].image=x:1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `named "web"`)
}

func TestTopologySpreadGetsEachComponentsOwnSelector(t *testing.T) {
	res := renderValues(t, map[string]any{"topologySpreadConstraints": []any{
		map[string]any{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"},
		map[string]any{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
			"labelSelector": map[string]any{"matchLabels": map[string]any{"custom": "yes"}}},
	}})
	for _, c := range []string{"web", "worker", "postgresql"} {
		tsc := res.Workloads()[c].Pod.TopologySpreadConstraints
		require.Lenf(t, tsc, 2, "%s", c)
		assert.Equalf(t, c, tsc[0].LabelSelector.MatchLabels["app.kubernetes.io/component"], "%s: filled in with its own labels", c)
		assert.Equalf(t, map[string]string{"custom": "yes"}, tsc[1].LabelSelector.MatchLabels, "%s: a given selector is kept", c)
	}
}

func TestAutoscalingLeavesReplicasOutAndPDBsStayCoherent(t *testing.T) {
	res := render(t, nil, append(external, "web.autoscaling.enabled=true", "web.autoscaling.minReplicas=2",
		"web.autoscaling.maxReplicas=6", "web.autoscaling.targetMemoryUtilizationPercentage=70",
		"web.podDisruptionBudget.minAvailable=1", "rateLimiting.backend=postgres", "web.service.sessionAffinity=ClientIP")...)
	dep := res.Find("Deployment", "spacefleet-web").Typed.(*appsv1.Deployment)
	assert.Nil(t, dep.Spec.Replicas, "with an HPA, replicas is not rendered (an upgrade would reset the HPA's count)")
	hpa := res.Find("HorizontalPodAutoscaler", "spacefleet-web").Typed.(*autoscalingv2.HorizontalPodAutoscaler)
	assert.Equal(t, "spacefleet-web", hpa.Spec.ScaleTargetRef.Name)
	assert.Equal(t, int32(2), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(6), hpa.Spec.MaxReplicas)
	require.Len(t, hpa.Spec.Metrics, 2)
	assert.Equal(t, int32(80), *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization)
	pdb := res.Find("PodDisruptionBudget", "spacefleet-web").Typed.(*policyv1.PodDisruptionBudget)
	assert.Equal(t, 1, pdb.Spec.MinAvailable.IntValue())
	assert.Nil(t, pdb.Spec.MaxUnavailable, "minAvailable replaces maxUnavailable")
	assert.NotNil(t, res.Find("Deployment", "spacefleet-worker").Typed.(*appsv1.Deployment).Spec.Replicas, "no HPA on worker: replicas stays")
	assert.Nil(t, res.Find("HorizontalPodAutoscaler", "spacefleet-worker"))

	err := renderErr(nil, append(external, "web.autoscaling.enabled=true", "web.autoscaling.minReplicas=2", "web.podDisruptionBudget.minAvailable=2")...)
	require.Error(t, err, "a PDB that keeps every pod of the HPA's minimum blocks every drain")
	assert.Contains(t, err.Error(), "web.autoscaling.minReplicas")
	err = renderErr(nil, append(external, "worker.autoscaling.enabled=true", "worker.autoscaling.minReplicas=4", "worker.autoscaling.maxReplicas=3")...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "worker.autoscaling.minReplicas")
}

// One rule for "web can run more than one pod": replicas > 1, or an HPA that may scale above 1.
func TestNotesWarnWhenAnHPACanScaleWebOut(t *testing.T) {
	res := render(t, nil, append(external, "web.autoscaling.enabled=true", "web.autoscaling.maxReplicas=4")...)
	assert.Contains(t, res.Notes, "web.autoscaling.maxReplicas=4 with rateLimiting.backend=memory")
	assert.NotContains(t, res.Notes, "sessionAffinity", "Spacefleet keeps no sessions: more than one pod asks for no affinity")
	res = render(t, nil, append(external, "web.autoscaling.enabled=true", "web.autoscaling.maxReplicas=1")...)
	assert.NotContains(t, res.Notes, "rateLimiting.backend=memory")
}

func TestServiceSettingsAndTheTypesThatIgnoreThem(t *testing.T) {
	res := render(t, nil, append(external, "web.service.type=LoadBalancer", "web.service.nodePort=30080",
		"web.service.loadBalancerClass=lb.example.com/x", "web.service.loadBalancerSourceRanges[0]=10.0.0.0/8",
		"web.service.externalTrafficPolicy=Local", "web.service.ipFamilyPolicy=PreferDualStack",
		"web.service.ipFamilies[0]=IPv4", "web.service.ipFamilies[1]=IPv6", "web.service.appProtocol=http",
		"web.service.labels.exposed=yes", "web.service.annotations.lb=internal")...)
	svc := res.Find("Service", "spacefleet-web").Typed.(*corev1.Service)
	assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
	assert.Equal(t, int32(30080), svc.Spec.Ports[0].NodePort)
	assert.Equal(t, "lb.example.com/x", *svc.Spec.LoadBalancerClass)
	assert.Equal(t, []string{"10.0.0.0/8"}, svc.Spec.LoadBalancerSourceRanges)
	assert.Equal(t, corev1.ServiceExternalTrafficPolicyLocal, svc.Spec.ExternalTrafficPolicy)
	assert.Equal(t, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, svc.Spec.IPFamilies)
	assert.Equal(t, "http", *svc.Spec.Ports[0].AppProtocol)
	assert.Equal(t, "yes", svc.Labels["exposed"])
	assert.Equal(t, "internal", svc.Annotations["lb"])
	pg := render(t, nil, "postgresql.service.type=NodePort", "postgresql.service.nodePort=30432", "postgresql.service.appProtocol=postgresql")
	pgsvc := pg.Find("Service", "spacefleet-postgresql").Typed.(*corev1.Service)
	assert.Equal(t, int32(30432), pgsvc.Spec.Ports[0].NodePort)
	for _, tc := range []struct {
		set []string
		key string
	}{
		{[]string{"web.service.nodePort=30080"}, "web.service.nodePort"},
		{[]string{"web.service.type=NodePort", "web.service.loadBalancerSourceRanges[0]=10.0.0.0/8"}, "web.service.loadBalancerClass / loadBalancerSourceRanges"},
		{[]string{"web.service.externalTrafficPolicy=Local"}, "web.service.externalTrafficPolicy"},
		{[]string{"postgresql.enabled=true", "postgresql.service.loadBalancerClass=x"}, "postgresql.service.loadBalancerClass"},
		{[]string{"web.service.ipFamilyPolicy=SingleStack", "web.service.ipFamilies[0]=IPv4", "web.service.ipFamilies[1]=IPv6"}, "web.service.ipFamilyPolicy"},
	} {
		set := tc.set
		if !strings.HasPrefix(set[0], "postgresql.") {
			set = append(append([]string{}, external...), set...)
		}
		err := renderErr(nil, set...)
		require.Errorf(t, err, "%v", tc.set)
		assert.Contains(t, err.Error(), tc.key)
	}
}

func TestHTTPRoute(t *testing.T) {
	res := renderValues(t, map[string]any{"postgresql": map[string]any{"enabled": false}, "externalDatabase": map[string]any{"existingSecret": "db"},
		"web": map[string]any{"route": map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "public", "namespace": "gw", "sectionName": "https"}},
			"hostnames": []any{"fleet.example.com"}, "timeouts": map[string]any{"request": "30s"},
			"filters": []any{map[string]any{"type": "RequestHeaderModifier", "requestHeaderModifier": map[string]any{"set": []any{map[string]any{"name": "X-From", "value": "gw"}}}}}}}})
	route := res.Find("HTTPRoute", "spacefleet-web")
	require.NotNil(t, route)
	spec := route.Raw["spec"].(map[string]any)
	assert.Equal(t, "public", spec["parentRefs"].([]any)[0].(map[string]any)["name"])
	rule := spec["rules"].([]any)[0].(map[string]any)
	assert.Equal(t, "/", rule["matches"].([]any)[0].(map[string]any)["path"].(map[string]any)["value"], "every path by default")
	assert.Equal(t, "spacefleet-web", rule["backendRefs"].([]any)[0].(map[string]any)["name"])
	assert.EqualValues(t, 80, rule["backendRefs"].([]any)[0].(map[string]any)["port"])
	assert.NotNil(t, rule["filters"])
	assert.Contains(t, res.Notes, "fleet.example.com/  (HTTPRoute via gw/public)")

	err := renderErr(nil, append(external, "web.route.enabled=true")...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "web.route.parentRefs")
	both := append(external, "web.route.enabled=true", "web.route.parentRefs[0].name=gw", "web.ingress.enabled=true", "web.ingress.hosts[0].host=x.example.com")
	err = renderErr(nil, both...)
	require.Error(t, err, "Ingress and route together only on purpose")
	assert.Contains(t, err.Error(), "web.route.alongsideIngress")
	res = render(t, nil, append(both, "web.route.alongsideIngress=true")...)
	assert.NotNil(t, res.Find("Ingress", "spacefleet-web"))
	assert.NotNil(t, res.Find("HTTPRoute", "spacefleet-web"))
	assert.Contains(t, res.Notes, "http://x.example.com/  (Ingress)")
}

func TestMigrateJobMetadataForGitOps(t *testing.T) {
	res := renderValues(t, map[string]any{"postgresql": map[string]any{"enabled": false}, "externalDatabase": map[string]any{"existingSecret": "db"},
		"migrations": map[string]any{"useHelmHooks": false, "jobAnnotations": map[string]any{"argocd.argoproj.io/sync-wave": "-1"},
			"jobLabels": map[string]any{"kind": "schema"}, "ttlSecondsAfterFinished": 600}})
	job := res.Workloads()["migrate"].Typed.(*batchv1.Job)
	assert.Equal(t, "-1", job.Annotations["argocd.argoproj.io/sync-wave"])
	assert.Equal(t, "schema", job.Labels["kind"])
	assert.Equal(t, int32(600), *job.Spec.TTLSecondsAfterFinished)
	// a hooked Job keeps its hook annotations whatever jobAnnotations say
	res = render(t, nil, append(external, "migrations.jobAnnotations.helm\\.sh/hook=post-install")...)
	job = res.Workloads()["migrate"].Typed.(*batchv1.Job)
	assert.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"])
	assert.Nil(t, job.Spec.TTLSecondsAfterFinished, "kept by default")
}

func TestCommonLabelsAndAnnotationsOnEveryObject(t *testing.T) {
	res := renderValues(t, map[string]any{
		"commonLabels": map[string]any{"team": "fleet"}, "commonAnnotations": map[string]any{"owner": "ops"},
		"postgresql": map[string]any{"tls": map[string]any{"enabled": true, "certManager": map[string]any{"issuerRef": map[string]any{"name": "ca"}}}},
		"web":        map[string]any{"autoscaling": map[string]any{"enabled": true}, "route": map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "gw"}}}},
		"extraObjects": []any{
			map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "{{ .Release.Name }}-extra"}, "data": map[string]any{"a": "b"}},
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: as-text\n  labels:\n    team: mine\n",
		},
	})
	require.NotNil(t, res.Find("ConfigMap", "spacefleet-extra"), "extraObjects are tpl-rendered")
	for _, o := range res.Objects {
		md := o.Raw["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		want := "fleet"
		if o.Name == "as-text" {
			want = "mine" // an extra object's own label wins
		}
		assert.Equalf(t, want, labels["team"], "%s/%s commonLabels", o.Kind, o.Name)
		assert.Equalf(t, "ops", ann["owner"], "%s/%s commonAnnotations", o.Kind, o.Name)
	}
	for _, w := range res.Workloads() {
		var tl map[string]string
		switch obj := w.Typed.(type) {
		case *appsv1.Deployment:
			tl = obj.Spec.Template.Labels
			assert.NotContains(t, obj.Spec.Selector.MatchLabels, "team", "never in selectors")
		case *appsv1.StatefulSet:
			tl = obj.Spec.Template.Labels
		default:
			continue
		}
		assert.Equalf(t, "fleet", tl["team"], "%s pod template", w.Name)
	}
	for _, bad := range []string{"extraObjects[0]=not a manifest", "commonLabels.app\\.kubernetes\\.io/instance=x"} {
		err := renderErr(nil, bad)
		require.Errorf(t, err, bad)
		assert.Contains(t, err.Error(), strings.SplitN(strings.ReplaceAll(bad, "\\", ""), "=", 2)[0][:12])
	}
}

func TestImageRegistryDigestAndPullSecrets(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	res := renderValues(t, map[string]any{
		"global":           map[string]any{"imageRegistry": "mirror.example.com:5000", "imagePullSecrets": []any{"mirror", map[string]any{"name": "regcred"}}, "somethingElse": true},
		"imagePullSecrets": []any{map[string]any{"name": "regcred"}},
		"image":            map[string]any{"registry": "ignored.example.com", "digest": digest, "tag": "9.9.9"},
		"postgresql":       map[string]any{"image": map[string]any{"digest": digest}},
	})
	for _, c := range dbClients {
		assert.Equalf(t, "mirror.example.com:5000/spacefleet/spacefleet@"+digest, container(t, res, c).Image, "%s: global registry and digest win", c)
		ps := res.Workloads()[c].Pod.ImagePullSecrets
		assert.Equalf(t, []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mirror"}}, ps, "%s pull secrets, once each", c)
	}
	assert.Equal(t, "mirror.example.com:5000/postgres@"+digest, container(t, res, "postgresql").Image)
	res = render(t, nil, "image.registry=registry.example.com", "postgresql.image.registry=pg.example.com")
	assert.Equal(t, "registry.example.com/spacefleet/spacefleet:0.1.0", container(t, res, "web").Image)
	assert.Equal(t, "pg.example.com/postgres:16.6", container(t, res, "postgresql").Image)

	// An integral number cannot lose digits: an unquoted 16 (YAML: float64) or --set tag=2 (int64) renders as its digits.
	res = renderValues(t, map[string]any{"image": map[string]any{"tag": float64(2)}, "postgresql": map[string]any{"image": map[string]any{"tag": float64(16)}}})
	assert.Equal(t, "spacefleet/spacefleet:2", container(t, res, "web").Image)
	assert.Equal(t, "postgres:16", container(t, res, "postgresql").Image)
	res = renderValues(t, map[string]any{"image": map[string]any{"tag": float64(1000000)}})
	assert.Equal(t, "spacefleet/spacefleet:1000000", container(t, res, "web").Image, "plain digits, never 1e+06")
	// a date-like tag read from a values file (float64 20240101) stays its digits, never 2.0240101e+07
	res = renderValues(t, map[string]any{"image": map[string]any{"tag": float64(20240101)}})
	assert.Equal(t, "spacefleet/spacefleet:20240101", container(t, res, "web").Image)
	res = render(t, nil, "image.tag=1000000", "postgresql.image.tag=15")
	assert.Equal(t, "spacefleet/spacefleet:1000000", container(t, res, "web").Image, "plain digits, never 1e+06")
	res = render(t, nil, "image.tag=2", "postgresql.image.tag=15")
	assert.Equal(t, "spacefleet/spacefleet:2", container(t, res, "web").Image)
	assert.Equal(t, "postgres:15", container(t, res, "postgresql").Image)

	_, err := chart.Render(chart.Options{Values: map[string]any{"image": map[string]any{"tag": 1.1}}})
	require.Error(t, err, "an unquoted 1.10 arrives as the number 1.1")
	assert.Contains(t, err.Error(), "image.tag is the number 1.1")
	assert.Contains(t, err.Error(), "Quote")
	_, err = chart.Render(chart.Options{Values: map[string]any{"postgresql": map[string]any{"image": map[string]any{"tag": 16.1}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgresql.image.tag is the number 16.1")
	err = renderErr(nil, "postgresql.image.digest="+digest, "postgresql.image.tag=")
	require.Error(t, err, "the version gate needs the tag even with a digest")
	assert.Contains(t, err.Error(), "postgresql.image.tag")
	err = renderErr(nil, "image.digest=sha256:short")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/image/digest")
}
