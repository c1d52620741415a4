package main

// The release gates: what an operator reads before installing or upgrading (Chart.yaml metadata, Artifact Hub
// annotations, CHANGELOG.md, UPGRADING.md) must describe the chart as it is, and a changed chart must carry a new
// version.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

type chartMeta struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	KubeVersion string            `json:"kubeVersion"`
	Home        string            `json:"home"`
	Icon        string            `json:"icon"`
	Sources     []string          `json:"sources"`
	Keywords    []string          `json:"keywords"`
	Maintainers []map[string]any  `json:"maintainers"`
	Annotations map[string]string `json:"annotations"`
}

func readChart(dir string) (chartMeta, error) {
	var c chartMeta
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s/Chart.yaml: %w", dir, err)
	}
	return c, nil
}

// podImages collects every container and initContainer image of the rendered objects (any object: Deployments,
// StatefulSets, Jobs, the `helm test` Pod), as "Kind/name" -> images.
func podImages(objs []object) map[string][]string {
	out := map[string][]string{}
	var walk func(id string, v any)
	walk = func(id string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
					if list, ok := c.([]any); ok {
						for _, e := range list {
							if m, ok := e.(map[string]any); ok {
								if img, ok := m["image"].(string); ok {
									out[img] = append(out[img], id)
								}
							}
						}
					}
					continue
				}
				walk(id, c)
			}
		case []any:
			for _, e := range t {
				walk(id, e)
			}
		}
	}
	for _, o := range objs {
		walk(o.id, o.body)
	}
	return out
}

var changeKinds = map[string]bool{"added": true, "changed": true, "deprecated": true, "removed": true, "fixed": true, "security": true}

// releaseCheck: chartgate release CHART_DIR RENDER.yaml LICENSE PACKAGE.tgz (the chart rendered with its default
// values, the repository's root LICENSE, the chart packaged by `helm package`).
func releaseCheck(dir, render, rootLicence, pkg string, w io.Writer) error {
	c, err := readChart(dir)
	if err != nil {
		return err
	}
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }

	if _, err := semver.StrictNewVersion(c.Version); err != nil {
		bad("Chart.yaml version %q is not a semantic version: %v", c.Version, err)
	}
	for k, v := range map[string]string{"home": c.Home, "icon": c.Icon, "kubeVersion": c.KubeVersion, "appVersion": c.AppVersion} {
		if strings.TrimSpace(v) == "" {
			bad("Chart.yaml has no %s", k)
		}
	}
	if len(c.Sources) == 0 {
		bad("Chart.yaml has no sources")
	}
	if len(c.Keywords) == 0 {
		bad("Chart.yaml has no keywords")
	}
	if len(c.Maintainers) == 0 {
		bad("Chart.yaml has no maintainers")
	}
	for _, k := range []string{"artifacthub.io/license", "artifacthub.io/links", "artifacthub.io/changes", "artifacthub.io/images"} {
		if strings.TrimSpace(c.Annotations[k]) == "" {
			bad("Chart.yaml has no %s annotation", k)
		}
	}
	for _, k := range []string{"artifacthub.io/containsSecurityUpdates", "artifacthub.io/prerelease"} {
		if v := c.Annotations[k]; v != "true" && v != "false" {
			bad("annotation %s is %q: Artifact Hub wants the string \"true\" or \"false\"", k, v)
		}
	}
	var links []struct{ Name, URL string }
	if err := yaml.UnmarshalStrict([]byte(c.Annotations["artifacthub.io/links"]), &links); err != nil {
		bad("annotation artifacthub.io/links: %v", err)
	}
	for i, l := range links {
		if l.Name == "" || !strings.HasPrefix(l.URL, "https://") {
			bad("annotation artifacthub.io/links[%d]: want a name and an https url", i)
		}
	}
	var changes []struct{ Kind, Description string }
	if err := yaml.UnmarshalStrict([]byte(c.Annotations["artifacthub.io/changes"]), &changes); err != nil {
		bad("annotation artifacthub.io/changes: %v", err)
	}
	for i, ch := range changes {
		if !changeKinds[ch.Kind] || strings.TrimSpace(ch.Description) == "" {
			bad("annotation artifacthub.io/changes[%d]: kind %q (want added|changed|deprecated|removed|fixed|security) and a description", i, ch.Kind)
		}
	}

	// artifacthub.io/images must be exactly the images the default render runs.
	var listed []struct{ Name, Image string }
	if err := yaml.UnmarshalStrict([]byte(c.Annotations["artifacthub.io/images"]), &listed); err != nil {
		bad("annotation artifacthub.io/images: %v", err)
	}
	data, err := os.ReadFile(render)
	if err != nil {
		return err
	}
	objs, err := parseManifests(data, render)
	if err != nil {
		return err
	}
	rendered := podImages(objs)
	if len(rendered) == 0 {
		bad("%s: the default render runs no container image", render)
	}
	inAnnotation := map[string]bool{}
	for i, l := range listed {
		if l.Name == "" || l.Image == "" {
			bad("annotation artifacthub.io/images[%d]: want a name and an image", i)
			continue
		}
		inAnnotation[l.Image] = true
		if rendered[l.Image] == nil {
			bad("annotation artifacthub.io/images lists %s (%s), which the chart does not render by default", l.Image, l.Name)
		}
	}
	var imgs []string
	for img := range rendered {
		imgs = append(imgs, img)
	}
	sort.Strings(imgs)
	for _, img := range imgs {
		if !inAnnotation[img] {
			bad("the chart renders %s (%s) but annotation artifacthub.io/images does not list it", img, strings.Join(uniq(rendered[img]), ", "))
		}
	}

	// CHANGELOG.md: a "## <version>" section; UPGRADING.md: a section whose heading names the version.
	if err := hasSection(filepath.Join(dir, "CHANGELOG.md"), `^## `+regexp.QuoteMeta(c.Version)+`(\s|$)`); err != nil {
		bad("%v: add a \"## %s\" section for this chart version", err, c.Version)
	}
	if err := hasSection(filepath.Join(dir, "UPGRADING.md"), `^## (.*→ *)?`+regexp.QuoteMeta(c.Version)+`(\s|$)`); err != nil {
		bad("%v: add a \"## <previous> → %s\" section (or say there is nothing to change)", err, c.Version)
	}

	licence, lp := licenceCheck(c, dir, rootLicence, pkg)
	problems = append(problems, lp...)

	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(w, "FAIL", p)
		}
		return fmt.Errorf("%d release metadata problem(s) in %s", len(problems), dir)
	}
	fmt.Fprintf(w, "release metadata: %s %s: %d images match the default render (%s); CHANGELOG.md and UPGRADING.md have a %s section; licence %s (root LICENSE = chart LICENSE = packaged %s/LICENSE)\n",
		c.Name, c.Version, len(imgs), strings.Join(imgs, ", "), c.Version, licence, c.Name)
	return nil
}

// The licence texts the gate recognises, by SPDX id: the title and version lines the text opens with, and the
// SHA-256 of the unmodified text (https://www.apache.org/licenses/LICENSE-2.0.txt, 11358 bytes; Debian's
// /usr/share/common-licenses/Apache-2.0 is the same bytes).
var knownLicences = []struct{ spdx, title, version, sha256 string }{
	{"Apache-2.0", "Apache License", "Version 2.0, January 2004", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},
}

// licenceCheck: the root LICENSE is a licence text the gate knows, unmodified; the chart's LICENSE and the one in
// the package are the same bytes (so `helm pull` users get it: a .helmignore entry would drop it); and the
// artifacthub.io/license annotation is that text's SPDX id. Returns the SPDX id and the problems found.
func licenceCheck(c chartMeta, dir, rootLicence, pkg string) (string, []string) {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	root, err := os.ReadFile(rootLicence)
	if err != nil {
		return "", []string{fmt.Sprintf("the repository's licence: %v", err)}
	}
	spdx := ""
	title, version := openingLines(root)
	for _, l := range knownLicences {
		if title != l.title || version != l.version {
			continue
		}
		spdx = l.spdx
		if sum := sha256.Sum256(root); hex.EncodeToString(sum[:]) != l.sha256 {
			bad("%s opens as the %s text but is not its unmodified text (sha256 %x, want %s): copy it again from the licence's own text", rootLicence, l.spdx, sum, l.sha256)
		}
	}
	if spdx == "" {
		var ids []string
		for _, l := range knownLicences {
			ids = append(ids, l.spdx)
		}
		bad("%s is not a licence text this gate knows (it opens with %q, %q; known: %s)", rootLicence, title, version, strings.Join(ids, ", "))
	}
	if a := strings.TrimSpace(c.Annotations["artifacthub.io/license"]); spdx != "" && a != spdx {
		bad("annotation artifacthub.io/license is %q but %s is the %s text: the annotation must name the licence the chart ships (%s)", a, rootLicence, spdx, spdx)
	}

	chartLicence := filepath.Join(dir, "LICENSE")
	inChart, err := os.ReadFile(chartLicence)
	switch {
	case err != nil:
		bad("the chart has no LICENSE (%v): copy %s to %s, so the package carries it", err, rootLicence, chartLicence)
	case !bytes.Equal(inChart, root):
		bad("%s differs from %s: the chart must ship the repository's licence, byte for byte (cp %s %s)", chartLicence, rootLicence, rootLicence, chartLicence)
	}

	want := c.Name + "/LICENSE"
	switch packaged, err := fileInTgz(pkg, want); {
	case err != nil:
		bad("%s: %v", pkg, err)
	case packaged == nil && inChart == nil:
		// said above: the chart has no LICENSE
	case packaged == nil:
		bad("the chart package %s has no %s: is LICENSE matched by %s/.helmignore?", pkg, want, dir)
	case !bytes.Equal(packaged, root):
		bad("%s in the chart package %s differs from %s", want, pkg, rootLicence)
	}
	return spdx, problems
}

// openingLines: the first two non-blank lines of a text, trimmed (a licence's title and version).
func openingLines(text []byte) (string, string) {
	var lines []string
	for _, l := range strings.Split(string(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
			if len(lines) == 2 {
				return lines[0], lines[1]
			}
		}
	}
	lines = append(lines, "", "")
	return lines[0], lines[1]
}

// fileInTgz returns the content of the regular file NAME in a gzipped tar (nil when it has none).
func fileInTgz(file, name string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg && path.Clean(h.Name) == name {
			return io.ReadAll(tr)
		}
	}
}

func hasSection(file, pattern string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(string(data), "\n") {
		if re.MatchString(strings.TrimRight(l, "\r")) {
			return nil
		}
	}
	return fmt.Errorf("%s has no section matching %s", file, pattern)
}

func uniq(s []string) []string {
	sort.Strings(s)
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// versionIncrement: chartgate version-increment RELEASED_DIR RELEASED_VERSION CHART_DIR. RELEASED_DIR is the chart
// as it was at the newest release's commit; when CHART_DIR differs from it in any file, CHART_DIR's version must be
// greater than RELEASED_VERSION (semver order, prereleases included).
func versionIncrement(releasedDir, releasedVersion, dir string, w io.Writer) error {
	rel, err := semver.StrictNewVersion(releasedVersion)
	if err != nil {
		return fmt.Errorf("released version %q: %w", releasedVersion, err)
	}
	c, err := readChart(dir)
	if err != nil {
		return err
	}
	cur, err := semver.StrictNewVersion(c.Version)
	if err != nil {
		return fmt.Errorf("%s/Chart.yaml version %q: %w", dir, c.Version, err)
	}
	changed, err := diffTrees(releasedDir, dir)
	if err != nil {
		return err
	}
	switch {
	case len(changed) == 0 && cur.Equal(rel):
		fmt.Fprintf(w, "version-increment: the chart is released %s, unchanged\n", rel)
		return nil
	case len(changed) == 0:
		return fmt.Errorf("the chart equals released %s but Chart.yaml says %s", rel, cur)
	case cur.GreaterThan(rel):
		fmt.Fprintf(w, "version-increment: %d file(s) changed since %s, version %s > %s\n", len(changed), rel, cur, rel)
		return nil
	}
	show := changed
	if len(show) > 8 {
		show = append(show[:8:8], fmt.Sprintf("... %d more", len(changed)-8))
	}
	return fmt.Errorf("%d file(s) under the chart changed since release %s (%s) but Chart.yaml version is %s: bump it above %s and add its CHANGELOG.md/UPGRADING.md sections",
		len(changed), rel, strings.Join(show, ", "), cur, rel)
}

// diffTrees lists the relative paths that differ between two directories (added, removed or changed content).
func diffTrees(a, b string) ([]string, error) {
	read := func(root string) (map[string][]byte, error) {
		m := map[string][]byte{}
		err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			data, err := os.ReadFile(p)
			m[rel] = data
			return err
		})
		return m, err
	}
	ma, err := read(a)
	if err != nil {
		return nil, err
	}
	mb, err := read(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for p, da := range ma {
		if db, ok := mb[p]; !ok || !bytes.Equal(da, db) {
			out = append(out, p)
		}
	}
	for p := range mb {
		if _, ok := ma[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}
