//go:build e2e

package harness

// What you send is what is stored: RoundTrip sends rendered objects to the API server (server-side apply, dry run,
// strict field validation) and compares the JSON it sent with the object the API server answers with, which is what
// it would store. A field the server refuses is a "refused" finding; a field it accepts and silently drops (a
// version that does not know it, or a feature gate that is off: the API server's strategies clear such fields
// without an error) is a "dropped" finding; a value it stores differently is "changed". Fields the server adds
// (defaults, metadata) are not findings: only what was sent is checked.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// Finding is one difference between what was sent and what the API server stores (or its refusal).
type Finding struct {
	Object string // Kind/name
	What   string // "refused", "dropped", "changed" or "warning"
	Path   string // JSON path of the field ("" for a refusal or a warning)
	Detail string
}

func (f Finding) String() string {
	if f.Path == "" {
		return fmt.Sprintf("%s: %s: %s", f.Object, f.What, f.Detail)
	}
	return fmt.Sprintf("%s: %s %s: %s", f.Object, f.What, f.Path, f.Detail)
}

// RoundTripResult is what RoundTrip sent and found.
type RoundTripResult struct {
	Objects  int       // objects sent
	Findings []Finding // refusals, silently dropped or changed fields, API warnings
}

// RoundTripOptions tunes RoundTrip.
type RoundTripOptions struct {
	// Create lists kinds applied for real (not a dry run) before the others, because the admission of later objects
	// needs them to exist: a Pod is admitted only when its ServiceAccount exists. They are compared all the same.
	Create []string
	// FieldManager of the applies (default "spacefleet-roundtrip").
	FieldManager string
}

// warningCollector keeps the API server's warnings (Warning headers) of the request in flight.
type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// RoundTrip applies every object of manifest (multi-document YAML, e.g. `helm template` output) into namespace
// (namespaced objects that name none), as a dry run unless its kind is in opts.Create, and compares each with what
// the API server answers. CRDs the objects need must be established before.
func RoundTrip(t testing.TB, env *Env, namespace string, manifest []byte, opts RoundTripOptions) RoundTripResult {
	t.Helper()
	if opts.FieldManager == "" {
		opts.FieldManager = "spacefleet-roundtrip"
	}
	cfg, err := env.Kube("").RestConfig()
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	warnings := &warningCollector{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warnings
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	objs, err := SplitManifest(manifest)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	create := map[string]bool{}
	for _, k := range opts.Create {
		create[k] = true
	}
	// the kinds to create for real first, then the rest, each group in manifest order
	sort.SliceStable(objs, func(i, j int) bool { return create[kindOf(objs[i])] && !create[kindOf(objs[j])] })

	res := RoundTripResult{}
	for _, obj := range objs {
		res.Objects++
		id := kindOf(obj) + "/" + nameOf(obj)
		warnings.take()
		stored, err := applyOne(dyn, mapper, namespace, obj, !create[kindOf(obj)], opts.FieldManager)
		for _, w := range warnings.take() {
			res.Findings = append(res.Findings, Finding{Object: id, What: "warning", Detail: w})
		}
		if err != nil {
			res.Findings = append(res.Findings, Finding{Object: id, What: "refused", Detail: Redact(err.Error())})
			continue
		}
		for _, d := range StoredAsSent(obj, stored) {
			d.Object = id
			res.Findings = append(res.Findings, d)
		}
	}
	return res
}

// SplitManifest parses multi-document YAML into JSON-shaped objects (map[string]any, numbers as float64), skipping
// empty documents.
func SplitManifest(manifest []byte) ([]map[string]any, error) {
	var out []map[string]any
	for i, doc := range bytes.Split(append([]byte("\n"), manifest...), []byte("\n---")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, obj)
	}
	return out, nil
}

func kindOf(obj map[string]any) string { s, _ := obj["kind"].(string); return s }

func nameOf(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}

// applyOne server-side applies obj (a dry run when dryRun) and returns what the API server answered, JSON-shaped
// like obj.
func applyOne(dyn dynamic.Interface, mapper meta.RESTMapper, namespace string, obj map[string]any, dryRun bool, manager string) (map[string]any, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	m, err := mapper.RESTMapping(gv.WithKind(kindOf(obj)).GroupKind(), gv.Version)
	if err != nil {
		return nil, fmt.Errorf("the API server does not serve %s %s: %w", apiVersion, kindOf(obj), err)
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: manager, Force: ptr.To(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := namespace
		if md, ok := obj["metadata"].(map[string]any); ok {
			if s, _ := md["namespace"].(string); s != "" {
				ns = s
			}
		}
		ri = dyn.Resource(m.Resource).Namespace(ns)
	}
	u, err := ri.Patch(context.Background(), nameOf(obj), types.ApplyPatchType, body, opts)
	if err != nil {
		return nil, err
	}
	// through JSON, so numbers compare as float64 on both sides
	b, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	var stored map[string]any
	return stored, json.Unmarshal(b, &stored)
}

// StoredAsSent compares an object as sent with the object as stored (both JSON-shaped: map[string]any, []any,
// string, float64, bool, nil) and returns every sent field that is missing or different in the stored one.
// Equivalences the API server's serialization makes are not findings: an empty value (null, "", {}, []) left out,
// a quantity in another spelling ("0.5" = "500m", 1 = "1"), a Secret's stringData stored base64-encoded in data.
func StoredAsSent(sent, stored map[string]any) []Finding {
	var out []Finding
	if kindOf(sent) == "Secret" {
		if sd, ok := sent["stringData"].(map[string]any); ok {
			sent = shallowCopy(sent)
			delete(sent, "stringData")
			data, _ := stored["data"].(map[string]any)
			for _, k := range sortedKeys(sd) {
				want := base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(sd[k])))
				if got, ok := data[k]; !ok {
					out = append(out, Finding{What: "dropped", Path: ".stringData." + k, Detail: "not in the stored data"})
				} else if got != want {
					out = append(out, Finding{What: "changed", Path: ".stringData." + k, Detail: "stored data differs"})
				}
			}
		}
	}
	compare("", sent, stored, &out)
	if kindOf(sent) == "Secret" { // a Secret's values never reach a test log
		for i := range out {
			if strings.HasPrefix(out[i].Path, ".data") {
				out[i].Detail = "(value not shown)"
			}
		}
	}
	for i := range out {
		out[i].Detail = Redact(out[i].Detail)
	}
	return out
}

func compare(path string, sent, stored any, out *[]Finding) {
	switch s := sent.(type) {
	case map[string]any:
		st, ok := stored.(map[string]any)
		if !ok {
			if stored == nil && isEmpty(s) {
				return
			}
			*out = append(*out, Finding{What: changedOrDropped(stored), Path: path, Detail: fmt.Sprintf("sent an object, stored %s", show(stored))})
			return
		}
		for _, k := range sortedKeys(s) {
			p := path + "." + k
			sv, present := st[k]
			if !present {
				if !isEmpty(s[k]) {
					*out = append(*out, Finding{What: "dropped", Path: p, Detail: "sent " + show(s[k]) + ", not stored"})
				}
				continue
			}
			compare(p, s[k], sv, out)
		}
	case []any:
		st, ok := stored.([]any)
		if !ok {
			if stored == nil && len(s) == 0 {
				return
			}
			*out = append(*out, Finding{What: changedOrDropped(stored), Path: path, Detail: fmt.Sprintf("sent a list, stored %s", show(stored))})
			return
		}
		if len(st) < len(s) {
			*out = append(*out, Finding{What: "dropped", Path: path, Detail: fmt.Sprintf("sent %d items, stored %d", len(s), len(st))})
		}
		for i := 0; i < len(s) && i < len(st); i++ {
			compare(fmt.Sprintf("%s[%d]", path, i), s[i], st[i], out)
		}
	default:
		if !sameScalar(sent, stored) {
			*out = append(*out, Finding{What: changedOrDropped(stored), Path: path, Detail: fmt.Sprintf("sent %s, stored %s", show(sent), show(stored))})
		}
	}
}

func changedOrDropped(stored any) string {
	if stored == nil {
		return "dropped"
	}
	return "changed"
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any: // {} or only empty values (`annotations: {}` inside metadata)
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

func sameScalar(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	qa, okA := quantity(a)
	qb, okB := quantity(b)
	return okA && okB && qa.Cmp(qb) == 0
}

// quantity reads a resource quantity from a string ("500m", "1Gi") or a number (1, 0.5).
func quantity(v any) (resource.Quantity, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// FindingsText is one finding per line, for a test failure message.
func FindingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

// ServerVersion is the API server's version (e.g. "v1.37.2").
func ServerVersion(t testing.TB, env *Env) string {
	t.Helper()
	cfg, err := env.Kube("").RestConfig()
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	return v.GitVersion
}
