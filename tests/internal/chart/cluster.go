package chart

// Renders against a cluster that already runs something: the chart's `lookup` calls are answered from the objects a
// test passes (a fake dynamic client), the way `helm upgrade` sees a live release. Used for the guards that compare
// the new values with what runs (the bundled PostgreSQL's major version).

import (
	"fmt"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"
)

// fakeCluster serves lookup from a fake dynamic client: every kind is namespaced, resources are "<kind>s" lower-case.
type fakeCluster struct{ client *fake.FakeDynamicClient }

func (f fakeCluster) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, err
	}
	return f.client.Resource(gvr(gv.WithKind(kind))), true, nil
}

func gvr(gvk schema.GroupVersionKind) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: lower(gvk.Kind) + "s"}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// RenderUpgradeAgainst renders the chart as `helm upgrade` (revision 2) of ReleaseName in Namespace with these user
// values (schema-validated), while the cluster holds objs (unstructured: apiVersion, kind, metadata.name and
// namespace set). It returns the rendered templates or the render error (a `fail` message).
func RenderUpgradeAgainst(vals map[string]any, objs ...map[string]any) (map[string]string, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	return renderAgainst(ch, vals, false, objs...)
}

// RenderFixture renders a copy of the chart with extra templates added (name -> content, e.g. a fixture that calls a
// helper with a test table), without the values schema (a fixture may need keys the schema does not know).
func RenderFixture(extra map[string]string, vals map[string]any) (map[string]string, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	cp := *ch
	cp.Templates = append([]*chart.File{}, ch.Templates...)
	for name, data := range extra {
		cp.Templates = append(cp.Templates, &chart.File{Name: name, Data: []byte(data)})
	}
	return renderAgainst(&cp, vals, true)
}

func renderAgainst(ch *chart.Chart, vals map[string]any, skipSchema bool, objs ...map[string]any) (map[string]string, error) {
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	rv, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, chartutil.ReleaseOptions{
		Name: ReleaseName, Namespace: Namespace, Revision: 2, IsUpgrade: true}, caps, skipSchema)
	if err != nil {
		return nil, err
	}
	sch := runtime.NewScheme()
	lists := map[schema.GroupVersionResource]string{}
	var objects []runtime.Object
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o}
		lists[gvr(u.GroupVersionKind())] = u.GetKind() + "List"
		objects = append(objects, u)
	}
	// the kinds the chart looks up, so a lookup of an absent object is a NotFound, not an unknown resource
	for _, k := range []schema.GroupVersionKind{{Version: "v1", Kind: "Secret"}, {Group: "apps", Version: "v1", Kind: "StatefulSet"}} {
		if _, ok := lists[gvr(k)]; !ok {
			lists[gvr(k)] = k.Kind + "List"
		}
	}
	client := fake.NewSimpleDynamicClientWithCustomListKinds(sch, lists, objects...)
	out, err := engine.RenderWithClientProvider(ch, rv, fakeCluster{client: client})
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	return out, nil
}
