// Package chart renders charts/spacefleet in-process with the Helm SDK, exactly as `helm install` would
// (schema validation, template-time checks, hooks, NOTES), and decodes every manifest strictly into its
// typed Kubernetes object so that a misspelt or misplaced field fails the test that rendered it.
package chart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Release and namespace every render uses, so names in assertions are predictable. KubeVersion is the newest
// Kubernetes the project pins (the root Makefile's K8S_VERSION: the main e2e cluster, and one of the two versions
// `make schemas` generates kubeconform schemas for); TestRendersForThePinnedKubernetes keeps them equal.
const (
	ReleaseName = "spacefleet"
	Namespace   = "spacefleet"
	KubeVersion = "v1.37.2"
)

// Root is the repository root (found from this file's location, so tests run from any directory).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Dir is the chart directory; SPACEFLEET_CHART_DIR points the tests at a copy (the mutation check uses it).
func Dir() string {
	if d := os.Getenv("SPACEFLEET_CHART_DIR"); d != "" {
		return d
	}
	return filepath.Join(Root(), "charts", "spacefleet")
}

// ExampleFiles lists examples/values/*.yaml.
func ExampleFiles() []string {
	files, _ := filepath.Glob(filepath.Join(Root(), "examples", "values", "*.yaml"))
	sort.Strings(files)
	return files
}

var (
	loadOnce sync.Once
	loaded   *chart.Chart
	loadErr  error
)

// Load returns the chart, loaded once per test binary.
func Load() (*chart.Chart, error) {
	loadOnce.Do(func() { loaded, loadErr = loader.Load(Dir()) })
	return loaded, loadErr
}

// Object is one rendered manifest: its source template, whether it is a hook, and the typed object.
type Object struct {
	Kind, Name, Template string
	Hook                 bool
	Raw                  map[string]any
	Typed                any
}

// Result is a whole render.
type Result struct {
	Objects []Object
	Notes   string
	// Text is the render as Helm prints it: the manifest, then every hook's (what `helm template` writes).
	Text string
}

// Options tweak a render. Values are merged in order: files, then Values, then Set (helm --set syntax).
type Options struct {
	Files   []string
	Values  map[string]any
	Set     []string
	Upgrade bool   // render as `helm upgrade` (IsUpgrade) instead of install
	Release string // release name (default ReleaseName)
}

// ValuesFrom builds the merged user values the way the helm CLI does (-f files, then --set).
func ValuesFrom(o Options) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range o.Files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var cur map[string]any
		if err := yaml.Unmarshal(b, &cur); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		base = chartutil.MergeTables(cur, base)
	}
	if o.Values != nil {
		// round-trip through JSON so callers may pass any map shape
		b, _ := json.Marshal(o.Values)
		var cur map[string]any
		_ = json.Unmarshal(b, &cur)
		base = chartutil.MergeTables(cur, base)
	}
	for _, s := range o.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return base, nil
}

// Render runs a client-only `helm install --dry-run` (or upgrade) of the chart with these values.
func Render(o Options) (*Result, error) {
	vals, err := ValuesFrom(o)
	if err != nil {
		return nil, err
	}
	return RenderValuesAs(vals, o.Upgrade, o.Release)
}

// RenderValues renders already-merged user values.
func RenderValues(vals map[string]any, upgrade bool) (*Result, error) {
	return RenderValuesAs(vals, upgrade, "")
}

// RenderValuesAs renders already-merged user values as release `release` ("" for ReleaseName).
func RenderValuesAs(vals map[string]any, upgrade bool, release string) (*Result, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	inst := newInstall()
	if release != "" {
		inst.ReleaseName = release
	}
	inst.IsUpgrade = upgrade
	rel, err := inst.Run(ch, vals)
	if err != nil {
		return nil, err
	}
	return decodeRelease(rel)
}

func decodeRelease(rel *release.Release) (*Result, error) {
	res := &Result{Notes: rel.Info.Notes}
	var text strings.Builder
	add := func(manifest string, hook bool) error {
		text.WriteString(manifest)
		text.WriteString("\n---\n")
		for _, doc := range splitDocs(manifest) {
			obj, err := decode(doc.body)
			if err != nil {
				return fmt.Errorf("%s: %w", doc.source, err)
			}
			if obj == nil {
				continue
			}
			obj.Template, obj.Hook = doc.source, hook
			res.Objects = append(res.Objects, *obj)
		}
		return nil
	}
	if err := add(rel.Manifest, false); err != nil {
		return nil, err
	}
	for _, h := range rel.Hooks {
		if err := add("# Source: "+h.Path+"\n"+h.Manifest, true); err != nil {
			return nil, err
		}
	}
	res.Text = text.String()
	return res, nil
}

type doc struct{ source, body string }

func splitDocs(manifest string) []doc {
	var out []doc
	for _, part := range strings.Split(manifest, "\n---") {
		part = strings.TrimPrefix(part, "\n")
		src := ""
		for _, line := range strings.Split(part, "\n") {
			if strings.HasPrefix(line, "# Source: ") {
				src = strings.TrimPrefix(line, "# Source: ")
				break
			}
		}
		if strings.TrimSpace(stripComments(part)) == "" {
			continue
		}
		out = append(out, doc{source: src, body: part})
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "---" {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// CRD groups the chart may render; the scheme has no Go types for them.
var looseGroups = map[string]bool{"cert-manager.io": true, "gateway.networking.k8s.io": true, "monitoring.coreos.com": true}

// decode parses one manifest and decodes it strictly into its typed object: an unknown field is an error.
func decode(body string) (*Object, error) {
	js, err := yaml.YAMLToJSON([]byte(body))
	if err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if string(js) == "null" {
		return nil, nil
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	apiVersion, _ := raw["apiVersion"].(string)
	kind, _ := raw["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" {
		return nil, fmt.Errorf("missing or bad apiVersion/kind (%q, %q)", apiVersion, kind)
	}
	typed, err := scheme.Scheme.New(gv.WithKind(kind))
	if err != nil {
		if !looseGroups[gv.Group] {
			return nil, fmt.Errorf("unknown kind %s %s: %w", apiVersion, kind, err)
		}
		md, _ := raw["metadata"].(map[string]any)
		name, _ := md["name"].(string)
		return &Object{Kind: kind, Name: name, Raw: raw, Typed: raw}, nil // kubeconform checks these
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(typed); err != nil {
		return nil, fmt.Errorf("%s: strict decode: %w", kind, err)
	}
	md, _ := raw["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	return &Object{Kind: kind, Name: name, Raw: raw, Typed: typed}, nil
}

// Find returns the object of this kind and name, or nil.
func (r *Result) Find(kind, name string) *Object {
	for i := range r.Objects {
		if r.Objects[i].Kind == kind && r.Objects[i].Name == name {
			return &r.Objects[i]
		}
	}
	return nil
}

// All returns every object of a kind.
func (r *Result) All(kind string) []Object {
	var out []Object
	for _, o := range r.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// Workload is a pod-owning object reduced to what the tests look at.
type Workload struct {
	Object
	Pod  *corev1.PodSpec
	Meta map[string]string // pod template annotations
}

// Workloads returns the Deployments, StatefulSets, Jobs and Pods, keyed by their component label.
func (r *Result) Workloads() map[string]Workload {
	out := map[string]Workload{}
	for _, o := range r.Objects {
		var spec *corev1.PodSpec
		var ann, labels map[string]string
		switch t := o.Typed.(type) {
		case *appsv1.Deployment:
			spec, ann, labels = &t.Spec.Template.Spec, t.Spec.Template.Annotations, t.Labels
		case *appsv1.StatefulSet:
			spec, ann, labels = &t.Spec.Template.Spec, t.Spec.Template.Annotations, t.Labels
		case *batchv1.Job:
			spec, ann, labels = &t.Spec.Template.Spec, t.Spec.Template.Annotations, t.Labels
		case *corev1.Pod:
			spec, ann, labels = &t.Spec, t.Annotations, t.Labels
		default:
			continue
		}
		out[labels["app.kubernetes.io/component"]] = Workload{Object: o, Pod: spec, Meta: ann}
	}
	return out
}

// Env returns a container's env var by name, or nil.
func Env(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// RenderUmbrella renders the parent chart in dir with this chart (Dir()) as its dependency, as
// `helm dependency build` would vendor it, with user values for the parent.
func RenderUmbrella(dir string, vals map[string]any) (*Result, error) {
	parent, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	sub, err := loader.Load(Dir()) // a fresh copy: AddDependency makes it the parent's, the shared one must stay top-level
	if err != nil {
		return nil, err
	}
	parent.AddDependency(sub)
	rel, err := newInstall().Run(parent, vals)
	if err != nil {
		return nil, err
	}
	return decodeRelease(rel)
}

// RenderWithoutSchema renders with values.schema.json removed, to prove the template-time checks in
// _validate.tpl stand on their own.
func RenderWithoutSchema(vals map[string]any) (*Result, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	cp := *ch
	cp.Schema = nil
	rel, err := newInstall().Run(&cp, vals)
	if err != nil {
		return nil, err
	}
	return decodeRelease(rel)
}

// newInstall is a client-only `helm install --dry-run` against the newest Kubernetes version we support.
func newInstall() *action.Install {
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		panic(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = ReleaseName, Namespace
	inst.KubeVersion = kv
	inst.DisableOpenAPIValidation = true
	return inst
}
