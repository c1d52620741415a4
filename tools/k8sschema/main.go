// Command k8sschema turns the Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json, shipped inside the
// k8s.io/kubernetes Go module zip) into the JSON-schema layout kubeconform reads offline:
//
//	<out>/<version>-standalone-strict/<kind>-<group>-<apiversion>.json   (group omitted for the core group)
//
// Each file is standalone (every reachable definition is embedded under "definitions" with local $refs only, so
// recursive types such as JSONSchemaProps work) and strict:
//   - every object with declared properties gets additionalProperties: false (unknown fields fail);
//   - resource.Quantity accepts a string or a number (`cpu: 1`, `memory: 1Gi`);
//   - intstr.IntOrString accepts a string or an integer (`port: http`, `port: 8080`);
//   - an optional field, and any object, may be null (Helm renders `key: null`/`key:` for empty values; the API
//     server drops them);
//   - apiVersion and kind are pinned to the file's group/version and kind.
//
// Usage: k8sschema -swagger path/to/swagger.json -version v1.33.13 -out $(CACHE)/schemas
// or:    k8sschema -module-dir $(go mod download -json k8s.io/kubernetes@v1.33.13 | .Dir) ...
// Standard library only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	quantityDef    = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	intOrStringDef = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
	// k8s.io/apimachinery/pkg/api/resource: the regular expression ParseQuantity enforces
	quantityPattern = `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`
	refPrefix       = "#/definitions/"
)

type gvk struct{ Group, Version, Kind string }

func main() {
	swagger := flag.String("swagger", "", "path to swagger.json (OpenAPI v2)")
	moduleDir := flag.String("module-dir", "", "k8s.io/kubernetes module directory (uses api/openapi-spec/swagger.json)")
	version := flag.String("version", "", "Kubernetes version the spec belongs to, e.g. v1.33.13")
	out := flag.String("out", "", "output root; files go to <out>/<version>-standalone-strict/")
	flag.Parse()
	if *swagger == "" && *moduleDir != "" {
		*swagger = filepath.Join(*moduleDir, "api", "openapi-spec", "swagger.json")
	}
	if *swagger == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if !strings.HasPrefix(*version, "v") {
		*version = "v" + *version
	}
	n, err := generate(*swagger, *version, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
	fmt.Printf("k8sschema: %d schemas for %s in %s\n", n, *version, filepath.Join(*out, *version+"-standalone-strict"))
}

func generate(swaggerPath, version, outRoot string) (int, error) {
	raw, err := os.ReadFile(swaggerPath)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", swaggerPath, err)
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("%s: no definitions", swaggerPath)
	}
	defs := map[string]any{}
	for name, d := range doc.Definitions {
		defs[name] = strictify(name, d)
	}

	// Write into a temp dir and rename, so a half-written schema dir is never used.
	final := filepath.Join(outRoot, version+"-standalone-strict")
	if err := os.MkdirAll(outRoot, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(outRoot, ".tmp-"+version+"-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	written := map[string]string{}
	count := 0
	for _, name := range names {
		for _, k := range gvks(doc.Definitions[name]) {
			file := fileName(k)
			if prev, dup := written[file]; dup {
				// Two groups sharing a first label (kubeconform keys files by it) — keep the first, say so.
				fmt.Fprintf(os.Stderr, "k8sschema: %s: %s already written from %s, skipping %s\n", version, file, prev, name)
				continue
			}
			schema := standalone(name, defs)
			root := schema["properties"].(map[string]any)
			apiVersion := k.Version
			if k.Group != "" {
				apiVersion = k.Group + "/" + k.Version
			}
			if _, ok := root["apiVersion"]; ok {
				root["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
			}
			if _, ok := root["kind"]; ok {
				root["kind"] = map[string]any{"type": "string", "enum": []any{k.Kind}}
			}
			schema["$schema"] = "http://json-schema.org/draft-07/schema#"
			b, err := json.Marshal(schema)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			if err := os.WriteFile(filepath.Join(tmp, file), b, 0o644); err != nil {
				return 0, err
			}
			written[file] = name
			count++
		}
	}
	if count == 0 {
		return 0, fmt.Errorf("%s: no definition carries x-kubernetes-group-version-kind", swaggerPath)
	}
	if err := os.RemoveAll(final); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, err
	}
	return count, nil
}

// fileName follows kubeconform's schema path: lower(kind) + "-" + first label of the group + "-" + version.
func fileName(k gvk) string {
	s := strings.ToLower(k.Kind)
	if k.Group != "" {
		s += "-" + strings.ToLower(strings.Split(k.Group, ".")[0])
	}
	return s + "-" + strings.ToLower(k.Version) + ".json"
}

func gvks(def map[string]any) []gvk {
	list, _ := def["x-kubernetes-group-version-kind"].([]any)
	var out []gvk
	for _, item := range list {
		m, _ := item.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		if v != "" && k != "" {
			out = append(out, gvk{g, v, k})
		}
	}
	return out
}

// standalone returns a deep copy of the named definition with every definition it reaches embedded.
func standalone(name string, defs map[string]any) map[string]any {
	root := deepCopy(defs[name]).(map[string]any)
	reached := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
				target := strings.TrimPrefix(ref, refPrefix)
				if !reached[target] {
					reached[target] = true
					walk(defs[target])
				}
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(root)
	if len(reached) > 0 {
		embedded := map[string]any{}
		for target := range reached {
			embedded[target] = deepCopy(defs[target])
		}
		root["definitions"] = embedded
	}
	return root
}

// strictify rewrites one OpenAPI v2 definition into strict JSON schema (see the package comment).
func strictify(name string, def map[string]any) map[string]any {
	switch name {
	case quantityDef:
		// the API server's own quantity syntax, so `cpu: ""` or `memory: lots` fails here and not at apply time
		return map[string]any{"oneOf": []any{map[string]any{"type": "string", "pattern": quantityPattern}, map[string]any{"type": "number"}}}
	case intOrStringDef:
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer", "minimum": -2147483648, "maximum": 2147483647}}}
	}
	out := strictNode(def).(map[string]any)
	// An object-typed definition may be null wherever it is referenced (Helm renders `key:` / `key: null` for empty
	// values and the API server drops them). Done here, not by wrapping each $ref in anyOf, so that validation errors
	// point at the offending field instead of at every enclosing anyOf.
	if out["type"] == "object" {
		out["type"] = []any{"object", "null"}
	}
	return out
}

func strictNode(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range t {
			if strings.HasPrefix(k, "x-") || k == "description" {
				continue // vendor extensions and prose: not validation
			}
			if k == "format" && c == "int-or-string" {
				continue
			}
			switch k {
			case "properties":
				props := map[string]any{}
				for pk, pv := range c.(map[string]any) {
					props[pk] = strictNode(pv)
				}
				out[k] = props
			default:
				out[k] = strictNode(c)
			}
		}
		// JSON schema ignores "format"; the API server does not: an int32 field refuses 2147483648.
		if out["type"] == "integer" && out["format"] == "int32" {
			out["minimum"], out["maximum"] = -2147483648, 2147483647
		}
		if props, ok := out["properties"].(map[string]any); ok {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
			// Optional properties may be null.
			required := map[string]bool{}
			if req, ok := out["required"].([]any); ok {
				for _, r := range req {
					if s, ok := r.(string); ok {
						required[s] = true
					}
				}
			}
			for pk, pv := range props {
				if !required[pk] {
					props[pk] = nullable(pv)
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = strictNode(c)
		}
		return out
	default:
		return v
	}
}

// nullable lets a property schema also accept null.
func nullable(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if typ, ok := m["type"].(string); ok {
		m["type"] = []any{typ, "null"}
		return m
	}
	// A $ref: object definitions accept null themselves (see strictify); Quantity and IntOrString do not need to.
	return m
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[k] = deepCopy(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = deepCopy(c)
		}
		return out
	default:
		return v
	}
}
