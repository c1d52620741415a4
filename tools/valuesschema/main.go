// Command valuesschema keeps the Kubernetes-typed parts of charts/spacefleet/values.schema.json honest.
//
// values.schema.json is written by hand, except its "definitions": wherever a value is passed through to a
// Kubernetes object (securityContext, probes, resources, affinity, tolerations, volumes, ...), the schema says
// {"$ref": "#/definitions/io.k8s.api.core.v1.Probe"}, and this tool fills "definitions" with exactly the
// referenced Kubernetes definitions and everything they reach, copied from the strict standalone schemas that
// tools/k8sschema generates from the Kubernetes OpenAPI document. So a typo or a wrong type inside
// podSecurityContext fails at `helm install`, as it would at the API server, instead of after it.
//
// Usage: valuesschema -k8s-schemas DIR -schema charts/spacefleet/values.schema.json [-check]
// With -check it writes nothing and exits 1 when the file is not what it would write.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const refPrefix = "#/definitions/"

// sources are the standalone kind schemas whose definitions cover every type values.yaml passes through.
var sources = []string{"pod-v1.json", "service-v1.json", "ingress-networking-v1.json", "deployment-apps-v1.json",
	"horizontalpodautoscaler-autoscaling-v2.json", "networkpolicy-networking-v1.json"}

func main() {
	k8s := flag.String("k8s-schemas", "", "a <version>-standalone-strict directory written by tools/k8sschema")
	path := flag.String("schema", "charts/spacefleet/values.schema.json", "the chart's values schema")
	check := flag.Bool("check", false, "only report whether the file is up to date")
	flag.Parse()
	if *k8s == "" {
		flag.Usage()
		os.Exit(2)
	}
	want, err := build(*k8s, *path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "valuesschema:", err)
		os.Exit(1)
	}
	have, _ := os.ReadFile(*path)
	if *check {
		if !bytes.Equal(have, want) {
			fmt.Fprintf(os.Stderr, "valuesschema: %s is out of date: run `make values-schema`\n", *path)
			os.Exit(1)
		}
		fmt.Printf("valuesschema: %s is up to date\n", *path)
		return
	}
	if err := os.WriteFile(*path, want, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "valuesschema:", err)
		os.Exit(1)
	}
	fmt.Printf("valuesschema: wrote %s\n", *path)
}

func build(k8sDir, path string) ([]byte, error) {
	available := map[string]any{}
	for _, s := range sources {
		var doc struct {
			Definitions map[string]any `json:"definitions"`
		}
		b, err := os.ReadFile(filepath.Join(k8sDir, s))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		for k, v := range doc.Definitions {
			available[k] = v
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	delete(schema, "definitions")

	defs := map[string]any{}
	var queue []string
	collectRefs(schema, &queue)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := defs[name]; done {
			continue
		}
		def, ok := available[name]
		if !ok {
			return nil, fmt.Errorf("%s refers to %s, which none of %s defines", path, name, strings.Join(sources, ", "))
		}
		defs[name] = def
		collectRefs(def, &queue)
	}
	if len(defs) > 0 {
		schema["definitions"] = defs
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(schema); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func collectRefs(node any, queue *[]string) {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := n[k].(string); ok && k == "$ref" && strings.HasPrefix(s, refPrefix) {
				*queue = append(*queue, strings.TrimPrefix(s, refPrefix))
				continue
			}
			collectRefs(n[k], queue)
		}
	case []any:
		for _, v := range n {
			collectRefs(v, queue)
		}
	}
}
