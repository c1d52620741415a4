//go:build e2e

package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Release is one install of charts/spacefleet in a namespace.
type Release struct {
	Name string
	NS   *NS
	Env  *Env
	// Helm4 runs the helm v4 binary (Env.Helm4) instead of the helm on PATH (v3).
	Helm4 bool
	// ChartRef is what install and upgrade install ("" = the working copy, Env.Chart), e.g. an oci:// reference,
	// with ChartArgs (--version, --verify, --keyring, ...). See FromOCI.
	ChartRef  string
	ChartArgs []string
	// Images replaces the image values (e.g. registry references by digest); nil = the kind-loaded images.
	Images map[string]string
	// Chart overrides Env.Chart (e.g. an umbrella chart with spacefleet as a dependency), and ValuesPrefix is where
	// this chart's values live in it ("spacefleet." for a dependency).
	Chart, ValuesPrefix string
}

func (r *Release) chart() string {
	if r.Chart != "" {
		return r.Chart
	}
	return r.Env.Chart
}

// NewRelease names a release (a name containing "spacefleet" is the resource prefix itself: spacefleet-web, ...).
func NewRelease(ns *NS, name string) *Release {
	return &Release{Name: name, NS: ns, Env: ns.Env}
}

// fullnameUntruncated is the chart's spacefleet.fullname.untruncated: the stem of every object name.
func (r *Release) fullnameUntruncated() string {
	if strings.Contains(r.Name, "spacefleet") {
		return r.Name
	}
	return r.Name + "-spacefleet"
}

// Fullname is the chart's spacefleet.fullname for this release (the ServiceAccount's name).
func (r *Release) Fullname() string { return objectName(r.fullnameUntruncated(), "", 63) }

// Object is the name the chart gives the object with this suffix ("web", "postgresql-hl", ...).
func (r *Release) Object(suffix string) string {
	max := 63
	if suffix == "postgresql" { // the StatefulSet and its Service: see the chart's spacefleet.postgresql.fullname
		max = 52
	}
	return objectName(r.fullnameUntruncated(), suffix, max)
}

var (
	dns1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	notDNS       = regexp.MustCompile(`[^-a-z0-9]`)
	leadNonAlpha = regexp.MustCompile(`^[^a-z]+`)
)

// objectName is the chart's naming rule (spacefleet.names.object in _helpers.tpl), kept here so the suites find
// objects by name for any release name; a drift between the two fails the long-name suite.
func objectName(base, suffix string, max int) string {
	want := base
	if suffix != "" {
		want = base + "-" + suffix
	}
	if len(want) <= max && dns1035Label.MatchString(want) {
		return want
	}
	sum := sha256.Sum256([]byte(want))
	hash := hex.EncodeToString(sum[:])[:8]
	room := max - len(hash) - 1
	if suffix != "" {
		room -= len(suffix) + 1
	}
	prefix := leadNonAlpha.ReplaceAllString(notDNS.ReplaceAllString(strings.ToLower(base), "-"), "")
	if len(prefix) > room {
		prefix = prefix[:room]
	}
	prefix = strings.TrimSuffix(prefix, "-")
	if prefix == "" {
		prefix = "sf"
	}
	parts := []string{prefix, hash}
	if suffix != "" {
		parts = append(parts, suffix)
	}
	return strings.Join(parts, "-")
}

// Values for the local images: nothing can be pulled, every image is loaded into kind.
func (r *Release) imageValues() map[string]string {
	if r.Images != nil {
		return r.Images
	}
	out := map[string]string{}
	for k, v := range map[string]string{
		"image.repository":            r.Env.AppImage.Repository,
		"image.tag":                   r.Env.AppImage.Tag,
		"image.pullPolicy":            "IfNotPresent",
		"postgresql.image.repository": r.Env.PGImage.Repository,
		"postgresql.image.tag":        r.Env.PGImage.Tag,
		"postgresql.image.pullPolicy": "IfNotPresent",
	} {
		out[r.ValuesPrefix+k] = v
	}
	return out
}

// valuesArgs are the values flags of an install or upgrade: the image values (--set-string, which helm applies
// over every file) and the values files in order.
func (r *Release) valuesArgs(files []string) []string {
	args := setStringArgs(r.imageValues())
	for _, f := range files {
		args = append(args, "-f", f)
	}
	return args
}

// Values files: examples by name (relative to examples/values) or absolute paths, plus overrides (written to
// a 0600 file: they may hold a URL with a password).
func (r *Release) files(t testing.TB, examples []string, overrides map[string]any) []string {
	var files []string
	for _, f := range examples {
		if !strings.HasPrefix(f, "/") {
			f = r.Env.Examples + "/" + f
		}
		files = append(files, f)
	}
	if overrides != nil {
		files = append(files, WriteValues(t, "values-"+RandHex(3)+".yaml", overrides))
	}
	return files
}

// Result of a helm command.
type Result struct {
	Output   string // redacted
	Err      error
	Duration time.Duration
}

// helmTimeout bounds every --wait. Installs take well under a minute on the kind cluster; a hook that can never
// start (e.g. its pod is refused) should fail the test in minutes, not stall the suite.
const helmTimeout = "5m"

// Install runs `helm install --wait` with examples/values files and overrides.
func (r *Release) Install(t testing.TB, examples []string, overrides map[string]any, extra ...string) Result {
	t.Helper()
	return r.run(t, "install", r.files(t, examples, overrides), extra)
}

// Upgrade runs `helm upgrade --wait` (values are not reused: pass the full set again).
func (r *Release) Upgrade(t testing.TB, examples []string, overrides map[string]any, extra ...string) Result {
	t.Helper()
	return r.run(t, "upgrade", r.files(t, examples, overrides), extra)
}

func (r *Release) run(t testing.TB, cmd string, files []string, extra []string) Result {
	t.Helper()
	args := append([]string{"--wait", "--timeout", helmTimeout}, extra...)
	chart := r.chart()
	if r.ChartRef != "" {
		chart = r.ChartRef
		args = append(args, r.ChartArgs...)
	}
	start := time.Now()
	var out string
	var err error
	if r.Helm4 {
		full := []string{cmd, r.Name, chart}
		full = append(full, r.commonArgs()...)
		full = append(full, r.valuesArgs(files)...)
		out, err = r.helm4(t, append(full, args...)...)
	} else {
		if _, statErr := os.Stat(chart); statErr == nil {
			chart, _ = filepath.Abs(chart)
		}
		full := append(append([]string{}, args...), r.valuesArgs(files)...)
		if cmd == "upgrade" {
			full = append(full, "--install")
		}
		out, err = r.NS.Kube.helm(t, cmd, append(full, r.Name, chart)...)
		if err != nil && strings.TrimSpace(out) == "" {
			out = err.Error()
		}
	}
	res := Result{Output: Redact(out), Err: err, Duration: time.Since(start)}
	if err != nil {
		Logf(t, "helm %s %s (%s) failed after %s:\n%s", cmd, r.Name, r.helmName(), res.Duration.Round(time.Second), res.Output)
		if ev, _ := r.NS.Kubectl(t, "get", "events", "--field-selector", "type=Warning", "--sort-by=.lastTimestamp"); ev != "" {
			Logf(t, "warning events in %s:\n%s", r.NS.Name, tail(ev, 15))
		}
	} else {
		t.Logf("helm %s %s (%s) succeeded in %s", cmd, r.Name, r.helmName(), res.Duration.Round(time.Second))
	}
	return res
}

func (r *Release) helmName() string {
	if r.Helm4 {
		return "helm v4"
	}
	return "helm v3"
}

func (r *Release) commonArgs() []string {
	a := []string{"--namespace", r.NS.Name, "--kubeconfig", r.Env.Kubeconfig}
	if r.Env.KubeContext != "" {
		a = append(a, "--kube-context", r.Env.KubeContext)
	}
	return a
}

func (r *Release) helm4(t testing.TB, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, r.Env.Helm4, args...).CombinedOutput()
	return string(b), err
}

// Test runs `helm test --logs` and returns its output (the dbcheck pod's JSON is in it).
func (r *Release) Test(t testing.TB) Result {
	t.Helper()
	res := r.command(t, "test", "--logs", "--timeout", "5m")
	Logf(t, "helm test %s (%s) in %s: err=%v\n%s", r.Name, r.helmName(), res.Duration.Round(time.Second), res.Err, res.Output)
	return res
}

// command runs `helm CMD RELEASE FLAGS...` for subcommands that take no chart or values (test, uninstall), with
// helm v3 or v4, timed and redacted.
func (r *Release) command(t testing.TB, cmd string, flags ...string) Result {
	t.Helper()
	start := time.Now()
	var out string
	var err error
	if r.Helm4 {
		out, err = r.helm4(t, append(append([]string{cmd, r.Name}, flags...), r.commonArgs()...)...)
	} else {
		out, err = r.NS.Kube.helm(t, cmd, append([]string{r.Name}, flags...)...)
	}
	return Result{Output: Redact(out), Err: err, Duration: time.Since(start)}
}

// Component names.
func (r *Release) Web() string     { return r.Object("web") }
func (r *Release) Worker() string  { return r.Object("worker") }
func (r *Release) Migrate() string { return r.Object("migrate") }

// Selector for a component's pods.
func (r *Release) Selector(component string) string { return ComponentSelector(r.Name, component) }
