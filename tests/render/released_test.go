package render

// Upgrades that tell the truth: every values file the previous release shipped as an example still renders with
// this chart, and anything it must change is named in UPGRADING.md (a renamed key it uses: the deprecated-key
// warning's old key).

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// previousRelease is the last line of ci/chart-releases.txt: version and commit.
func previousRelease(t *testing.T) (string, string) {
	t.Helper()
	f, err := os.Open(filepath.Join(chart.Root(), "ci", "chart-releases.txt"))
	require.NoError(t, err)
	defer f.Close()
	var version, commit string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && !strings.HasPrefix(fields[0], "#") {
			version, commit = fields[0], fields[1]
		}
	}
	require.NotEmpty(t, version)
	return version, commit
}

// upgradingSection is the UPGRADING.md section of the chart's version ("## <prev> → <version>").
func upgradingSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chart.Dir(), "UPGRADING.md"))
	require.NoError(t, err)
	ch, err := os.ReadFile(filepath.Join(chart.Dir(), "Chart.yaml"))
	require.NoError(t, err)
	version := regexp.MustCompile(`(?m)^version: *(\S+)`).FindStringSubmatch(string(ch))[1]
	var out strings.Builder
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "## ") {
			if in {
				break
			}
			in = strings.HasSuffix(strings.TrimSpace(l), "→ "+version)
			continue
		}
		if in {
			out.WriteString(l + "\n")
		}
	}
	require.NotEmpty(t, out.String(), "UPGRADING.md has a section ending in → %s", version)
	return out.String()
}

func TestReleasedExamplesStillRender(t *testing.T) {
	version, commit := previousRelease(t)
	dir := filepath.Join("testdata", "released", version)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "testdata/released/%s holds the examples/values of release %s (git show %s:examples/values/<file>)", version, version, commit)
	upgrading := upgradingSection(t)

	// The copies are the release's files, byte for byte (when the history is at hand: a shallow clone skips this).
	if out, err := exec.Command("git", "-C", chart.Root(), "ls-tree", "--name-only", commit, "examples/values/").Output(); err == nil {
		var names []string
		for _, p := range strings.Fields(string(out)) {
			names = append(names, filepath.Base(p))
			want, err := exec.Command("git", "-C", chart.Root(), "show", commit+":"+p).Output()
			require.NoError(t, err)
			have, err := os.ReadFile(filepath.Join(dir, filepath.Base(p)))
			require.NoErrorf(t, err, "testdata copy of %s", p)
			assert.Equalf(t, string(want), string(have), "testdata/released/%s/%s differs from %s:%s", version, filepath.Base(p), commit, p)
		}
		assert.Len(t, files, len(names), "one copy per example of release %s (%v)", version, names)
	} else {
		t.Logf("git history not available (%v): the copies are taken as they are", err)
	}

	renamed := regexp.MustCompile(`WARNING \(deprecated-key\): (\S+) was renamed to (\S+) `)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := chart.Render(chart.Options{Files: []string{f}})
			if err != nil {
				// Refused: acceptable only when UPGRADING names the example and says what to change.
				assert.Containsf(t, upgrading, "`"+filepath.Base(f)+"`", "%s of release %s no longer renders (%v) and UPGRADING.md does not name it", filepath.Base(f), version, err)
				return
			}
			for _, m := range renamed.FindAllStringSubmatch(res.Notes, -1) {
				assert.Containsf(t, upgrading, "`"+m[1]+"`", "%s uses %s, renamed to %s: UPGRADING.md must name it", filepath.Base(f), m[1], m[2])
				t.Logf("%s: uses renamed %s (still works; UPGRADING names it)", filepath.Base(f), m[1])
			}
			up, err := chart.Render(chart.Options{Files: []string{f}, Upgrade: true})
			require.NoError(t, err, "renders as an upgrade too")
			assert.Equal(t, len(res.Objects), len(up.Objects))
		})
	}
}

// An unquoted integral tag, which 0.1.0 rendered as written, renders the same way (and a fraction is refused).
func TestUnquotedIntegralTagsStillRender(t *testing.T) {
	res, err := chart.Render(chart.Options{Values: map[string]any{
		"image": map[string]any{"tag": 2}, "postgresql": map[string]any{"image": map[string]any{"tag": 16}}}})
	require.NoError(t, err)
	assert.Equal(t, "spacefleet/spacefleet:2", container(t, res, "web").Image)
	assert.Equal(t, "postgres:16", namedContainer(t, postgresSTS(t, res).Spec.Template.Spec.Containers, "postgresql").Image)
	_, err = chart.Render(chart.Options{Values: map[string]any{"postgresql": map[string]any{"image": map[string]any{"tag": 16.10}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgresql.image.tag is the number 16.1")
}
