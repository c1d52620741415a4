package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/tests/internal/chart"
)

var monitoringOn = []string{"metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true"}

// The metrics port: on web and worker only, in the env the app reads, behind a headless Service per component
// that the ServiceMonitor selects, and never on the web Service.
func TestMetricsPort(t *testing.T) {
	res := render(t, nil, "metrics.port=9300")
	for _, c := range []string{"web", "worker"} {
		ctr := container(t, res, c)
		var port *corev1.ContainerPort
		for i := range ctr.Ports {
			if ctr.Ports[i].Name == "metrics" {
				port = &ctr.Ports[i]
			}
		}
		require.NotNil(t, port, "%s has no metrics port", c)
		assert.EqualValues(t, 9300, port.ContainerPort, c)
		env := chart.Env(ctr, "SPACEFLEET_METRICS_PORT")
		require.NotNil(t, env, "%s: SPACEFLEET_METRICS_PORT", c)
		assert.Equal(t, "9300", env.Value)

		svc := res.Find("Service", "spacefleet-"+c+"-metrics")
		require.NotNil(t, svc, "no metrics Service for %s", c)
		s := svc.Typed.(*corev1.Service)
		assert.Equal(t, "None", s.Spec.ClusterIP, "headless: scraped per pod, no virtual IP")
		assert.Equal(t, map[string]string{"app.kubernetes.io/name": "spacefleet", "app.kubernetes.io/instance": "spacefleet", "app.kubernetes.io/component": c}, s.Spec.Selector)
		require.Len(t, s.Spec.Ports, 1)
		assert.Equal(t, intstr.FromString("metrics"), s.Spec.Ports[0].TargetPort)
		assert.Equal(t, "true", s.Labels["spacefleet.io/metrics"])
		assert.True(t, s.Spec.PublishNotReadyAddresses, "an unready pod (database down) is still scraped")
	}
	for _, c := range []string{"migrate", "dbcheck"} {
		assert.Nil(t, chart.Env(container(t, res, c), "SPACEFLEET_METRICS_PORT"), "%s serves no metrics", c)
	}
	web := res.Find("Service", "spacefleet-web").Typed.(*corev1.Service)
	assert.Len(t, web.Spec.Ports, 1, "the web Service carries the API port only")
	assert.Empty(t, web.Labels["spacefleet.io/metrics"], "the ServiceMonitor must not select the web Service")

	off := render(t, nil, "metrics.enabled=false")
	for _, c := range []string{"web", "worker"} {
		assert.Nil(t, chart.Env(container(t, off, c), "SPACEFLEET_METRICS_PORT"), c)
		assert.Len(t, container(t, off, c).Ports, 1, c)
		assert.Nil(t, off.Find("Service", "spacefleet-"+c+"-metrics"))
	}
	assert.Empty(t, off.All("ServiceMonitor"))
	assert.Empty(t, off.All("PrometheusRule"))
	def := render(t, nil)
	assert.Empty(t, def.All("ServiceMonitor"), "off by default: the CRDs may not exist")
	assert.Empty(t, def.All("PrometheusRule"))
}

func TestServiceMonitor(t *testing.T) {
	res := render(t, nil, append(monitoringOn,
		"metrics.serviceMonitor.interval=1m", "metrics.serviceMonitor.scrapeTimeout=20s",
		"metrics.serviceMonitor.labels.release=kube-prometheus-stack",
		"metrics.serviceMonitor.relabelings[0].targetLabel=cluster", "metrics.serviceMonitor.relabelings[0].replacement=prod",
		"metrics.annotations.prometheus\\.io/path=/metrics")...)
	sm := res.Find("ServiceMonitor", "spacefleet-metrics")
	require.NotNil(t, sm)
	var spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []map[string]any `json:"endpoints"`
	}
	fromRaw(t, sm.Raw["spec"], &spec)
	assert.Equal(t, "kube-prometheus-stack", sm.Raw["metadata"].(map[string]any)["labels"].(map[string]any)["release"])
	assert.Equal(t, []string{chart.Namespace}, spec.NamespaceSelector.MatchNames)
	require.Len(t, spec.Endpoints, 1)
	ep := spec.Endpoints[0]
	assert.Equal(t, "metrics", ep["port"])
	assert.Equal(t, "/metrics", ep["path"])
	assert.Equal(t, "1m", ep["interval"])
	assert.Equal(t, "20s", ep["scrapeTimeout"])
	assert.Equal(t, []any{map[string]any{"targetLabel": "cluster", "replacement": "prod"}}, ep["relabelings"])

	// The selector picks exactly the two metrics Services of this release.
	var picked []string
	for _, o := range res.All("Service") {
		labels := o.Typed.(*corev1.Service).Labels
		match := true
		for k, v := range spec.Selector.MatchLabels {
			match = match && labels[k] == v
		}
		if match {
			picked = append(picked, o.Name)
			assert.Equal(t, "/metrics", o.Typed.(*corev1.Service).Annotations["prometheus.io/path"], "metrics.annotations on %s", o.Name)
		}
	}
	sort.Strings(picked)
	assert.Equal(t, []string{"spacefleet-web-metrics", "spacefleet-worker-metrics"}, picked)
}

// Graceful shutdown: the env the app reads, the grace period around it, and a rollout that never lowers capacity.
func TestShutdownSettings(t *testing.T) {
	res := render(t, nil)
	web := container(t, res, "web")
	assert.Equal(t, "10s", chart.Env(web, "SPACEFLEET_SHUTDOWN_DELAY").Value)
	assert.Equal(t, "15s", chart.Env(web, "SPACEFLEET_SHUTDOWN_TIMEOUT").Value)
	worker := container(t, res, "worker")
	assert.Equal(t, "20s", chart.Env(worker, "SPACEFLEET_SHUTDOWN_TIMEOUT").Value)
	assert.Nil(t, chart.Env(worker, "SPACEFLEET_SHUTDOWN_DELAY"), "the worker serves no traffic: no delay")
	w := res.Workloads()
	assert.Nil(t, w["web"].Pod.TerminationGracePeriodSeconds, "Kubernetes' 30 s hold 10 s delay + 15 s drain + 5 s")
	assert.Nil(t, w["worker"].Pod.TerminationGracePeriodSeconds, "Kubernetes' 30 s hold a 20 s job + 5 s")
	assert.NotContains(t, res.Notes, "to stop", "the defaults fit in the grace period")
	d := w["web"].Typed.(*appsv1.Deployment)
	require.NotNil(t, d.Spec.Strategy.RollingUpdate)
	assert.Equal(t, intstr.FromInt32(0), *d.Spec.Strategy.RollingUpdate.MaxUnavailable, "a rollout never takes a web pod away before its successor is Ready")
	assert.Equal(t, intstr.FromInt32(1), *d.Spec.Strategy.RollingUpdate.MaxSurge)
	pdb := res.Find("PodDisruptionBudget", "spacefleet-web").Typed.(*policyv1.PodDisruptionBudget)
	assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MaxUnavailable)

	res = render(t, nil, "web.shutdownDelaySeconds=0", "web.shutdownTimeoutSeconds=7", "worker.shutdownTimeoutSeconds=50", "worker.terminationGracePeriodSeconds=60")
	assert.Equal(t, "0s", chart.Env(container(t, res, "web"), "SPACEFLEET_SHUTDOWN_DELAY").Value)
	assert.Equal(t, "7s", chart.Env(container(t, res, "web"), "SPACEFLEET_SHUTDOWN_TIMEOUT").Value)
	assert.Equal(t, "50s", chart.Env(container(t, res, "worker"), "SPACEFLEET_SHUTDOWN_TIMEOUT").Value)
}

// A grace period too short for the shutdown settings works, but fails requests or hands jobs back late: NOTES
// says which key to change.
func TestShutdownGraceWarning(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"web.terminationGracePeriodSeconds=29"}, "web gets 29 s to stop"},
		{[]string{"web.shutdownDelaySeconds=20"}, "Set web.terminationGracePeriodSeconds to at least 40, or lower web.shutdownDelaySeconds + web.shutdownTimeoutSeconds"},
		{[]string{"terminationGracePeriodSeconds=20"}, "web gets 20 s to stop"},
		{[]string{"worker.shutdownTimeoutSeconds=26"}, "worker gets 30 s to stop"},
		{[]string{"terminationGracePeriodSeconds=60", "worker.terminationGracePeriodSeconds=10"}, "worker gets 10 s to stop"},
	} {
		res := render(t, nil, c.set...)
		assert.Contains(t, res.Notes, c.want, "%v", c.set)
	}
	for _, set := range [][]string{
		{"web.terminationGracePeriodSeconds=30"},
		{"worker.shutdownTimeoutSeconds=25"},
		{"terminationGracePeriodSeconds=60", "web.shutdownDelaySeconds=20", "web.shutdownTimeoutSeconds=35", "worker.shutdownTimeoutSeconds=55"},
	} {
		assert.NotContains(t, render(t, nil, set...).Notes, "to stop (", "%v fits", set)
	}
}

func TestMonitoringRefused(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"metrics.enabled=false", "metrics.serviceMonitor.enabled=true"}, "metrics.serviceMonitor.enabled=true needs metrics.enabled=true"},
		{[]string{"metrics.enabled=false", "metrics.prometheusRule.enabled=true"}, "metrics.prometheusRule.enabled=true needs metrics.enabled=true"},
		{[]string{"metrics.port=8080"}, "metrics.port and web.port are both 8080"},
		{[]string{"metrics.port=8081"}, "metrics.port and worker.port are both 8081"},
		{[]string{"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.scrapeTimeout=1m"}, "metrics.serviceMonitor.scrapeTimeout (1m) is longer than metrics.serviceMonitor.interval (30s)"},
		{[]string{"metrics.serviceMonitor.interval=soon"}, "metrics"},
		{[]string{"metrics.prometheusRule.errorRatioPercent=0"}, "errorRatioPercent"},
		{[]string{"metrics.prometheusRule.additionalAlertLabels.severity=page"}, "metrics.prometheusRule.additionalAlertLabels sets severity"},
		{[]string{"metrics.serviceMonitor.relabelings[0].action=explode"}, "action"},
	} {
		err := renderErr(nil, c.set...)
		if assert.Error(t, err, "%v accepted", c.set) {
			assert.Contains(t, err.Error(), c.want, "%v", c.set)
		}
	}
	// Positive neighbours of the refused cases.
	render(t, nil, "metrics.enabled=false")
	render(t, nil, append(monitoringOn, "metrics.serviceMonitor.scrapeTimeout=30s")...)
	render(t, nil, "metrics.port=8082")
}

// alertRule is one rule of the rendered PrometheusRule.
type alertRule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type ruleGroups struct {
	Groups []struct {
		Name  string      `json:"name"`
		Rules []alertRule `json:"rules"`
	} `json:"groups"`
}

func renderRules(t *testing.T, set ...string) (ruleGroups, []byte) {
	t.Helper()
	res := render(t, nil, append(monitoringOn, set...)...)
	pr := res.Find("PrometheusRule", "spacefleet-alerts")
	require.NotNil(t, pr)
	var g ruleGroups
	fromRaw(t, pr.Raw["spec"], &g)
	// Exactly the groups the chart renders, as a Prometheus rule file.
	b, err := yaml.Marshal(pr.Raw["spec"])
	require.NoError(t, err)
	return g, b
}

// Every alert an on-call engineer needs, each with a summary, a description that names values keys that exist,
// and a runbook_url to its own section of the chart README.
func TestAlertRules(t *testing.T) {
	g, _ := renderRules(t, "metrics.prometheusRule.additionalAlertLabels.team=fleet")
	require.Len(t, g.Groups, 1)
	var names []string
	causes := map[string]bool{}
	readme, err := os.ReadFile(filepath.Join(chart.Dir(), "README.md.gotmpl"))
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(readme), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	values := defaultValues(t)
	key := regexp.MustCompile("`([a-zA-Z]+(\\.[a-zA-Z]+)+)`")
	for _, r := range g.Groups[0].Rules {
		if !slices.Contains(names, r.Alert) {
			names = append(names, r.Alert)
		}
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
		assert.Equal(t, chart.Namespace, r.Labels["namespace"], r.Alert)
		assert.Equal(t, "fleet", r.Labels["team"], "additionalAlertLabels on %s", r.Alert)
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], "https://github.com/spacefleet/spacefleet/blob/main/charts/spacefleet/README.md#")
		assert.True(t, ok, "%s runbook_url %q", r.Alert, r.Annotations["runbook_url"])
		assert.True(t, anchors[anchor], "%s: runbook anchor #%s is no heading of README.md.gotmpl", r.Alert, anchor)
		keys := key.FindAllStringSubmatch(r.Annotations["description"], -1)
		assert.NotEmpty(t, keys, "%s: the description names no values key: %s", r.Alert, r.Annotations["description"])
		for _, k := range keys {
			assert.True(t, hasValuesKey(values, k[1]), "%s names `%s`, which is no values key", r.Alert, k[1])
		}
		if r.Alert == "SpacefleetDatabaseUnreachable" {
			cause := regexp.MustCompile(`cause="([^"]+)"`).FindStringSubmatch(r.Expr)
			require.NotNil(t, cause, r.Expr)
			causes[cause[1]] = true
		}
	}
	assert.Equal(t, []string{"SpacefleetWebUnavailable", "SpacefleetHighErrorRatio", "SpacefleetDatabaseUnreachable",
		"SpacefleetMigrateJobFailed", "SpacefleetWorkerBacklogGrowing", "SpacefleetWorkerUnavailable", "SpacefleetRateLimitRejectionsSpiking"}, names)
	// One database alert per diagnosis rule of the server: the same names the connection-error metric counts by.
	var want []string
	for _, n := range db.RuleNames() {
		want = append(want, n)
	}
	var got []string
	for c := range causes {
		got = append(got, c)
	}
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got, "SpacefleetDatabaseUnreachable causes vs internal/db/diagnose.go rules")

	// Thresholds come from values.
	g, _ = renderRules(t, "metrics.prometheusRule.errorRatioPercent=12", "metrics.prometheusRule.rateLimitRejectedPercent=33",
		"metrics.prometheusRule.backlogAgeSeconds=900", "metrics.prometheusRule.runbookBaseUrl=https://wiki.example.com/spacefleet/")
	for _, r := range g.Groups[0].Rules {
		switch r.Alert {
		case "SpacefleetHighErrorRatio":
			assert.Contains(t, r.Expr, "* 100 > 12")
		case "SpacefleetRateLimitRejectionsSpiking":
			assert.Contains(t, r.Expr, "* 100 > 33")
		case "SpacefleetWorkerBacklogGrowing":
			assert.Contains(t, r.Expr, "> 900)")
		}
		assert.True(t, strings.HasPrefix(r.Annotations["runbook_url"], "https://wiki.example.com/spacefleet#"), r.Annotations["runbook_url"])
	}
}

// The rules the chart renders pass `promtool check rules`, and behave as tests/promtool/*.test.yaml say:
// each alert fires on its condition and stays silent on its neighbours. SPACEFLEET_PROMTOOL is set by make.
func TestAlertRulesPromtool(t *testing.T) {
	promtool := os.Getenv("SPACEFLEET_PROMTOOL")
	if promtool == "" {
		t.Skip("SPACEFLEET_PROMTOOL is not set: run `make test-render` (it builds promtool) to run the rule unit tests")
	}
	_, rules := renderRules(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o600))
	tests, err := filepath.Glob(filepath.Join(chart.Root(), "tests", "promtool", "*.test.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	args := []string{"test", "rules"}
	for _, f := range tests {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600))
		args = append(args, filepath.Base(f))
	}
	run := func(args ...string) {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
	run("check", "rules", "rules.yaml")
	run(args...)
}

func fromRaw(t *testing.T, in any, out any) {
	t.Helper()
	b, err := yaml.Marshal(in)
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, out))
}

func defaultValues(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chart.Dir(), "values.yaml"))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(b, &v))
	return v
}

func hasValuesKey(values map[string]any, path string) bool {
	var cur any = values
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[p]; !ok {
			return false
		}
	}
	return true
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	h := strings.ToLower(strings.TrimSpace(heading))
	h = regexp.MustCompile("[^a-z0-9 _-]").ReplaceAllString(h, "")
	return strings.ReplaceAll(h, " ", "-")
}
