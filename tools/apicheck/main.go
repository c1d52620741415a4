// Command apicheck is the deprecated-API gate: it reads a rendered chart (multi-document YAML) and fails on any
// Kubernetes built-in API that the given Kubernetes version has removed, deprecated, or does not serve yet.
//
//	apicheck -kube-version 1.30 RENDER.yaml...
//
// The facts come from Kubernetes itself: the APILifecycle{Introduced,Deprecated,Removed,Replacement} methods that
// k8s.io/api generates for every non-GA type (the data the API server's deprecation warnings are built from), through
// client-go's scheme — no hand-kept table to go stale. A built-in group whose version or kind the scheme no longer
// knows (autoscaling/v2beta2, ...) was removed long ago and fails too. Objects of groups the scheme does not know
// at all (CRDs: cert-manager.io, monitoring.coreos.com, gateway.networking.k8s.io) are listed as not checked here:
// kubeconform validates them against their CRD schemas.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

type lifecycle interface {
	APILifecycleIntroduced() (major, minor int)
}
type deprecated interface {
	APILifecycleDeprecated() (major, minor int)
}
type removed interface {
	APILifecycleRemoved() (major, minor int)
}
type replaced interface {
	APILifecycleReplacement() schema.GroupVersionKind
}

func main() {
	kv := flag.String("kube-version", "", "Kubernetes version the render is for, MAJOR.MINOR (e.g. 1.30)")
	flag.Parse()
	major, minor, err := parseVersion(*kv)
	if err != nil || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: apicheck -kube-version MAJOR.MINOR RENDER.yaml...", err)
		os.Exit(2)
	}
	groups := map[string]bool{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		groups[gvk.Group] = true
	}
	var problems, notes []string
	checked := 0
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apicheck:", err)
			os.Exit(1)
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				fmt.Fprintf(os.Stderr, "apicheck: %s: %v\n", file, err)
				os.Exit(1)
			}
			if tm.Kind == "" {
				continue
			}
			gv, err := schema.ParseGroupVersion(tm.APIVersion)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s/%s: apiVersion %q: %v", tm.Kind, tm.Metadata.Name, tm.APIVersion, err))
				continue
			}
			gvk := gv.WithKind(tm.Kind)
			id := fmt.Sprintf("%s/%s (%s)", tm.Kind, tm.Metadata.Name, tm.APIVersion)
			if !groups[gvk.Group] {
				notes = append(notes, fmt.Sprintf("%s: not a built-in API group (CRD): kubeconform checks it", id))
				continue
			}
			checked++
			obj, err := scheme.Scheme.New(gvk)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: Kubernetes no longer serves %s %s at all (removed)", id, gv, tm.Kind))
				continue
			}
			if l, ok := obj.(lifecycle); ok {
				if ma, mi := l.APILifecycleIntroduced(); before(major, minor, ma, mi) {
					problems = append(problems, fmt.Sprintf("%s: introduced in %d.%d, not served by %d.%d", id, ma, mi, major, minor))
				}
			}
			with := ""
			if r, ok := obj.(replaced); ok {
				rep := r.APILifecycleReplacement()
				with = fmt.Sprintf(": use %s %s", rep.GroupVersion(), rep.Kind)
			}
			if r, ok := obj.(removed); ok {
				if ma, mi := r.APILifecycleRemoved(); !before(major, minor, ma, mi) {
					problems = append(problems, fmt.Sprintf("%s: removed in %d.%d%s", id, ma, mi, with))
					continue
				}
			}
			if d, ok := obj.(deprecated); ok {
				if ma, mi := d.APILifecycleDeprecated(); !before(major, minor, ma, mi) {
					problems = append(problems, fmt.Sprintf("%s: deprecated since %d.%d%s", id, ma, mi, with))
				}
			}
		}
	}
	sort.Strings(notes)
	for _, n := range uniq(notes) {
		fmt.Println("  note:", n)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		for _, p := range uniq(problems) {
			fmt.Printf("  FAIL %d.%d: %s\n", major, minor, p)
		}
		os.Exit(1)
	}
	fmt.Printf("%d built-in objects served and not deprecated in Kubernetes %d.%d\n", checked, major, minor)
}

// before: version a.b is earlier than c.d
func before(a, b, c, d int) bool { return a < c || (a == c && b < d) }

func parseVersion(s string) (int, int, error) {
	s = strings.TrimPrefix(s, "v")
	p := strings.Split(s, ".")
	if len(p) < 2 {
		return 0, 0, fmt.Errorf("kube-version %q: want MAJOR.MINOR", s)
	}
	ma, err1 := strconv.Atoi(p[0])
	mi, err2 := strconv.Atoi(p[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("kube-version %q: want MAJOR.MINOR", s)
	}
	return ma, mi, nil
}

func uniq(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
