// Command chartgate holds the small checks behind the chart gates (mk/gates.mk) and ci-guards/:
//
//	chartgate compare A.yaml B.yaml        parsed-object comparison of two renders (Helm 3 vs Helm 4); exit 1 naming
//	                                       every object and field that differs
//	chartgate flatten [FILE|-]...          one line per scalar leaf: Kind/name<TAB>path<TAB>value, lists of objects
//	                                       with a "name" indexed by it (containers[web].env[DATABASE_URL].value)
//	chartgate kube-score WAIVERS JSON...   reads `kube-score score -o json` outputs (one per render), drops waived
//	                                       findings, prints the rest; exit 1 on any unwaived CRITICAL, or on a waiver
//	                                       that matched no finding in any of the renders
//	chartgate release CHART RENDER.yaml LICENSE PACKAGE.tgz
//	                                       Chart.yaml metadata and Artifact Hub annotations complete, artifacthub.io/images
//	                                       = the images of the default render, CHANGELOG.md/UPGRADING.md sections; the
//	                                       root LICENSE a known licence text, unmodified, artifacthub.io/license its SPDX
//	                                       id, and the chart's LICENSE and the packaged one the same bytes
//	chartgate version-increment RELEASED_DIR RELEASED_VERSION CHART
//	                                       a chart that differs from its newest release must have a greater version
//	chartgate changes PREV_CHART PREV_VERSION PREV_RENDER CHART RENDER [-list]
//	                                       every values key added, removed or re-defaulted since the previous release
//	                                       and every new default object is named in CHANGELOG.md (removed and
//	                                       re-defaulted keys in UPGRADING.md too); -list prints the changes
//	chartgate trivy WAIVERS DIR JSON...    reads tools/misconf (or `trivy config -f json`) reports of the renders in DIR (each must be scanned), drops waived
//	                                       findings (object = the document holding the finding's line); exit 1 on any
//	                                       unwaived finding or a waiver that matched none
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "compare":
		if len(os.Args) != 4 {
			usage()
		}
		err = compare(os.Args[2], os.Args[3], os.Stdout)
	case "flatten":
		err = flattenCmd(os.Args[2:], os.Stdout)
	case "kube-score":
		if len(os.Args) < 3 {
			usage()
		}
		err = kubeScore(os.Args[2], os.Args[3:], os.Stdout)
	case "release":
		if len(os.Args) != 6 {
			usage()
		}
		err = releaseCheck(os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Stdout)
	case "version-increment":
		if len(os.Args) != 5 {
			usage()
		}
		err = versionIncrement(os.Args[2], os.Args[3], os.Args[4], os.Stdout)
	case "changes":
		if len(os.Args) != 7 && !(len(os.Args) == 8 && os.Args[7] == "-list") {
			usage()
		}
		err = changesCheck(os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6], len(os.Args) == 8, os.Stdout)
	case "trivy":
		if len(os.Args) < 5 {
			usage()
		}
		err = trivyCheck(os.Args[2], os.Args[3:], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartgate:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: chartgate compare A.yaml B.yaml | flatten [FILE|-]... | kube-score WAIVERS JSON... | release CHART RENDER.yaml LICENSE PACKAGE.tgz | version-increment RELEASED_DIR RELEASED_VERSION CHART | changes PREV_CHART PREV_VERSION PREV_RENDER CHART RENDER [-list] | trivy WAIVERS RENDER_DIR JSON...")
	os.Exit(2)
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// object is one rendered manifest.
type object struct {
	key  string // apiVersion Kind namespace/name
	id   string // Kind/name, for messages
	body map[string]any
}

// parseManifests splits a multi-document YAML stream and decodes each non-empty document.
func parseManifests(data []byte, source string) ([]object, error) {
	var out []object
	for i, doc := range splitDocs(data) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var m map[string]any
		if err := yaml.UnmarshalStrict(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		if m == nil {
			continue
		}
		kind, _ := m["kind"].(string)
		apiVersion, _ := m["apiVersion"].(string)
		meta, _ := m["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		ns, _ := meta["namespace"].(string)
		out = append(out, object{
			key:  fmt.Sprintf("%s %s %s/%s", apiVersion, kind, ns, name),
			id:   kind + "/" + name,
			body: m,
		})
	}
	return out, nil
}

func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	var cur []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimRight(line, " \t\r") == "---" || strings.HasPrefix(line, "--- ") {
			docs = append(docs, []byte(strings.Join(cur, "\n")))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, []byte(strings.Join(cur, "\n")))
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// ---- compare ----

func compare(a, b string, w io.Writer) error {
	da, err := readInput(a)
	if err != nil {
		return err
	}
	db, err := readInput(b)
	if err != nil {
		return err
	}
	oa, err := parseManifests(da, a)
	if err != nil {
		return err
	}
	ob, err := parseManifests(db, b)
	if err != nil {
		return err
	}
	ma, err := index(oa, a)
	if err != nil {
		return err
	}
	mb, err := index(ob, b)
	if err != nil {
		return err
	}
	var diffs []string
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, inA := ma[k]
		y, inB := mb[k]
		switch {
		case !inA:
			diffs = append(diffs, fmt.Sprintf("%s (%s): only in %s", y.id, k, b))
		case !inB:
			diffs = append(diffs, fmt.Sprintf("%s (%s): only in %s", x.id, k, a))
		default:
			for _, d := range diffValue("", x.body, y.body) {
				diffs = append(diffs, fmt.Sprintf("%s: %s", x.id, d))
			}
		}
	}
	if len(diffs) > 0 {
		for _, d := range diffs {
			fmt.Fprintln(w, "DIFF", d)
		}
		return fmt.Errorf("%d difference(s) between %s and %s", len(diffs), a, b)
	}
	fmt.Fprintf(w, "same: %d objects\n", len(ma))
	return nil
}

func index(objs []object, source string) (map[string]object, error) {
	m := map[string]object{}
	for _, o := range objs {
		if _, dup := m[o.key]; dup {
			return nil, fmt.Errorf("%s: %s rendered twice", source, o.id)
		}
		m[o.key] = o
	}
	return m, nil
}

func diffValue(p string, x, y any) []string {
	if reflect.DeepEqual(x, y) {
		return nil
	}
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range xv {
			keys[k] = true
		}
		for k := range yv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			a, inX := xv[k]
			b, inY := yv[k]
			sub := joinPath(p, k)
			switch {
			case !inX:
				out = append(out, fmt.Sprintf("%s: absent vs %s", sub, short(b)))
			case !inY:
				out = append(out, fmt.Sprintf("%s: %s vs absent", sub, short(a)))
			default:
				out = append(out, diffValue(sub, a, b)...)
			}
		}
		return out
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			break
		}
		var out []string
		for i := range xv {
			out = append(out, diffValue(fmt.Sprintf("%s[%s]", p, elemKey(xv[i], i)), xv[i], yv[i])...)
		}
		return out
	}
	if p == "" {
		p = "."
	}
	return []string{fmt.Sprintf("%s: %s vs %s", p, short(x), short(y))}
}

func short(v any) string {
	b, _ := yaml.Marshal(v)
	s := strings.TrimSpace(string(b))
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// elemKey names a list element by its "name" (containers, env, volumes, ports) or its index.
func elemKey(v any, i int) string {
	if m, ok := v.(map[string]any); ok {
		if n, ok := m["name"].(string); ok && n != "" {
			return n
		}
	}
	return fmt.Sprint(i)
}

// ---- flatten ----

func flattenCmd(args []string, w io.Writer) error {
	if len(args) == 0 {
		args = []string{"-"}
	}
	for _, a := range args {
		data, err := readInput(a)
		if err != nil {
			return err
		}
		objs, err := parseManifests(data, a)
		if err != nil {
			return err
		}
		for _, o := range objs {
			var lines []string
			flatten("", o.body, func(p, v string) { lines = append(lines, o.id+"\t"+p+"\t"+v) })
			for _, l := range lines {
				fmt.Fprintln(w, l)
			}
		}
	}
	return nil
}

func flatten(p string, v any, emit func(p, v string)) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			emit(p, "{}")
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(joinPath(p, k), t[k], emit)
		}
	case []any:
		if len(t) == 0 {
			emit(p, "[]")
		}
		for i, c := range t {
			flatten(fmt.Sprintf("%s[%s]", p, elemKey(c, i)), c, emit)
		}
	case nil:
		emit(p, "null")
	case string:
		emit(p, strings.ReplaceAll(t, "\n", `\n`))
	default:
		emit(p, fmt.Sprint(t))
	}
}

// ---- kube-score ----

// A waiver line: CHECK-ID  KIND/NAME-GLOB  reason…   ('#' starts a comment line). The glob uses path.Match syntax
// on "Kind/name" (e.g. Deployment/*-web). Every waiver must say why; a waiver that matches no finding fails the gate,
// so stale waivers do not pile up.
type waiver struct {
	check, object, reason string
	line                  int
	used                  bool
}

func loadWaivers(file string) ([]*waiver, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var ws []*waiver
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s:%d: want CHECK-ID KIND/NAME-GLOB REASON", file, i+1)
		}
		ws = append(ws, &waiver{check: f[0], object: f[1], reason: strings.Join(f[2:], " "), line: i + 1})
	}
	return ws, nil
}

type scoredObject struct {
	ObjectName string `json:"object_name"`
	TypeMeta   struct {
		Kind string `json:"kind"`
	} `json:"type_meta"`
	ObjectMeta struct {
		Name string `json:"name"`
	} `json:"object_meta"`
	Checks []struct {
		Check struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"check"`
		Grade    int  `json:"grade"`
		Skipped  bool `json:"skipped"`
		Comments []struct {
			Path        string `json:"path"`
			Summary     string `json:"summary"`
			Description string `json:"description"`
		} `json:"comments"`
	} `json:"checks"`
}

// kube-score grades: 1 CRITICAL, 5 WARNING, 7 ALMOST_OK, 10 ALL_OK.
func gradeName(g int) string {
	switch {
	case g <= 1:
		return "CRITICAL"
	case g <= 5:
		return "WARNING"
	case g <= 7:
		return "ALMOST_OK"
	default:
		return "OK"
	}
}

func kubeScore(waiverFile string, inputs []string, w io.Writer) error {
	ws, err := loadWaivers(waiverFile)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	critical, warnings, waived, total := 0, 0, 0, 0
	var report []string
	for _, in := range inputs {
		data, err := readInput(in)
		if err != nil {
			return err
		}
		var objs []scoredObject
		if err := yaml.Unmarshal(data, &objs); err != nil {
			return fmt.Errorf("%s: kube-score JSON: %w", in, err)
		}
		total += len(objs)
		label := strings.TrimSuffix(path.Base(in), ".json")
		var lines []string
		for _, o := range objs {
			id := o.TypeMeta.Kind + "/" + o.ObjectMeta.Name
			for _, c := range o.Checks {
				if c.Skipped || c.Grade > 5 {
					continue
				}
				var hit *waiver
				for _, wv := range ws {
					if ok, _ := path.Match(wv.object, id); ok && wv.check == c.Check.ID {
						hit = wv
						break
					}
				}
				var msgs []string
				for _, cm := range c.Comments {
					s := cm.Summary
					if cm.Path != "" {
						s = "(" + cm.Path + ") " + s
					}
					msgs = append(msgs, s)
				}
				if hit != nil {
					hit.used = true
					waived++
					lines = append(lines, fmt.Sprintf("%s: WAIVED   %s %s (%s)", label, id, c.Check.ID, gradeName(c.Grade)))
					continue
				}
				if c.Grade <= 1 {
					critical++
				} else {
					warnings++
				}
				lines = append(lines, fmt.Sprintf("%s: %-8s %s %s: %s", label, gradeName(c.Grade), id, c.Check.ID, strings.Join(msgs, "; ")))
			}
		}
		sort.Strings(lines)
		report = append(report, lines...)
	}
	for _, l := range report {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "kube-score: %d renders, %d objects, %d critical, %d warning, %d waived\n", len(inputs), total, critical, warnings, waived)
	if critical > 0 {
		return fmt.Errorf("%d unwaived CRITICAL finding(s)", critical)
	}
	return staleWaivers(waiverFile, ws)
}

// staleWaivers: a waiver that matched no finding is an error, so waivers go when the chart stops needing them.
func staleWaivers(waiverFile string, ws []*waiver) error {
	var stale []string
	for _, wv := range ws {
		if !wv.used {
			stale = append(stale, fmt.Sprintf("%s:%d %s %s", waiverFile, wv.line, wv.check, wv.object))
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("waiver(s) matching no finding (remove them): %s", strings.Join(stale, "; "))
	}
	return nil
}
