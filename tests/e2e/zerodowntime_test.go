//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/loadgen"
	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// Load against the web Service during each scenario: one generator opens a new connection per request (a curl
// loop, spread over the pods by kube-proxy), one keeps its connections (a real client, or an ingress).
var loadFlags = []string{"-duration", "20m", "-requests", "200000", "-rate", "40", "-concurrency", "4", "-timeout", "5s"}

const metricsPort = 9090

// TestZeroDowntime: 3 web replicas with ClientIP affinity, the postgres rate-limit backend, the bundled database, metrics with a
// ServiceMonitor and a PrometheusRule the API server validates against the Prometheus Operator CRDs. Under load:
//  1. a helm upgrade that rolls every pod: no failed request;
//  2. every web pod evicted through the Eviction API, one at a time: the PDB holds the next one back, no failed
//     request;
//  3. the database pod restarted: /readyz answers 503 with a diagnosed cause, nothing hangs, no pod restarts,
//     and web serves again once the database is back;
//  4. the worker rolled while a job is in flight: every job done, none twice;
//  5. /metrics of a web and a worker pod: the families are there and follow what happened.
//
// Not parallel (it counts failed requests): it runs alone, before the parallel suites start (see
// TestArgoCDValuesChangeUnderLoad).
func TestZeroDowntime(t *testing.T) {
	env := h.Load(t)
	h.WithoutNetworkPolicyController(t, env)
	h.Timer(t)
	h.ApplyPrometheusOperatorCRDs(t, env)
	ns := h.NewNamespace(t, env, "e2e-zero")
	rel := h.NewRelease(ns, release)
	values := map[string]any{
		// The hard case, on purpose (the examples set no affinity): ClientIP keeps a client on its pod, so that pod's
		// shutdown is what the client sees (without the shutdown delay, affinity made rollouts fail 4 times more requests).
		"web": map[string]any{"replicas": 3, "service": map[string]any{"sessionAffinity": "ClientIP",
			"sessionAffinityConfig": map[string]any{"clientIP": map[string]any{"timeoutSeconds": 10800}}}},
		"rateLimiting": map[string]any{"backend": "postgres", "requests": 900000, "window": "1m"},
		"metrics": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true, "interval": "15s", "scrapeTimeout": "5s",
				"relabelings": []any{map[string]any{"targetLabel": "e2e", "replacement": "zero"}}},
			"prometheusRule": map[string]any{"enabled": true, "additionalAlertLabels": map[string]any{"team": "e2e"}},
		},
		"config": map[string]any{"logLevel": "info"},
	}
	res := rel.Install(t, []string{"dev.yaml"}, values)
	require.NoError(t, res.Err, "helm install (3 web replicas, ServiceMonitor, PrometheusRule)")
	ns.WaitReadyPods(t, rel.Selector("web"), 3, 5*time.Minute)
	monitoringObjectsKept(t, ns, rel)
	url := fmt.Sprintf("http://%s/api/ships", rel.Web())

	t.Run("1-helm-upgrade", func(t *testing.T) {
		before := ns.PodUIDs(t, rel.Selector("web"))
		a, b := startLoad(t, ns, "upgrade", url)
		start := time.Now()
		// web.* and worker.* pod annotations: the top-level podAnnotations would roll the bundled database too.
		roll := map[string]any{"podAnnotations": map[string]any{"e2e/rollout": h.RandHex(4)}}
		up := rel.Upgrade(t, []string{"dev.yaml"}, h.Merge(values, map[string]any{"web": roll, "worker": roll}))
		require.NoError(t, up.Err, "helm upgrade changing the pod template")
		ns.WaitReadyPods(t, rel.Selector("web"), 3, 5*time.Minute) // the old pods are gone, not only the new ones Ready
		rollout := time.Since(start)
		after := ns.PodUIDs(t, rel.Selector("web"))
		for name := range before {
			assert.NotContains(t, after, name, "web pod %s was not replaced", name)
		}
		checkNoFailures(t, "helm upgrade", rollout, a.Stop(t), b.Stop(t))
	})

	t.Run("2-evict-every-web-pod", func(t *testing.T) {
		a, b := startLoad(t, ns, "evict", url)
		start := time.Now()
		refused := 0
		for name := range ns.PodUIDs(t, rel.Selector("web")) {
			// Retry while the PodDisruptionBudget holds the eviction back (until the last one's replacement is Ready).
			err := h.Eventually(5*time.Minute, time.Second, func() (bool, error) {
				if ns.Evict(t, name) {
					return true, nil
				}
				refused++
				return false, fmt.Errorf("eviction of %s refused by the PodDisruptionBudget", name)
			})
			require.NoError(t, err)
			t.Logf("evicted %s after %s", name, time.Since(start).Round(time.Second))
			assertReadyAtLeast(t, ns, rel.Selector("web"), 2)
		}
		ns.WaitReadyPods(t, rel.Selector("web"), 3, 5*time.Minute)
		drain := time.Since(start)
		assert.Positive(t, refused, "the PodDisruptionBudget never refused an eviction: it was not respected, or never needed")
		t.Logf("PDB refused %d eviction attempts while a replacement was not Ready yet", refused)
		checkNoFailures(t, "evictions", drain, a.Stop(t), b.Stop(t))
	})

	t.Run("3-database-restart", func(t *testing.T) {
		restarts := podRestarts(t, ns, rel)
		web := ns.Pods(t, rel.Selector("web"))
		require.NotEmpty(t, web)
		// The API's database deadline is 5 s: a client that waits 10 s sees every answer web gives.
		a := h.StartLoadgen(t, ns, "db-api-"+h.RandHex(2), "-url", url, "-samples", "10", "-duration", "20m", "-requests", "200000",
			"-rate", "40", "-concurrency", "8", "-timeout", "10s")
		// /readyz bounds its database check to 2 s: 4 s is ample, and a pod IP reaches the pod while it is unready.
		probe := h.StartLoadgen(t, ns, "db-readyz-"+h.RandHex(2), "-url", fmt.Sprintf("http://%s:8080/readyz", web[0].Status.PodIP),
			"-duration", "20m", "-requests", "100000", "-rate", "10", "-concurrency", "2", "-timeout", "4s", "-samples", "20")
		dbPod := rel.PostgresPod()
		old, err := ns.Client.CoreV1().Pods(ns.Name).Get(context.Background(), dbPod, metav1.GetOptions{})
		require.NoError(t, err)
		deleted := time.Now()
		require.NoError(t, ns.Client.CoreV1().Pods(ns.Name).Delete(context.Background(), dbPod, metav1.DeleteOptions{}))
		err = h.Eventually(5*time.Minute, time.Second, func() (bool, error) {
			p, err := ns.Client.CoreV1().Pods(ns.Name).Get(context.Background(), dbPod, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return p.UID != old.UID && h.PodReady(p), fmt.Errorf("new database pod not Ready")
		})
		require.NoError(t, err, "the StatefulSet recreates the database pod")
		dbBack := time.Since(deleted)
		ns.WaitReadyPods(t, rel.Selector("web"), 3, 5*time.Minute)
		webBack := time.Since(deleted)
		api, rz := a.Stop(t), probe.Stop(t)
		t.Logf("API through the Service: %s", h.Summary(api))
		t.Logf("/readyz of %s: %s", web[0].Name, h.Summary(rz))

		// Nothing hangs: web answered every request that reached it, /readyz within its bound and the API within its
		// database deadline, with 200 or 503. Requests that found no Ready web pod behind the Service (all of them
		// are unready while the database is down) were refused by kube-proxy (or, when the node rate-limits those
		// ICMP refusals, timed out connecting): connect-* errors, never a request left waiting.
		assert.Empty(t, rz.Errors, "/readyz of a live pod: every request answered")
		for code := range api.ByStatus {
			assert.Contains(t, []string{"200", "503"}, code, "API answers during the outage: 200 or 503, nothing else")
		}
		for class := range api.Errors {
			assert.True(t, strings.HasPrefix(class, "connect-"), "API request failed after it reached web (%s): %s", class, h.Summary(api))
		}
		// /readyz said why: 503 with a diagnosed cause, one of the server's rule names.
		require.Positive(t, rz.ByStatus["503"], "/readyz never answered 503 while the database was down")
		causes := readyzCauses(rz.Samples)
		require.NotEmpty(t, causes, "no diagnosed cause in the /readyz answers: %q", rz.Samples)
		for _, c := range causes {
			assert.Contains(t, db.RuleNames(), c, "cause %q is not a diagnosis rule", c)
		}
		assert.Equal(t, restarts, podRestarts(t, ns, rel), "no web or worker container restarted")
		// Serves again: a fresh burst through the Service after web is Ready again fails nothing.
		after := h.StartLoadgen(t, ns, "db-after-"+h.RandHex(2), "-url", url, "-requests", "200", "-rate", "50", "-duration", "1m").Wait(t, 3*time.Minute)
		assert.Zero(t, after.Failed, "after the database came back: %s", h.Summary(after))
		t.Logf("MEASURE database restart: database pod Ready again after %s, all web Ready after %s (%s after the database); "+
			"API failures %d of %d (%v %v), failure window %.1fs, p50 %.1f ms, p99 %.1f ms, max %.1f ms; /readyz causes %v",
			dbBack.Round(time.Second), webBack.Round(time.Second), (webBack - dbBack).Round(time.Second),
			api.Failed, api.Requests, api.ByStatus, api.Errors, api.FailureWindow, api.LatencyMS.P50, api.LatencyMS.P99, api.LatencyMS.Max, causes)
	})

	t.Run("4-worker-roll-mid-job", func(t *testing.T) {
		const n = 60
		worker := rel.Worker()
		_, err := ns.Kubectl(t, "scale", "deployment/"+worker, "--replicas=0")
		require.NoError(t, err)
		ns.WaitNoPods(t, rel.Selector("worker"), 3*time.Minute)
		psql := func(sql string) string {
			return h.Psql(t, ns, rel.PostgresPod(), "postgresql", "spacefleet", "spacefleet", sql)
		}
		first, err := strconv.Atoi(psql("SELECT coalesce(max(id), 0) FROM jobs"))
		require.NoError(t, err)
		enq := h.StartLoadgen(t, ns, "enqueue-"+h.RandHex(2), "-url", url, "-method", "POST", "-body", `{"name":"roll"}`,
			"-requests", strconv.Itoa(n), "-rate", "20", "-duration", "2m").Wait(t, 4*time.Minute)
		require.Equal(t, n, enq.OK, "enqueue %d ships (and their commission jobs): %s", n, h.Summary(enq))
		queued := fmt.Sprintf("SELECT count(*) FROM jobs WHERE id > %d AND status = 'queued'", first)
		require.Equal(t, strconv.Itoa(n), psql(queued))

		// Hold every ship row: the worker's first job waits inside its transaction, in flight.
		lock := h.StartPsql(t, ns, rel.PostgresPod(), "postgresql", "spacefleet", "spacefleet")
		lock.Send(t, "BEGIN; SELECT count(*) FROM (SELECT id FROM ships FOR UPDATE) locked;")
		_, err = ns.Kubectl(t, "scale", "deployment/"+worker, "--replicas=1")
		require.NoError(t, err)
		ns.WaitReadyPods(t, rel.Selector("worker"), 1, 3*time.Minute)
		old := ns.Pods(t, rel.Selector("worker"))[0]
		oldPod := old.Name
		err = h.Eventually(3*time.Minute, time.Second, func() (bool, error) {
			got := psql(fmt.Sprintf(`SELECT count(*) FROM pg_stat_activity WHERE client_addr = '%s' AND wait_event_type = 'Lock'`, old.Status.PodIP))
			return got == "1", fmt.Errorf("%s connections of worker %s wait on the ship lock, want 1", got, oldPod)
		})
		require.NoError(t, err, "the worker's first job is in flight, waiting on the lock")
		oldLog := followLog(t, ns, oldPod, "worker")
		_, err = ns.Kubectl(t, "rollout", "restart", "deployment/"+worker)
		require.NoError(t, err)
		// The old pod gets SIGTERM (once its successor runs) with its job in flight; then the lock goes away.
		err = h.Eventually(3*time.Minute, time.Second, func() (bool, error) {
			p, err := ns.Client.CoreV1().Pods(ns.Name).Get(context.Background(), oldPod, metav1.GetOptions{})
			return err != nil || p.DeletionTimestamp != nil, fmt.Errorf("old worker %s not terminating", oldPod)
		})
		require.NoError(t, err)
		lock.Send(t, "COMMIT;")
		lock.Close(t)

		err = h.Eventually(5*time.Minute, 2*time.Second, func() (bool, error) {
			left := psql(queued)
			return left == "0", fmt.Errorf("%s jobs still queued", left)
		})
		require.NoError(t, err, "every job processed")
		done := psql(fmt.Sprintf("SELECT count(*) FILTER (WHERE status = 'done' AND attempts = 1), count(*) FROM jobs WHERE id > %d", first))
		assert.Equal(t, fmt.Sprintf("%d|%d", n, n), done, "every job done exactly once (done, attempts = 1) / all jobs")
		assert.Equal(t, "0", psql(fmt.Sprintf("SELECT count(*) FROM jobs j JOIN ships s ON s.id = j.ship_id WHERE j.id > %d AND s.status <> 'commissioned'", first)),
			"every ship commissioned")
		logs := oldLog()
		switch {
		case strings.Contains(logs, "finished the in-flight job after SIGTERM"):
			t.Log("the old worker finished its in-flight job after SIGTERM, then stopped")
		case strings.Contains(logs, "returns to the queue"):
			t.Log("the old worker's job outlasted its shutdown timeout: rolled back, done by the new worker")
		default:
			t.Errorf("the old worker logged neither outcome of its in-flight job:\n%s", h.Redact(logs))
		}
	})

	t.Run("5-metrics", func(t *testing.T) {
		webPod := ns.Pods(t, rel.Selector("web"))[0]
		before := h.ScrapePod(t, ns, webPod.Name, metricsPort)
		for _, f := range []string{"spacefleet_http_requests_total", "spacefleet_http_request_duration_seconds", "spacefleet_http_requests_in_flight",
			"spacefleet_db_pool_acquired_connections", "spacefleet_db_pool_idle_connections", "spacefleet_db_pool_total_connections",
			"spacefleet_db_pool_empty_acquire_wait_seconds_total", "spacefleet_db_connection_errors_total", "spacefleet_db_up",
			"spacefleet_db_schema_version", "spacefleet_db_migrations_pending", "spacefleet_rate_limit_requests_total", "spacefleet_build_info"} {
			assert.Contains(t, before, f, "web family %s", f)
		}
		assert.Equal(t, 1.0, before.MustValue(t, "spacefleet_db_up", nil))
		assert.Equal(t, 0.0, before.MustValue(t, "spacefleet_db_migrations_pending", nil))
		versions := before.LabelValues("spacefleet_build_info", "version")
		require.Len(t, versions, 1)
		assert.NotEqual(t, "dev", versions[0], "build_info carries the version `make image` stamps into the binary")
		assert.ElementsMatch(t, db.RuleNames(), before.LabelValues("spacefleet_db_connection_errors_total", "cause"))
		ok := map[string]string{"route": "/api/ships", "method": "GET", "code": "200"}
		allowed := map[string]string{"backend": "postgres", "decision": "allowed"}
		n0, _ := before.Value("spacefleet_http_requests_total", ok)
		a0 := before.MustValue(t, "spacefleet_rate_limit_requests_total", allowed)
		burst := h.StartLoadgen(t, ns, "scrape-"+h.RandHex(2), "-url", fmt.Sprintf("http://%s:8080/api/ships", webPod.Status.PodIP),
			"-requests", "50", "-rate", "50", "-duration", "1m").Wait(t, 3*time.Minute)
		require.Equal(t, 50, burst.OK, h.Summary(burst))
		after := h.ScrapePod(t, ns, webPod.Name, metricsPort)
		assert.Equal(t, n0+50, after.MustValue(t, "spacefleet_http_requests_total", ok), "the request counter follows 50 requests to this pod")
		assert.Equal(t, a0+50, after.MustValue(t, "spacefleet_rate_limit_requests_total", allowed))

		ns.WaitReadyPods(t, rel.Selector("worker"), 1, 3*time.Minute)
		workerPod := ns.Pods(t, rel.Selector("worker"))[0]
		w0 := h.ScrapePod(t, ns, workerPod.Name, metricsPort)
		for _, f := range []string{"spacefleet_worker_jobs_processed_total", "spacefleet_worker_jobs_failed_total", "spacefleet_worker_jobs_retried_total",
			"spacefleet_worker_queue_depth", "spacefleet_worker_queue_oldest_pending_age_seconds", "spacefleet_db_up", "spacefleet_build_info"} {
			assert.Contains(t, w0, f, "worker family %s", f)
		}
		p0 := w0.MustValue(t, "spacefleet_worker_jobs_processed_total", map[string]string{"kind": "commission"})
		enq := h.StartLoadgen(t, ns, "scrape-jobs-"+h.RandHex(2), "-url", url, "-method", "POST", "-body", `{"name":"scrape"}`,
			"-requests", "10", "-rate", "20", "-duration", "1m").Wait(t, 3*time.Minute)
		require.Equal(t, 10, enq.OK, h.Summary(enq))
		err := h.Eventually(2*time.Minute, 2*time.Second, func() (bool, error) {
			w := h.ScrapePod(t, ns, workerPod.Name, metricsPort)
			depth := w.MustValue(t, "spacefleet_worker_queue_depth", nil)
			processed := w.MustValue(t, "spacefleet_worker_jobs_processed_total", map[string]string{"kind": "commission"})
			return depth == 0 && processed == p0+10, fmt.Errorf("queue depth %v, processed %v (want 0 and %v)", depth, processed, p0+10)
		})
		require.NoError(t, err, "the worker's queue depth returns to 0 and its processed counter follows")
	})
}

// startLoad starts the two generators against url.
func startLoad(t *testing.T, ns *h.NS, name, url string) (*h.Loadgen, *h.Loadgen) {
	t.Helper()
	a := h.StartLoadgen(t, ns, name+"-newconn-"+h.RandHex(2), append([]string{"-url", url}, loadFlags...)...)
	b := h.StartLoadgen(t, ns, name+"-keepalive-"+h.RandHex(2), append([]string{"-url", url, "-keepalive"}, loadFlags...)...)
	return a, b
}

func checkNoFailures(t *testing.T, what string, took time.Duration, results ...loadgen.Result) {
	t.Helper()
	for i, r := range results {
		kind := []string{"new connection per request", "keep-alive"}[i]
		t.Logf("MEASURE %s (%s, took %s): %s", what, kind, took.Round(time.Second), h.Summary(r))
		assert.Zero(t, r.Failed, "%s (%s): failed requests: %s", what, kind, h.Summary(r))
		assert.Greater(t, r.Requests, 100, "%s (%s): the load must really run through the %s", what, kind, took)
	}
}

// assertReadyAtLeast: right after an eviction, the PodDisruptionBudget (maxUnavailable 1) keeps the others up.
func assertReadyAtLeast(t *testing.T, ns *h.NS, selector string, n int) {
	t.Helper()
	assert.GreaterOrEqual(t, ns.ReadyPods(t, selector), n, "Ready web pods right after an eviction")
}

func podRestarts(t *testing.T, ns *h.NS, rel *h.Release) map[string]int32 {
	t.Helper()
	m := map[string]int32{}
	for _, c := range []string{"web", "worker"} {
		for _, p := range ns.Pods(t, rel.Selector(c)) {
			m[p.Name] = h.Restarts(&p)
		}
	}
	return m
}

// readyzCauses reads the "cause" of the 503 answers among a loadgen's failure samples.
func readyzCauses(samples []string) []string {
	var out []string
	for _, s := range samples {
		if i := strings.Index(s, `"cause":"`); i >= 0 {
			rest := s[i+len(`"cause":"`):]
			if j := strings.Index(rest, `"`); j > 0 && !slices.Contains(out, rest[:j]) {
				out = append(out, rest[:j])
			}
		}
	}
	return out
}

// monitoringObjectsKept: the ServiceMonitor and PrometheusRule the chart rendered are in the cluster exactly as
// rendered: the API server validated them against the CRDs and pruned nothing (a field the CRD does not know
// would be dropped silently).
func monitoringObjectsKept(t *testing.T, ns *h.NS, rel *h.Release) {
	t.Helper()
	manifest, err := ns.Kubectl(t, "get", "servicemonitor,prometheusrule", "-o", "yaml")
	require.NoError(t, err)
	var list struct {
		Items []struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     map[string]any    `json:"spec"`
		} `json:"items"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(manifest), &list))
	kinds := map[string]map[string]any{}
	for _, it := range list.Items {
		kinds[it.Kind] = it.Spec
	}
	require.Contains(t, kinds, "ServiceMonitor")
	require.Contains(t, kinds, "PrometheusRule")
	ep := kinds["ServiceMonitor"]["endpoints"].([]any)[0].(map[string]any)
	assert.Equal(t, "15s", ep["interval"])
	assert.Equal(t, "5s", ep["scrapeTimeout"])
	assert.Equal(t, []any{map[string]any{"targetLabel": "e2e", "replacement": "zero", "action": "replace"}}, ep["relabelings"],
		"relabelings kept (the CRD defaults action)")
	groups := kinds["PrometheusRule"]["groups"].([]any)
	rules := groups[0].(map[string]any)["rules"].([]any)
	// 7 rules besides the database alert, which has one rule per diagnosis rule of the server
	assert.Len(t, rules, 7+len(db.RuleNames()), "every rendered rule stored")
	for _, r := range rules {
		rule := r.(map[string]any)
		ann := rule["annotations"].(map[string]any)
		for _, k := range []string{"summary", "description", "runbook_url"} {
			assert.NotEmpty(t, ann[k], "%s: %s", rule["alert"], k)
		}
		assert.Equal(t, "e2e", rule["labels"].(map[string]any)["team"])
	}
	// The metrics Services select the pods: the ServiceMonitor's targets exist.
	for _, c := range []string{"web", "worker"} {
		eps, err := ns.Kubectl(t, "get", "endpointslices", "-l", "kubernetes.io/service-name="+rel.Fullname()+"-"+c+"-metrics",
			"-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")
		require.NoError(t, err)
		assert.NotEmpty(t, strings.TrimSpace(eps), "%s metrics Service has endpoints", c)
	}
}

// followLog follows a pod's log from now on; the returned func gives what was seen once the pod has stopped.
func followLog(t *testing.T, ns *h.NS, pod, container string) func() string {
	t.Helper()
	stream, err := ns.Client.CoreV1().Pods(ns.Name).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(context.Background())
	require.NoError(t, err)
	var b strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stream.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := stream.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return func() string {
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			t.Errorf("the log of %s did not end", pod)
		}
		return b.String()
	}
}
