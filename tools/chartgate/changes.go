package main

// The changelog gate: an upgrade must not bring a change the operator was not told about. Every values.yaml key
// added, removed or given another default since the newest release, and every object the default render adds or
// drops, must be named in the CHANGELOG.md section of the chart's version; in the UPGRADING.md section too when the
// operator must act or at least check: a removed or re-defaulted key, an added key whose default is not empty
// (it changes what the same values render, e.g. a new rollout strategy), a dropped default object.
//
// The convention, checkable by a machine and readable by an operator: names are written in backticks.
//   - a key by its dotted path: `web.updateStrategy`, `postgresql.persistence.existingClaim`;
//   - a whole value tree by its prefix and `.*`: `metrics.*` names metrics.enabled, metrics.serviceMonitor.labels, ...;
//   - a key with a dot also names everything below it: `web.updateStrategy` names web.updateStrategy.rollingUpdate.maxSurge;
//   - an object by kind and name, the release's prefix written <fullname>: `Service/<fullname>-web-metrics`.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// gateRelease is the release name the gate renders both charts as (mk/gates.mk GATES_RELEASE): its fullname is
// the release name, so every object name starts with it.
const gateRelease = "spacefleet"

// flattenValues maps every leaf of a values tree to its JSON text. A leaf is a scalar, null, a list or an empty
// map; a map with keys is walked.
func flattenValues(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for k, c := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenValues(p, c, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

func readValues(dir string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s/values.yaml: %w", dir, err)
	}
	out := map[string]string{}
	for k, c := range v {
		flattenValues(k, c, out)
	}
	return out, nil
}

// renderedObjects reads a render into "Kind/<fullname>-suffix" names.
func renderedObjects(render string) (map[string]bool, error) {
	data, err := os.ReadFile(render)
	if err != nil {
		return nil, err
	}
	objs, err := parseManifests(data, render)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, o := range objs {
		kind, name, _ := strings.Cut(o.id, "/")
		if name == gateRelease || strings.HasPrefix(name, gateRelease+"-") {
			name = "<fullname>" + strings.TrimPrefix(name, gateRelease)
		}
		out[kind+"/"+name] = true
	}
	return out, nil
}

// section returns the lines of the first "## " section whose heading matches re, up to the next "## ".
func section(file string, re *regexp.Regexp) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "## ") {
			if in {
				break
			}
			in = re.MatchString(strings.TrimRight(l, "\r"))
			continue
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	if !in && b.Len() == 0 {
		return "", fmt.Errorf("%s has no section matching %s", file, re)
	}
	return b.String(), nil
}

var (
	backtickSpan = regexp.MustCompile("`[^`\n]+`")
	nameToken    = regexp.MustCompile(`[A-Za-z0-9_.*<>/-]+`)
)

// names are every name-like token written inside backticks.
func names(text string) []string {
	var out []string
	for _, span := range backtickSpan.FindAllString(text, -1) {
		out = append(out, nameToken.FindAllString(strings.Trim(span, "`"), -1)...)
	}
	return out
}

// covers: is key (a values path or an object name) named by one of the tokens?
func covers(tokens []string, key string) bool {
	for _, t := range tokens {
		switch {
		case t == key:
			return true
		case strings.HasSuffix(t, ".*") && strings.HasPrefix(key, strings.TrimSuffix(t, "*")):
			return true
		case strings.Contains(t, ".") && !strings.Contains(t, "/") && strings.HasPrefix(key, t+"."):
			return true
		}
	}
	return false
}

type change struct {
	what, name, detail string
	upgrading          bool // must also be named in UPGRADING.md
}

// diffChart lists what changed between two charts' values.yaml and default renders.
func diffChart(prevValues, curValues map[string]string, prevObjs, curObjs map[string]bool) []change {
	var out []change
	isParent := func(vals map[string]string, k string) bool {
		for c := range vals {
			if strings.HasPrefix(c, k+".") {
				return true
			}
		}
		return false
	}
	for k, v := range curValues {
		pv, ok := prevValues[k]
		switch {
		case !ok:
			// a leaf under what was a leaf (an empty map that got keys) is the parent's new default
			parent := false
			for p := k; strings.Contains(p, "."); {
				p = p[:strings.LastIndex(p, ".")]
				if _, was := prevValues[p]; was {
					parent = true
				}
			}
			if !parent {
				// a new key with a default that is not empty renders something 0.1.0 did not (or will, once its
				// feature is on): the operator upgrading reads it in UPGRADING.md
				acts := v != `""` && v != "{}" && v != "[]" && v != "null" && v != "false"
				out = append(out, change{"added key", k, "default " + v, acts})
			}
		case pv != v:
			out = append(out, change{"re-defaulted key", k, pv + " → " + v, true})
		}
	}
	for k, pv := range prevValues {
		if _, ok := curValues[k]; ok {
			continue
		}
		if isParent(curValues, k) {
			out = append(out, change{"re-defaulted key", k, pv + " → a map with keys", true})
			continue
		}
		out = append(out, change{"removed key", k, "was " + pv, true})
	}
	for o := range curObjs {
		if !prevObjs[o] {
			out = append(out, change{"new default object", o, "", false})
		}
	}
	for o := range prevObjs {
		if !curObjs[o] {
			out = append(out, change{"dropped default object", o, "", true})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].what != out[j].what {
			return out[i].what < out[j].what
		}
		return out[i].name < out[j].name
	})
	return out
}

// changesCheck: chartgate changes PREV_CHART PREV_VERSION PREV_RENDER CHART RENDER [-list].
func changesCheck(prevDir, prevVersion, prevRender, dir, render string, list bool, w io.Writer) error {
	c, err := readChart(dir)
	if err != nil {
		return err
	}
	prevValues, err := readValues(prevDir)
	if err != nil {
		return err
	}
	curValues, err := readValues(dir)
	if err != nil {
		return err
	}
	prevObjs, err := renderedObjects(prevRender)
	if err != nil {
		return err
	}
	curObjs, err := renderedObjects(render)
	if err != nil {
		return err
	}
	changes := diffChart(prevValues, curValues, prevObjs, curObjs)
	if list {
		for _, ch := range changes {
			fmt.Fprintf(w, "%s\t%s\t%s\n", ch.what, ch.name, ch.detail)
		}
		return nil
	}
	v := regexp.QuoteMeta(c.Version)
	changelog, err := section(filepath.Join(dir, "CHANGELOG.md"), regexp.MustCompile(`^## `+v+`(\s|$)`))
	if err != nil {
		return err
	}
	upgrading, err := section(filepath.Join(dir, "UPGRADING.md"), regexp.MustCompile(`^## (.*→ *)?`+v+`(\s|$)`))
	if err != nil {
		return err
	}
	inChangelog, inUpgrading := names(changelog), names(upgrading)
	var problems []string
	counts := map[string]int{}
	for _, ch := range changes {
		counts[ch.what]++
		detail := ""
		if ch.detail != "" {
			detail = " (" + ch.detail + ")"
		}
		if !covers(inChangelog, ch.name) {
			problems = append(problems, fmt.Sprintf("%s `%s`%s since %s is not named in CHANGELOG.md ## %s", ch.what, ch.name, detail, prevVersion, c.Version))
		}
		if ch.upgrading && !covers(inUpgrading, ch.name) {
			problems = append(problems, fmt.Sprintf("%s `%s`%s since %s is not named in UPGRADING.md ## … → %s (an operator must check it before upgrading)", ch.what, ch.name, detail, prevVersion, c.Version))
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(w, "FAIL", p)
		}
		return fmt.Errorf("%d change(s) since %s not named where an operator reads them (write each name in backticks: a key, a `prefix.*` tree, an object as `Kind/<fullname>-suffix`)", len(problems), prevVersion)
	}
	var parts []string
	for _, k := range []string{"added key", "removed key", "re-defaulted key", "new default object", "dropped default object"} {
		parts = append(parts, fmt.Sprintf("%d %ss", counts[k], k))
	}
	fmt.Fprintf(w, "changelog: %s → %s: %s; every one named in CHANGELOG.md (and in UPGRADING.md: removed and re-defaulted keys, added keys with a default, dropped objects)\n",
		prevVersion, c.Version, strings.Join(parts, ", "))
	return nil
}
