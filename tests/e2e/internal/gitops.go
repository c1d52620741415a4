//go:build e2e

package harness

// The chart reconciled by a real Argo CD and a real Flux (scripts/gitops.sh installs them, once per run, when a
// suite asks): an Argo CD Application or a Flux OCIRepository + HelmRelease pulling the signed package from the
// harness's OCI registry, their status read back, refreshes and reconciles forced, and a recorder of the pods and
// Jobs a namespace sees (hook Jobs come and go faster than a poll).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"
)

// Where scripts/gitops.sh puts things.
const (
	ArgoNamespace   = "argocd"
	ArgoProject     = "spacefleet-e2e"
	FluxNamespace   = "flux-system"
	gitopsInstallTO = 60 * time.Minute // a cold Argo CD build included
)

var (
	gitopsMu    sync.Mutex
	gitopsState = map[string]*addonResult{}
)

// RequireGitOps makes sure tool ("argocd" or "flux") is installed and working in the cluster: the first suite that
// asks runs scripts/gitops.sh (building or loading the images), every later one waits for that install.
func RequireGitOps(t testing.TB, env *Env, tool string) {
	t.Helper()
	gitopsMu.Lock()
	r, ok := gitopsState[tool]
	if !ok {
		r = &addonResult{}
		gitopsState[tool] = r
	}
	gitopsMu.Unlock()
	r.once.Do(func() {
		script := os.Getenv("SPACEFLEET_E2E_GITOPS")
		if script == "" {
			script = filepath.Join(RepoRoot(), "scripts", "gitops.sh")
		}
		ctx, cancel := context.WithTimeout(context.Background(), gitopsInstallTO)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, script, tool, env.Cluster)
		cmd.Env = append(os.Environ(), "KIND="+env.Kind, "KUBECTL="+env.Kubectl, "REGISTRY_HOST="+env.OCI.InClusterRegistry(env))
		out, err := cmd.CombinedOutput()
		r.took = time.Since(start)
		if err != nil {
			r.err = "scripts/gitops.sh " + tool + ": " + err.Error() + "\n" + tail(string(out), 40)
			return
		}
		t.Logf("TIMING gitops %s installed in %s (image build or load included):\n%s", tool, r.took.Round(time.Second), strings.TrimSpace(string(out)))
	})
	if r.err != "" {
		t.Fatal(r.err)
	}
}

// InClusterRegistry is the registry as pods reach it: the registry container on the kind network
// (SPACEFLEET_E2E_REGISTRY_HOST, default <cluster>-registry:5000), resolved through CoreDNS by Docker's DNS.
func (s OCI) InClusterRegistry(env *Env) string {
	if s.InCluster != "" {
		return s.InCluster
	}
	return env.Cluster + "-registry:5000"
}

// ImageParameters are the image values the harness must set (nothing can be pulled): the kind-loaded images, as
// flat Helm keys (what --set-string takes).
func (r *Release) ImageParameters() map[string]string { return r.imageValues() }

// NestedValues turns flat Helm keys ("image.repository") into a values tree.
func NestedValues(flat map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range flat {
		m := out
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

// kubectlApply applies objects (YAML documents) with kubectl, from a 0600 file in the test's temp dir.
func kubectlApply(t testing.TB, env *Env, objs ...map[string]any) {
	t.Helper()
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	p := filepath.Join(t.TempDir(), "gitops-"+RandHex(3)+".yaml")
	if err := os.WriteFile(p, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, env, "apply", "-f", p); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, Redact(out))
	}
}

// kubectl runs kubectl against the cluster (any namespace: pass -n), bounded.
func kubectl(t testing.TB, env *Env, args ...string) (string, error) {
	t.Helper()
	full := []string{"--kubeconfig", env.Kubeconfig}
	if env.KubeContext != "" {
		full = append(full, "--context", env.KubeContext)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, env.Kubectl, append(full, args...)...).CombinedOutput()
	return string(b), err
}

// getJSON reads one object into v.
func getJSON(t testing.TB, env *Env, v any, args ...string) error {
	t.Helper()
	out, err := kubectl(t, env, append([]string{"get", "-o", "json"}, args...)...)
	if err != nil {
		return fmt.Errorf("kubectl get %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
	}
	return json.Unmarshal([]byte(out), v)
}

// ---- Argo CD ----

// ArgoApp is an Argo CD Application (in the argocd namespace) that installs the chart from the harness registry
// into a test namespace as release Release.
type ArgoApp struct {
	Name string
	NS   *NS
	Env  *Env
}

// ArgoHelm is the Application's spec.source.helm: Values is a values file's text as written (an example), and
// Parameters are --set-string values (ForceString) on top of it.
type ArgoHelm struct {
	Values     string
	Parameters map[string]string
}

func (h ArgoHelm) source(oci OCI, env *Env) map[string]any {
	var params []any
	keys := make([]string, 0, len(h.Parameters))
	for k := range h.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		params = append(params, map[string]any{"name": k, "value": h.Parameters[k], "forceString": true})
	}
	helm := map[string]any{"releaseName": "spacefleet", "parameters": params}
	if h.Values != "" {
		helm["values"] = h.Values
	}
	return map[string]any{"repoURL": oci.InClusterRegistry(env) + "/charts", "chart": "spacefleet",
		"targetRevision": oci.Version, "helm": helm}
}

// NewArgoApp creates the Application (automated sync with prune and self-heal: what a GitOps user runs) with
// extra sync options and Application annotations (e.g. the compare options); it is deleted when the test ends
// (before the namespace: the controller must not recreate what the namespace deletion removes), and on failure its
// status and the controllers' logs are dumped.
func NewArgoApp(t *testing.T, ns *NS, oci OCI, h ArgoHelm, syncOptions []string, annotations map[string]string) *ArgoApp {
	t.Helper()
	a := &ArgoApp{Name: ns.Name, NS: ns, Env: ns.Env}
	opts := append([]string{}, syncOptions...)
	app := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": a.Name, "namespace": ArgoNamespace, "annotations": annotations},
		"spec": map[string]any{
			"project":     ArgoProject,
			"source":      h.source(oci, ns.Env),
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns.Name},
			"syncPolicy": map[string]any{
				"automated":   map[string]any{"prune": true, "selfHeal": true},
				"syncOptions": opts,
			},
		},
	}
	kubectlApply(t, ns.Env, app)
	t.Cleanup(func() {
		if t.Failed() {
			a.Dump(t)
		}
		a.Delete(t)
	})
	t.Logf("Application %s/%s: chart %s/charts/spacefleet %s into %s", ArgoNamespace, a.Name, oci.InClusterRegistry(ns.Env), oci.Version, ns.Name)
	return a
}

// hookFinalizer is what Argo CD puts on a hook while its phase runs; it removes it when the phase ends.
const hookFinalizer = "argocd.argoproj.io/hook-finalizer"

// Delete deletes the Application (not what it deployed: the namespace's deletion does that), waits until it is
// gone, then takes Argo CD's hook finalizer off whatever still carries it: a hook left running (a sync that never
// finished) would otherwise keep the namespace Terminating forever.
func (a *ArgoApp) Delete(t testing.TB) {
	t.Helper()
	if out, err := kubectl(t, a.Env, "-n", ArgoNamespace, "delete", "application", a.Name, "--ignore-not-found", "--timeout", "2m"); err != nil {
		t.Logf("delete application %s: %v: %s", a.Name, err, out)
	}
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name       string   `json:"name"`
				Finalizers []string `json:"finalizers"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := getJSON(t, a.Env, &list, "-n", a.NS.Name, "jobs,pods,serviceaccounts,roles,rolebindings,networkpolicies,secrets,configmaps"); err != nil {
		t.Logf("list the hooks of %s: %v", a.NS.Name, err)
		return
	}
	for _, it := range list.Items {
		var keep []string
		for _, f := range it.Metadata.Finalizers {
			if f != hookFinalizer {
				keep = append(keep, f)
			}
		}
		if len(keep) == len(it.Metadata.Finalizers) {
			continue
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": keep}})
		if out, err := kubectl(t, a.Env, "-n", a.NS.Name, "patch", strings.ToLower(it.Kind), it.Metadata.Name, "--type", "merge", "-p", string(patch)); err != nil {
			t.Logf("remove %s from %s/%s: %v: %s", hookFinalizer, it.Kind, it.Metadata.Name, err, out)
		} else {
			t.Logf("removed %s from %s/%s (a hook whose sync never finished)", hookFinalizer, it.Kind, it.Metadata.Name)
		}
	}
}

// ArgoStatus is the part of an Application's status the suites read.
type ArgoStatus struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Status struct {
		Sync struct {
			Status   string `json:"status"`
			Revision string `json:"revision"`
		} `json:"sync"`
		Health struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"health"`
		ReconciledAt   *metav1.Time `json:"reconciledAt"`
		OperationState *struct {
			Phase      string       `json:"phase"`
			Message    string       `json:"message"`
			StartedAt  metav1.Time  `json:"startedAt"`
			FinishedAt *metav1.Time `json:"finishedAt"`
			SyncResult *struct {
				Resources []struct {
					Kind      string `json:"kind"`
					Name      string `json:"name"`
					Status    string `json:"status"`
					Message   string `json:"message"`
					HookType  string `json:"hookType"`
					HookPhase string `json:"hookPhase"`
					SyncPhase string `json:"syncPhase"`
				} `json:"resources"`
			} `json:"syncResult"`
		} `json:"operationState"`
		History []struct {
			ID         int64        `json:"id"`
			Revision   string       `json:"revision"`
			DeployedAt metav1.Time  `json:"deployedAt"`
			StartedAt  *metav1.Time `json:"deployStartedAt"`
		} `json:"history"`
		Resources []struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Status string `json:"status"`
			Health *struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			} `json:"health"`
			RequiresPruning bool `json:"requiresPruning"`
		} `json:"resources"`
		Conditions []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// Get reads the Application.
func (a *ArgoApp) Get(t testing.TB) (*ArgoStatus, error) {
	t.Helper()
	var s ArgoStatus
	if err := getJSON(t, a.Env, &s, "-n", ArgoNamespace, "application", a.Name); err != nil {
		return nil, err
	}
	return &s, nil
}

// Summary says where the Application stands: sync and health, the last operation, what is out of sync or not
// healthy, and the Application's conditions (e.g. ComparisonError).
func (s *ArgoStatus) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sync %s, health %s", orNone(s.Status.Sync.Status), orNone(s.Status.Health.Status))
	if s.Status.Health.Message != "" {
		fmt.Fprintf(&b, " (%s)", s.Status.Health.Message)
	}
	fmt.Fprintf(&b, ", %d syncs in history", len(s.Status.History))
	if op := s.Status.OperationState; op != nil {
		fmt.Fprintf(&b, "; last operation %s: %s", op.Phase, op.Message)
		if op.SyncResult != nil {
			for _, r := range op.SyncResult.Resources {
				if r.HookType != "" || r.Status != "Synced" {
					fmt.Fprintf(&b, "\n  %s %s/%s: %s %s", orNone(r.SyncPhase), r.Kind, r.Name, r.Status, r.HookPhase)
					if r.HookType != "" {
						fmt.Fprintf(&b, " (hook %s)", r.HookType)
					}
					if r.Message != "" {
						fmt.Fprintf(&b, ": %s", r.Message)
					}
				}
			}
		}
	}
	for _, r := range s.Status.Resources {
		// (hooks are listed without a sync status)
		if (r.Status != "" && r.Status != "Synced") || (r.Health != nil && r.Health.Status != "Healthy") {
			h := ""
			if r.Health != nil {
				h = r.Health.Status + prefixed(": "+r.Health.Message, r.Health.Message)
			}
			fmt.Fprintf(&b, "\n  resource %s/%s: %s %s", r.Kind, r.Name, r.Status, h)
		}
	}
	for _, c := range s.Status.Conditions {
		fmt.Fprintf(&b, "\n  condition %s: %s", c.Type, c.Message)
	}
	return Redact(b.String())
}

// OutOfSync lists the resources Argo CD compares as different from the render ("Kind/name").
func (s *ArgoStatus) OutOfSync() []string {
	var out []string
	for _, r := range s.Status.Resources {
		if r.Status == "OutOfSync" {
			out = append(out, r.Kind+"/"+r.Name)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func prefixed(s, cond string) string {
	if cond == "" {
		return ""
	}
	return s
}

// WaitSyncedHealthy waits until the Application is Synced and Healthy with no operation running, and returns how
// long that took. On timeout the test fails with where it stood.
func (a *ArgoApp) WaitSyncedHealthy(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last *ArgoStatus
	err := Eventually(timeout, 3*time.Second, func() (bool, error) {
		s, err := a.Get(t)
		if err != nil {
			return false, err
		}
		last = s
		running := s.Status.OperationState != nil && s.Status.OperationState.Phase == "Running"
		return s.Status.Sync.Status == "Synced" && s.Status.Health.Status == "Healthy" && !running,
			fmt.Errorf("Application %s: %s", a.Name, s.Summary())
	})
	if err != nil {
		if last != nil {
			t.Fatalf("Application %s not Synced and Healthy within %s: %s", a.Name, timeout, last.Summary())
		}
		t.Fatalf("Application %s not Synced and Healthy within %s: %v", a.Name, timeout, err)
	}
	return time.Since(start)
}

// HardRefresh asks for a hard refresh (argocd.argoproj.io/refresh=hard: the repo server renders the chart again,
// bypassing its manifest cache) and waits until the controller has done it (it removes the annotation when the
// refresh is complete).
func (a *ArgoApp) HardRefresh(t testing.TB) {
	t.Helper()
	if out, err := kubectl(t, a.Env, "-n", ArgoNamespace, "annotate", "--overwrite", "application", a.Name, "argocd.argoproj.io/refresh=hard"); err != nil {
		t.Fatalf("annotate %s: %v: %s", a.Name, err, out)
	}
	err := Eventually(3*time.Minute, 2*time.Second, func() (bool, error) {
		s, err := a.Get(t)
		if err != nil {
			return false, err
		}
		_, pending := s.Metadata.Annotations["argocd.argoproj.io/refresh"]
		return !pending, fmt.Errorf("the hard refresh of %s is still pending: %s", a.Name, s.Summary())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// SetParameters replaces the Application's Helm parameters (a values change in Git, as Argo CD sees it).
func (a *ArgoApp) SetParameters(t testing.TB, oci OCI, h ArgoHelm) {
	t.Helper()
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"source": h.source(oci, a.Env)}})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, a.Env, "-n", ArgoNamespace, "patch", "application", a.Name, "--type", "merge", "-p", string(patch)); err != nil {
		t.Fatalf("patch %s: %v: %s", a.Name, err, out)
	}
}

// Dump logs the Application (status included) and the tail of the Argo CD controllers' logs.
func (a *ArgoApp) Dump(t testing.TB) {
	t.Helper()
	if s, err := a.Get(t); err == nil {
		Logf(t, "---- Application %s: %s", a.Name, s.Summary())
	}
	for _, ref := range []string{"statefulset/argocd-application-controller", "deployment/argocd-repo-server"} {
		out, _ := kubectl(t, a.Env, "-n", ArgoNamespace, "logs", ref, "--tail", "40")
		Logf(t, "---- %s/%s log (tail) ----\n%s", ArgoNamespace, ref, out)
	}
}

// ---- Flux ----

// FluxRelease is an OCIRepository (the chart in the harness registry) and a HelmRelease of it in a test namespace.
type FluxRelease struct {
	Name string // both objects' name; the Helm release is named "spacefleet"
	NS   *NS
	Env  *Env
	OCI  OCI
}

// NewFluxRelease creates the OCIRepository and the HelmRelease (drift detection enabled, tests enabled) with these
// values; the HelmRelease is deleted when the test ends (helm-controller uninstalls), before the namespace.
func NewFluxRelease(t *testing.T, ns *NS, oci OCI, values map[string]any) *FluxRelease {
	t.Helper()
	f := &FluxRelease{Name: "spacefleet", NS: ns, Env: ns.Env, OCI: oci}
	repo := map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
		"metadata": map[string]any{"name": f.Name, "namespace": ns.Name},
		"spec": map[string]any{
			"url":      "oci://" + oci.InClusterRegistry(ns.Env) + "/charts/spacefleet",
			"ref":      map[string]any{"tag": oci.Version},
			"insecure": true, // the harness registry speaks plain HTTP
			"interval": "10m",
			"layerSelector": map[string]any{
				"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
		},
	}
	kubectlApply(t, ns.Env, repo, f.helmRelease(values))
	t.Cleanup(func() {
		if t.Failed() {
			f.Dump(t)
		}
		if out, err := kubectl(t, f.Env, "-n", ns.Name, "delete", "helmrelease", f.Name, "--timeout", "3m"); err != nil {
			t.Logf("delete helmrelease %s: %v: %s", f.Name, err, out)
		}
	})
	t.Logf("OCIRepository + HelmRelease %s/%s: oci://%s/charts/spacefleet:%s", ns.Name, f.Name, oci.InClusterRegistry(ns.Env), oci.Version)
	return f
}

func (f *FluxRelease) helmRelease(values map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": f.Name, "namespace": f.NS.Name},
		"spec": map[string]any{
			"releaseName":    "spacefleet",
			"interval":       "10m",
			"timeout":        "5m",
			"chartRef":       map[string]any{"kind": "OCIRepository", "name": f.Name},
			"driftDetection": map[string]any{"mode": "enabled"},
			"test":           map[string]any{"enable": true},
			"values":         values,
		},
	}
}

// SetValues replaces the HelmRelease's values (a values change in Git).
func (f *FluxRelease) SetValues(t testing.TB, values map[string]any) {
	t.Helper()
	kubectlApply(t, f.Env, f.helmRelease(values))
}

// Condition is a status condition.
type Condition struct {
	Type               string      `json:"type"`
	Status             string      `json:"status"`
	Reason             string      `json:"reason"`
	Message            string      `json:"message"`
	ObservedGeneration int64       `json:"observedGeneration"`
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
}

// FluxStatus is the part of a HelmRelease the suites read.
type FluxStatus struct {
	Metadata struct {
		Generation int64 `json:"generation"`
	} `json:"metadata"`
	Status struct {
		ObservedGeneration     int64       `json:"observedGeneration"`
		LastHandledReconcileAt string      `json:"lastHandledReconcileAt"`
		LastAttemptedRevision  string      `json:"lastAttemptedRevision"`
		Conditions             []Condition `json:"conditions"`
		History                []struct {
			Version       int    `json:"version"`
			Status        string `json:"status"`
			ChartVersion  string `json:"chartVersion"`
			ConfigDigest  string `json:"configDigest"`
			Digest        string `json:"digest"`
			FirstDeployed string `json:"firstDeployed"`
			LastDeployed  string `json:"lastDeployed"`
			TestHooks     map[string]struct {
				Phase string `json:"phase"`
			} `json:"testHooks"`
		} `json:"history"`
	} `json:"status"`
}

// Get reads the HelmRelease.
func (f *FluxRelease) Get(t testing.TB) (*FluxStatus, error) {
	t.Helper()
	var s FluxStatus
	if err := getJSON(t, f.Env, &s, "-n", f.NS.Name, "helmrelease", f.Name); err != nil {
		return nil, err
	}
	return &s, nil
}

// Condition returns the condition of that type (nil when unset).
func (s *FluxStatus) Condition(typ string) *Condition {
	for i := range s.Status.Conditions {
		if s.Status.Conditions[i].Type == typ {
			return &s.Status.Conditions[i]
		}
	}
	return nil
}

// Summary lists the conditions and the release history.
func (s *FluxStatus) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "generation %d observed %d", s.Metadata.Generation, s.Status.ObservedGeneration)
	for _, c := range s.Status.Conditions {
		fmt.Fprintf(&b, "\n  %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, h := range s.Status.History {
		var hooks []string
		for name, hk := range h.TestHooks {
			hooks = append(hooks, name+"="+hk.Phase)
		}
		sort.Strings(hooks)
		fmt.Fprintf(&b, "\n  release v%d %s (chart %s, config %s) tests %v", h.Version, h.Status, h.ChartVersion, shortDigest(h.ConfigDigest), hooks)
	}
	return Redact(b.String())
}

func shortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// WaitReady waits until the HelmRelease observed its latest generation and is Ready (with cond, when given, true
// as well), and returns how long that took.
func (f *FluxRelease) WaitReady(t testing.TB, timeout time.Duration, cond func(*FluxStatus) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last *FluxStatus
	err := Eventually(timeout, 3*time.Second, func() (bool, error) {
		s, err := f.Get(t)
		if err != nil {
			return false, err
		}
		last = s
		ready := s.Condition("Ready")
		ok := s.Status.ObservedGeneration == s.Metadata.Generation && ready != nil && ready.Status == "True" &&
			ready.ObservedGeneration == s.Metadata.Generation && (cond == nil || cond(s))
		return ok, fmt.Errorf("HelmRelease %s: %s", f.Name, s.Summary())
	})
	if err != nil {
		if last != nil {
			t.Fatalf("HelmRelease %s not Ready within %s: %s", f.Name, timeout, last.Summary())
		}
		t.Fatalf("HelmRelease %s not Ready within %s: %v", f.Name, timeout, err)
	}
	return time.Since(start)
}

// Reconcile forces a reconcile (reconcile.fluxcd.io/requestedAt, as `flux reconcile` does) and waits until
// helm-controller has handled it.
func (f *FluxRelease) Reconcile(t testing.TB) *FluxStatus {
	t.Helper()
	at := time.Now().UTC().Format(time.RFC3339Nano)
	if out, err := kubectl(t, f.Env, "-n", f.NS.Name, "annotate", "--overwrite", "helmrelease", f.Name, "reconcile.fluxcd.io/requestedAt="+at); err != nil {
		t.Fatalf("annotate %s: %v: %s", f.Name, err, out)
	}
	var last *FluxStatus
	err := Eventually(5*time.Minute, 2*time.Second, func() (bool, error) {
		s, err := f.Get(t)
		if err != nil {
			return false, err
		}
		last = s
		return s.Status.LastHandledReconcileAt == at, fmt.Errorf("reconcile request %s not handled yet: %s", at, s.Summary())
	})
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// DriftDetections counts the DriftDetected events of the HelmRelease (each one a difference between the release
// and the cluster that helm-controller found, and, with drift detection enabled, corrected: the Drifted condition is
// False again once it has) and returns their messages.
func (f *FluxRelease) DriftDetections(t testing.TB) (int, []string) {
	t.Helper()
	l, err := f.NS.Client.CoreV1().Events(f.NS.Name).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=HelmRelease,involvedObject.name=" + f.Name + ",reason=DriftDetected"})
	if err != nil {
		t.Fatalf("list the events of HelmRelease %s: %v", f.Name, err)
	}
	n := 0
	var msgs []string
	for _, e := range l.Items {
		c := int(e.Count)
		if e.Series != nil && int(e.Series.Count) > c {
			c = int(e.Series.Count)
		}
		if c == 0 {
			c = 1
		}
		n += c
		msgs = append(msgs, e.Message)
	}
	return n, msgs
}

// Dump logs the HelmRelease's and the OCIRepository's status and the tail of the Flux controllers' logs.
func (f *FluxRelease) Dump(t testing.TB) {
	t.Helper()
	if s, err := f.Get(t); err == nil {
		Logf(t, "---- HelmRelease %s/%s: %s", f.NS.Name, f.Name, s.Summary())
	}
	out, _ := kubectl(t, f.Env, "-n", f.NS.Name, "get", "ocirepository", f.Name, "-o", "jsonpath={.status.conditions}")
	Logf(t, "---- OCIRepository %s/%s conditions: %s", f.NS.Name, f.Name, out)
	for _, ref := range []string{"deployment/helm-controller", "deployment/source-controller"} {
		out, _ := kubectl(t, f.Env, "-n", FluxNamespace, "logs", ref, "--tail", "40")
		Logf(t, "---- %s/%s log (tail) ----\n%s", FluxNamespace, ref, out)
	}
}

// ---- what a namespace saw ----

// Seen is a pod or Job the recorder saw: its last state, and when it was first seen.
type Seen struct {
	Kind      string
	Name      string
	UID       types.UID
	Component string // app.kubernetes.io/component
	Created   time.Time
	Completed time.Time // Jobs: status.completionTime (zero until Complete)
	Succeeded bool      // pods: phase Succeeded; Jobs: Complete
	Failed    bool
}

// Recorder watches a namespace's pods and Jobs from the moment it starts: objects that are created and deleted
// between two polls (hook Jobs, their pods) are seen too.
type Recorder struct {
	mu   sync.Mutex
	objs map[types.UID]*Seen
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Record starts a recorder; it stops when the test ends.
func Record(t testing.TB, ns *NS) *Recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{objs: map[types.UID]*Seen{}, stop: cancel}
	pods, err := ns.Client.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	jobs, err := ns.Client.BatchV1().Jobs(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	for i := range pods.Items {
		r.pod(&pods.Items[i])
	}
	for i := range jobs.Items {
		r.job(&jobs.Items[i])
	}
	r.follow(ctx, "pods", pods.ResourceVersion, func(rv string) (watch.Interface, error) {
		return ns.Client.CoreV1().Pods(ns.Name).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	})
	r.follow(ctx, "jobs", jobs.ResourceVersion, func(rv string) (watch.Interface, error) {
		return ns.Client.BatchV1().Jobs(ns.Name).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	})
	t.Cleanup(r.Stop)
	return r
}

// follow keeps a watch open (reopened from the last resourceVersion when the server ends it) until ctx ends.
func (r *Recorder) follow(ctx context.Context, what, rv string, open func(string) (watch.Interface, error)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for ctx.Err() == nil {
			w, err := open(rv)
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			for ev := range w.ResultChan() {
				switch o := ev.Object.(type) {
				case *corev1.Pod:
					r.pod(o)
					rv = o.ResourceVersion
				case *batchv1.Job:
					r.job(o)
					rv = o.ResourceVersion
				case *metav1.Status:
					rv = "" // expired: start again from the current state (what was missed is lost, rare)
				}
			}
			w.Stop()
		}
	}()
}

// Stop ends the watches.
func (r *Recorder) Stop() { r.stop(); r.wg.Wait() }

func (r *Recorder) seen(kind string, m metav1.ObjectMeta) *Seen {
	s, ok := r.objs[m.UID]
	if !ok {
		s = &Seen{Kind: kind, Name: m.Name, UID: m.UID, Component: m.Labels["app.kubernetes.io/component"], Created: m.CreationTimestamp.Time}
		r.objs[m.UID] = s
	}
	return s
}

func (r *Recorder) pod(p *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen("Pod", p.ObjectMeta)
	s.Succeeded = s.Succeeded || p.Status.Phase == corev1.PodSucceeded
	s.Failed = s.Failed || p.Status.Phase == corev1.PodFailed
}

func (r *Recorder) job(j *batchv1.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen("Job", j.ObjectMeta)
	if j.Status.CompletionTime != nil {
		s.Completed = j.Status.CompletionTime.Time
	}
	s.Succeeded = s.Succeeded || JobCondition(j, batchv1.JobComplete)
	s.Failed = s.Failed || JobCondition(j, batchv1.JobFailed)
}

// Since lists what was first created at or after t (creation timestamps have second resolution: t is truncated),
// of this kind and component, oldest first.
func (r *Recorder) Since(t time.Time, kind, component string) []Seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Seen
	from := t.Truncate(time.Second)
	for _, s := range r.objs {
		if s.Kind == kind && s.Component == component && !s.Created.Before(from) {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Describe is one line per object: what happened, for the log.
func Describe(objs []Seen) string {
	var b strings.Builder
	for _, s := range objs {
		state := "running"
		switch {
		case s.Succeeded:
			state = "succeeded"
		case s.Failed:
			state = "failed"
		}
		fmt.Fprintf(&b, "\n  %s %s created %s, %s", s.Kind, s.Name, s.Created.Format("15:04:05"), state)
		if !s.Completed.IsZero() {
			fmt.Fprintf(&b, " (complete %s)", s.Completed.Format("15:04:05"))
		}
	}
	return b.String()
}

// SecretHashes maps every Secret of the namespace (but Helm's own release records and service account tokens) to a
// hash of its data: compared, never printed.
func (ns *NS) SecretHashes(t testing.TB) map[string]string {
	t.Helper()
	l, err := ns.Client.CoreV1().Secrets(ns.Name).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list secrets: %v", err)
	}
	out := map[string]string{}
	for _, s := range l.Items {
		if s.Type == "helm.sh/release.v1" || s.Type == corev1.SecretTypeServiceAccountToken {
			continue
		}
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h := sha256.New()
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%x;", k, sha256.Sum256(s.Data[k]))
		}
		out[s.Name] = hex.EncodeToString(h.Sum(nil))[:16]
	}
	return out
}

// AllPodUIDs maps every pod of the namespace (any phase, not terminating) to its UID.
func (ns *NS) AllPodUIDs(t testing.TB) map[string]types.UID { return ns.PodUIDs(t, "") }
