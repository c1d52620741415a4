package main

// Findings of Trivy's misconfiguration checks (tools/misconf, or `trivy config --format json`: the same report shape)
// against the waiver file: the same rules as the kube-score gate (every waiver has a reason a reviewer would accept;
// a waiver that matches no finding fails, so waivers do not outlive their cause).

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// trivyReport is the part of `trivy config --format json` this gate reads (tools/misconf writes the same fields,
// plus Engine and Checks: what scanned).
type trivyReport struct {
	Engine  string `json:"Engine"`
	Checks  string `json:"Checks"`
	Results []struct {
		Target            string `json:"Target"`
		Misconfigurations []struct {
			ID            string `json:"ID"`
			AVDID         string `json:"AVDID"`
			Title         string `json:"Title"`
			Message       string `json:"Message"`
			Severity      string `json:"Severity"`
			Status        string `json:"Status"`
			CauseMetadata struct {
				StartLine int `json:"StartLine"`
			} `json:"CauseMetadata"`
		} `json:"Misconfigurations"`
	} `json:"Results"`
}

// docLines maps each line of a multi-document render to the "Kind/name" of the document it belongs to (trivy's
// JSON names a finding's file and line, not its object).
func docLines(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	ids := make([]string, len(lines)+2)
	start := 0
	flush := func(end int) {
		var m struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		_ = yaml.Unmarshal([]byte(strings.Join(lines[start:end], "\n")), &m)
		for i := start; i < end; i++ {
			ids[i+1] = m.Kind + "/" + m.Metadata.Name
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "---") {
			flush(i)
			start = i
		}
	}
	flush(len(lines))
	return ids, nil
}

// trivyCheck: chartgate trivy WAIVERS RENDER_DIR JSON... (the renders trivy scanned, and its JSON reports).
func trivyCheck(waiverFile string, args []string, w io.Writer) error {
	ws, err := loadWaivers(waiverFile)
	if err != nil {
		return err
	}
	renderDir, inputs := args[0], args[1:]
	renders, err := filepath.Glob(filepath.Join(renderDir, "*.yaml"))
	if err != nil {
		return err
	}
	unscanned := map[string]bool{}
	for _, r := range renders {
		unscanned[filepath.Base(r)] = true
	}
	failed, waived, targets := 0, 0, 0
	var report, engines []string
	for _, in := range inputs {
		data, err := readInput(in)
		if err != nil {
			return err
		}
		var r trivyReport
		if err := yaml.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: trivy JSON: %w", in, err)
		}
		if r.Engine != "" {
			engines = append(engines, r.Engine+", "+r.Checks)
		}
		for _, res := range r.Results {
			targets++
			delete(unscanned, res.Target)
			// one render per example: the target file names it
			label := strings.TrimSuffix(path.Base(res.Target), ".yaml")
			ids, err := docLines(filepath.Join(renderDir, res.Target))
			if err != nil {
				return err
			}
			for _, m := range res.Misconfigurations {
				if m.Status != "FAIL" {
					continue
				}
				obj := "?"
				if l := m.CauseMetadata.StartLine; l > 0 && l < len(ids) && ids[l] != "" {
					obj = ids[l]
				}
				var hit *waiver
				for _, wv := range ws {
					if ok, _ := path.Match(wv.object, obj); ok && (wv.check == m.ID || wv.check == m.AVDID) {
						hit = wv
						break
					}
				}
				if hit != nil {
					hit.used = true
					waived++
					report = append(report, fmt.Sprintf("%s: WAIVED   %-8s %s %s (%s)", label, m.Severity, obj, m.ID, m.Title))
					continue
				}
				failed++
				report = append(report, fmt.Sprintf("%s: FAIL     %-8s %s %s %s: %s", label, m.Severity, obj, m.ID, m.Title, m.Message))
			}
		}
	}
	sort.Strings(report)
	for _, l := range report {
		fmt.Fprintln(w, l)
	}
	if len(unscanned) > 0 || targets == 0 {
		var names []string
		for n := range unscanned {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("render(s) of %s missing from the report (not scanned): %v", renderDir, names)
	}
	what := "trivy config"
	if len(engines) > 0 {
		what = strings.Join(engines, "; ")
	}
	fmt.Fprintf(w, "%s: %d renders scanned, %d unwaived findings, %d waived\n", what, targets, failed, waived)
	if failed > 0 {
		return fmt.Errorf("%d unwaived trivy finding(s)", failed)
	}
	return staleWaivers(waiverFile, ws)
}
