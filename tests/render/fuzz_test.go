package render

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"sigs.k8s.io/yaml"
)

// Values fuzzing. Whatever an operator types, a render either refuses it with a schema or _validate.tpl
// message, or produces manifests that decode strictly (and, when SPACEFLEET_KUBECONFORM names the binary
// and its schema dir, pass kubeconform). Never a panic, never Go template internals in the message.

// goInternals are signs that a template error leaked instead of a message written for operators.
var goInternals = regexp.MustCompile(`runtime error|invalid memory address|nil pointer|goroutine |reflect:|wrong type for value|can't evaluate field|interface \{\}|map\[string\]interface|<no value>|%!`)

type outcome int

const (
	rendered outcome = iota
	refused
)

// check renders vals and reports what happened, or an error describing a property violation.
func check(vals map[string]any) (outcome outcome, manifests string, violation error) {
	defer func() {
		if r := recover(); r != nil {
			violation = fmt.Errorf("panic: %v", r)
		}
	}()
	res, err := chart.RenderValues(vals, false)
	if err != nil {
		msg := err.Error()
		if goInternals.MatchString(msg) {
			return 0, "", fmt.Errorf("error leaks Go internals: %s", msg)
		}
		if !strings.Contains(msg, "values don't meet the specifications of the schema") && !strings.Contains(msg, "spacefleet: ") {
			return 0, "", fmt.Errorf("not a schema or validation message: %s", msg)
		}
		return refused, "", nil
	}
	if strings.Contains(res.Notes, "<no value>") || strings.Contains(res.Notes, "%!") {
		return 0, "", fmt.Errorf("NOTES carry a template artefact:\n%s", res.Notes)
	}
	// The app's contract (docs/app-contract.md): every env var the chart sets parses the way the app parses it.
	for comp, w := range res.Workloads() {
		for _, c := range w.Pod.Containers {
			if len(c.Args) == 1 {
				if err := appContract(c); err != nil {
					return 0, "", fmt.Errorf("%s: the app would refuse the env the chart gives it: %v", comp, err)
				}
			}
		}
	}
	var b strings.Builder
	for _, o := range res.Objects {
		y, _ := yaml.Marshal(o.Raw)
		b.WriteString("---\n")
		b.Write(y)
	}
	return rendered, b.String(), nil
}

// leafPaths lists every leaf key path of the chart's default values (where mutations land).
func leafPaths(t testing.TB) [][]string {
	b, err := os.ReadFile(filepath.Join(chart.Dir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(b, &vals); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		for k, v := range m {
			p := append(append([]string{}, prefix...), k)
			out = append(out, p)
			if sub, ok := v.(map[string]any); ok {
				walk(p, sub)
			}
		}
	}
	walk(nil, vals)
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], ".") < strings.Join(out[j], ".") })
	return out
}

// nasty values of every type an operator (or a YAML accident) can produce.
var nasty = []any{
	"", " ", "x", "ClientIP", "memory", "postgres", "verify-full", "None", "true", "0", "-1", "1e9",
	"postgres://u:p@db/sf", "postgres://u:p@ss@db/sf", "postgresql://ü:密码@db:5432/sf?sslmode=verify-full",
	"postgres://u:%zz@db/sf", "postgres://@/", "postgres://u:p@db/sf?sslmode=verify-full&sslrootcert=/etc/ssl/x/ca.pem",
	"postgres://u:p@db/sf?sslrootcert=relative/ca.pem", "mysql://u:p@db/sf", "postgres://u:p@[::1]:5432/sf?sslmode=require",
	"p@ss/w:rd#?%", "'; DROP ROLE x; --", "\"quoted\"", "line\nbreak", "tab\tchar", "{{ .Values }}", "${HOME}", "🚀",
	"/etc/ssl/rds", "rds-ca", "16.6", "13", "18.0", "latest", "a" + strings.Repeat("b", 300),
	0, 1, 3, -1, 65536, 1 << 31, 1e12, 1.5, true, false, nil,
	[]any{}, []any{"x"}, []any{map[string]any{}}, []any{map[string]any{"name": "ca", "mountPath": "/etc/ssl/rds"}},
	[]any{map[string]any{"name": "ca", "configMap": map[string]any{"name": "ca"}}},
	map[string]any{}, map[string]any{"x": "y"}, map[string]any{"clientIP": map[string]any{"timeoutSeconds": 60}},
	map[string]any{"name": "issuer", "kind": "ClusterIssuer"},
}

func getPath(m map[string]any, path []string) any {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// sameKind picks a nasty value of the same JSON kind as cur (any kind when cur is unknown).
func sameKind(r *rand.Rand, cur any) any {
	var pool []any
	for _, v := range nasty {
		switch cur.(type) {
		case string:
			if _, ok := v.(string); ok {
				pool = append(pool, v)
			}
		case bool:
			if _, ok := v.(bool); ok {
				pool = append(pool, v)
			}
		case float64, int, int64:
			switch v.(type) {
			case int, float64:
				pool = append(pool, v)
			}
		case []any:
			if _, ok := v.([]any); ok {
				pool = append(pool, v)
			}
		case map[string]any:
			if _, ok := v.(map[string]any); ok {
				pool = append(pool, v)
			}
		}
	}
	if len(pool) == 0 {
		return nasty[r.IntN(len(nasty))]
	}
	return pool[r.IntN(len(pool))]
}

func setPath(m map[string]any, path []string, v any, del bool) {
	for _, k := range path[:len(path)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	if del {
		delete(m, path[len(path)-1])
		return
	}
	m[path[len(path)-1]] = v
}

// mutate builds one case: an example file's values with n random mutations.
func mutate(t testing.TB, r *rand.Rand, paths [][]string, examples []map[string]any, n int) map[string]any {
	base := deepCopy(examples[r.IntN(len(examples))])
	for range n {
		p := paths[r.IntN(len(paths))]
		if r.IntN(8) == 0 && len(p) > 0 { // sometimes a misspelt sibling key
			q := append([]string{}, p...)
			q[len(q)-1] += "x"
			p = q
		}
		v := nasty[r.IntN(len(nasty))]
		if r.IntN(2) == 0 { // half the time, a value of the type the key already has: reaches deeper rules
			v = sameKind(r, getPath(base, p))
		}
		setPath(base, p, deepCopyAny(v), r.IntN(10) == 0)
	}
	return base
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := yaml.Marshal(m)
	var out map[string]any
	_ = yaml.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func deepCopyAny(v any) any {
	if v == nil {
		return nil
	}
	return deepCopy(map[string]any{"v": v})["v"]
}

func loadExamples(t testing.TB) []map[string]any {
	var out []map[string]any
	out = append(out, map[string]any{})
	for _, f := range chart.ExampleFiles() {
		v, err := chart.ValuesFrom(chart.Options{Files: []string{f}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestValuesProperty runs a fixed-seed batch of mutated values in every `make test`.
func TestValuesProperty(t *testing.T) {
	cases := 400
	if testing.Short() {
		cases = 60
	}
	r := rand.New(rand.NewPCG(20261122, 7))
	paths, examples := leafPaths(t), loadExamples(t)
	var counts [2]int
	var docs []string
	for i := range cases {
		vals := mutate(t, r, paths, examples, 1+r.IntN(2))
		out, manifests, violation := check(vals)
		if violation != nil {
			y, _ := yaml.Marshal(vals)
			t.Fatalf("case %d violates the values property: %v\nvalues:\n%s", i, violation, redactForLog(string(y)))
		}
		counts[out]++
		if out == rendered {
			docs = append(docs, manifests)
		}
	}
	t.Logf("values property: %d cases, %d rendered (strictly decoded), %d refused with a message, 0 crashes, 0 invalid", cases, counts[rendered], counts[refused])
	kubeconform(t, docs)
}

// kubeconform validates the rendered cases offline when the Makefile provides the binary and schemas.
func kubeconform(t *testing.T, docs []string) {
	bin, schemas := os.Getenv("SPACEFLEET_KUBECONFORM"), os.Getenv("SPACEFLEET_KUBECONFORM_SCHEMAS")
	if bin == "" && schemas == "" {
		t.Log("kubeconform not configured (SPACEFLEET_KUBECONFORM, SPACEFLEET_KUBECONFORM_SCHEMAS): strict decode only")
		return
	}
	if bin == "" || schemas == "" { // half-configured is a harness bug, not a reason to validate less
		t.Fatalf("SPACEFLEET_KUBECONFORM=%q but SPACEFLEET_KUBECONFORM_SCHEMAS=%q: set both (make test-render does) or neither", bin, schemas)
	}
	dir := t.TempDir()
	for i, d := range docs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("case-%03d.yaml", i)), []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-strict", "-summary", "-schema-location", schemas,
		"-kubernetes-version", strings.TrimPrefix(chart.KubeVersion, "v"), "-skip", "Certificate,HTTPRoute,ServiceMonitor,PrometheusRule", dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubeconform rejected a rendered case: %v\n%s", err, out)
	}
	t.Logf("kubeconform: %s", strings.TrimSpace(string(out)))
}

// redactForLog hides anything that looks like a URL password before a failing case is printed.
func redactForLog(s string) string {
	return regexp.MustCompile(`(postgres(ql)?://[^:@/\s]*:)[^@\s]*@`).ReplaceAllString(s, "${1}REDACTED@")
}

// FuzzValues is the coverage-guided version: go test -fuzz=FuzzValues ./tests/render
func FuzzValues(f *testing.F) {
	paths, examples := leafPaths(f), loadExamples(f)
	for _, seed := range []uint64{1, 2, 3, 42, 20261122} {
		f.Add(seed, uint8(2))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(n)))
		vals := mutate(t, r, paths, examples, 1+int(n%6))
		if _, _, violation := check(vals); violation != nil {
			y, _ := yaml.Marshal(vals)
			t.Fatalf("%v\nvalues:\n%s", violation, redactForLog(string(y)))
		}
	})
}

// The render tests (and kubeconform in the property test) use the Kubernetes version the root Makefile pins as the
// newest: `make schemas` generates schemas only for the pinned floor and newest, so a stale constant validated only
// against schemas an older cache happened to keep, and failed on a fresh machine.
func TestRendersForThePinnedKubernetes(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(chart.Root(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^K8S_VERSION\s*:?=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the root Makefile pins no K8S_VERSION")
	}
	if pinned := string(m[1]); pinned != chart.KubeVersion {
		t.Errorf("render tests use Kubernetes %s but the Makefile pins K8S_VERSION %s: set chart.KubeVersion "+
			"(tests/internal/chart/chart.go) to %s", chart.KubeVersion, pinned, pinned)
	}
}
