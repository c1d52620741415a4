package main

// `trivy config` findings against the waiver file: the same rules as the kube-score gate (every waiver has a reason
// a reviewer would accept; a waiver that matches no finding fails, so waivers do not outlive their cause).

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// trivyReport is the part of `trivy config --format json` this gate reads.
type trivyReport struct {
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
				Resource string `json:"Resource"`
			} `json:"CauseMetadata"`
		} `json:"Misconfigurations"`
	} `json:"Results"`
}

func trivyCheck(waiverFile string, inputs []string, w io.Writer) error {
	ws, err := loadWaivers(waiverFile)
	if err != nil {
		return err
	}
	failed, waived, targets := 0, 0, 0
	var report []string
	for _, in := range inputs {
		data, err := readInput(in)
		if err != nil {
			return err
		}
		var r trivyReport
		if err := yaml.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: trivy JSON: %w", in, err)
		}
		for _, res := range r.Results {
			targets++
			// one render per example: the target file names it
			label := strings.TrimSuffix(path.Base(res.Target), ".yaml")
			for _, m := range res.Misconfigurations {
				if m.Status != "FAIL" {
					continue
				}
				// trivy names the object "Kind/name" in CauseMetadata.Resource for Kubernetes manifests
				obj := m.CauseMetadata.Resource
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
					report = append(report, fmt.Sprintf("%s: WAIVED   %s %s %s (%s)", label, obj, m.ID, m.Severity, m.Title))
					continue
				}
				failed++
				report = append(report, fmt.Sprintf("%s: %-8s %s %s: %s", label, m.Severity, obj, m.ID, m.Message))
			}
		}
	}
	sort.Strings(report)
	for _, l := range report {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "trivy config: %d renders scanned, %d unwaived findings, %d waived\n", targets, failed, waived)
	var stale []string
	for _, wv := range ws {
		if !wv.used {
			stale = append(stale, fmt.Sprintf("%s:%d %s %s", waiverFile, wv.line, wv.check, wv.object))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d unwaived trivy finding(s)", failed)
	}
	if len(stale) > 0 {
		return fmt.Errorf("waiver(s) matching no finding (remove them): %s", strings.Join(stale, "; "))
	}
	return nil
}
