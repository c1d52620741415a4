// Command misconf runs Trivy's misconfiguration engine (the one `trivy config` uses) with Trivy's embedded checks
// over a directory of rendered Kubernetes manifests, offline, and writes the findings as JSON in the shape of
// `trivy config --format json` (Results[].Target, MisconfSummary, Misconfigurations[] with ID, Title, Message,
// Severity, Status, CauseMetadata), which `chartgate trivy` reads.
//
// Why not the trivy CLI: it compiles ~2,800 non-standard packages (image, SBOM, vulnerability, cloud and registry
// scanners) where this needs ~530; a cold build of the CLI took 15-45 minutes on the CI machine. Nothing that
// downloads a checks bundle (pkg/policy) is linked in.
//
// Wired as `trivy config --skip-check-update` wires its Kubernetes scanner when no checks bundle was ever downloaded
// (pkg/commands/artifact initMisconfScannerOption, pkg/misconf): the embedded checks and libraries of the
// trivy-checks module that the pinned Trivy requires, the built-in rego namespaces, deprecated checks excluded,
// checks filtered by the Trivy version (read from this binary's build info: the version go.mod pins), the
// Kubernetes-version data document with an empty version (no --k8s-version), and one rego scanner shared by every
// file. Build with GOEXPERIMENT=jsonv2 (Trivy's parser needs encoding/json/v2).
//
//	misconf [-include-passes] [-o FILE] DIR
//	misconf -write-check-examples DIR   the good and bad Kubernetes examples embedded with the checks, one file
//	                                    each (a corpus for equivalence.sh: this scanner against the trivy CLI)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"testing/fstest"

	checks "github.com/aquasecurity/trivy-checks"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scan"
	k8sscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/kubernetes"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/options"
	"sigs.k8s.io/yaml"
)

const trivyModule = "github.com/aquasecurity/trivy"
const checksModule = "github.com/aquasecurity/trivy-checks"

// The subset of trivy's JSON report the gate reads (field names as trivy writes them).
type report struct {
	Engine  string   `json:"Engine"`
	Checks  string   `json:"Checks"`
	Results []result `json:"Results"`
}

type result struct {
	Target            string    `json:"Target"`
	Class             string    `json:"Class"`
	Type              string    `json:"Type"`
	MisconfSummary    summary   `json:"MisconfSummary"`
	Misconfigurations []finding `json:"Misconfigurations,omitempty"`
}

type summary struct {
	Successes int `json:"Successes"`
	Failures  int `json:"Failures"`
}

type finding struct {
	Type          string   `json:"Type"`
	ID            string   `json:"ID"`
	AVDID         string   `json:"AVDID,omitempty"`
	Title         string   `json:"Title"`
	Description   string   `json:"Description"`
	Message       string   `json:"Message"`
	Namespace     string   `json:"Namespace"`
	Query         string   `json:"Query"`
	Resolution    string   `json:"Resolution"`
	Severity      string   `json:"Severity"`
	References    []string `json:"References,omitempty"`
	Status        string   `json:"Status"`
	CauseMetadata cause    `json:"CauseMetadata"`
}

type cause struct {
	Resource  string `json:"Resource,omitempty"`
	Provider  string `json:"Provider"`
	Service   string `json:"Service"`
	StartLine int    `json:"StartLine,omitempty"`
	EndLine   int    `json:"EndLine,omitempty"`
}

func main() {
	includePasses := flag.Bool("include-passes", false, "list passed checks too (trivy's --include-non-failures)")
	out := flag.String("o", "", "write the JSON report here (default: stdout)")
	examples := flag.Bool("write-check-examples", false, "write the embedded checks' Kubernetes examples into DIR and exit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: misconf [-include-passes] [-o FILE] DIR | -write-check-examples DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	run := func() error { return scanDir(flag.Arg(0), *out, *includePasses) }
	if *examples {
		run = func() error { return writeExamples(flag.Arg(0)) }
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "misconf:", err)
		os.Exit(1)
	}
}

// moduleVersion is the version of a dependency this binary was built with (go.mod is the one pin).
func moduleVersion(mod string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mod {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return ""
}

func scanDir(dir, out string, includePasses bool) error {
	trivyVersion := moduleVersion(trivyModule)
	if trivyVersion == "" {
		return fmt.Errorf("no %s in this binary's build info", trivyModule)
	}
	if err := checkInputs(dir); err != nil {
		return err
	}

	// `trivy config` always adds this data document; without --k8s-version its version is empty.
	dataFS := fstest.MapFS{"system/k8s-version.json": {Data: []byte(`{"k8s": {"version": ""}}`)}}
	rs := rego.NewScanner(
		rego.WithEmbeddedPolicies(true),
		rego.WithEmbeddedLibraries(true),
		rego.WithIncludeDeprecatedChecks(false),
		rego.WithTrivyVersion(strings.TrimPrefix(trivyVersion, "v")),
		rego.WithMaxAllowedErrors(rego.DefaultAllowedRegoErrors),
		rego.WithDataDirs("."),
		rego.WithDataFilesystem(dataFS),
		rego.WithCustomSchemas(map[string][]byte{}),
		rego.WithPolicyNamespaces(rego.BuiltinNamespaces()...),
	)
	if err := rs.LoadPolicies(nil); err != nil {
		return fmt.Errorf("load the embedded checks: %w", err)
	}

	scanner := k8sscanner.NewScanner(rego.WithRegoScanner(rs), options.WithScanRawConfig(false))
	results, err := scanner.ScanFS(context.Background(), os.DirFS(dir), ".")
	if err != nil {
		return fmt.Errorf("scan %s: %w", dir, err)
	}

	rep := report{
		Engine: fmt.Sprintf("trivy %s misconfiguration engine (%s scanner)", trivyVersion, scanner.Name()),
		Checks: fmt.Sprintf("embedded checks of trivy-checks %s", moduleVersion(checksModule)),
	}
	byFile := map[string]*result{}
	seen := map[string]bool{}
	for _, r := range results {
		flat := r.Flatten()
		var status string
		switch flat.Status {
		case scan.StatusFailed:
			status = "FAIL"
		case scan.StatusPassed:
			status = "PASS"
		default:
			continue // ignored (inline ignore rules): trivy drops them too
		}
		f := finding{
			Type:        scanner.Name() + " Security Check",
			ID:          r.Rule().ID,
			AVDID:       r.Rule().AVDID,
			Title:       r.Rule().Summary,
			Description: r.Rule().Explanation,
			Message:     strings.TrimSpace(flat.Description),
			Namespace:   r.RegoNamespace(),
			Query:       fmt.Sprintf("data.%s.%s", r.RegoNamespace(), r.RegoRule()),
			Resolution:  flat.Resolution,
			Severity:    severity(string(flat.Severity), status),
			References:  flat.Links,
			Status:      status,
			CauseMetadata: cause{
				Resource:  flat.Resource,
				Provider:  flat.RuleProvider.DisplayName(),
				Service:   flat.RuleService,
				StartLine: flat.Location.StartLine,
				EndLine:   flat.Location.EndLine,
			},
		}
		if f.Message == "" {
			f.Message = "No issues found"
		}
		target := path.Clean(flat.Location.Filename)
		// trivy reports a check once per file, message and cause (its results repeat for shared rego rules).
		key := strings.Join([]string{target, status, f.ID, f.Namespace, f.Message, f.CauseMetadata.Resource,
			fmt.Sprint(f.CauseMetadata.StartLine, "-", f.CauseMetadata.EndLine)}, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		res := byFile[target]
		if res == nil {
			res = &result{Target: target, Class: "config", Type: "kubernetes"}
			byFile[target] = res
		}
		if status == "FAIL" {
			res.MisconfSummary.Failures++
		} else {
			res.MisconfSummary.Successes++
			if !includePasses {
				continue
			}
		}
		res.Misconfigurations = append(res.Misconfigurations, f)
	}
	for _, res := range byFile {
		sort.SliceStable(res.Misconfigurations, func(i, j int) bool {
			a, b := res.Misconfigurations[i], res.Misconfigurations[j]
			if a.Status != b.Status {
				return a.Status == "FAIL"
			}
			if a.ID != b.ID {
				return a.ID < b.ID
			}
			if a.CauseMetadata.StartLine != b.CauseMetadata.StartLine {
				return a.CauseMetadata.StartLine < b.CauseMetadata.StartLine
			}
			return a.Message < b.Message
		})
		rep.Results = append(rep.Results, *res)
	}
	sort.Slice(rep.Results, func(i, j int) bool { return rep.Results[i].Target < rep.Results[j].Target })

	var w io.Writer = os.Stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// severity as trivy's report normalises it: an unknown value counts as CRITICAL on a failure.
func severity(s, status string) string {
	switch s {
	case "UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL":
		return s
	}
	if status == "FAIL" {
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// checkInputs refuses a directory with anything but Kubernetes manifests: `trivy config` would skip such a file
// silently (its file-type detection), and a gate must not pass because its input was not what it thought.
func checkInputs(dir string) error {
	n := 0
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path.Join(dir, p))
		if err != nil {
			return err
		}
		for i, doc := range strings.Split("\n"+string(data), "\n---") {
			var m struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				return fmt.Errorf("%s: document %d: %w", p, i, err)
			}
			if m.APIVersion == "" && m.Kind == "" && isComment(doc) {
				continue
			}
			if m.APIVersion == "" || m.Kind == "" {
				return fmt.Errorf("%s: document %d is not a Kubernetes object (no apiVersion or kind)", p, i)
			}
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: no files to scan", dir)
	}
	return nil
}

// isComment: an empty document or one of comments only (helm template writes "# Source: ..." above every object).
func isComment(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// writeExamples writes every Kubernetes example (kubernetes.good / kubernetes.bad in a check's .yaml) of the
// embedded checks into dir, one manifest per file.
func writeExamples(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n := 0
	err := fs.WalkDir(checks.EmbeddedPolicyFileSystem, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		data, err := fs.ReadFile(checks.EmbeddedPolicyFileSystem, p)
		if err != nil {
			return err
		}
		var ex struct {
			Kubernetes struct {
				Good []string `json:"good"`
				Bad  []string `json:"bad"`
			} `json:"kubernetes"`
		}
		if yaml.Unmarshal(data, &ex) != nil {
			return nil // not an examples file
		}
		base := strings.ReplaceAll(strings.TrimSuffix(p, ".yaml"), "/", "_")
		for kind, docs := range map[string][]string{"good": ex.Kubernetes.Good, "bad": ex.Kubernetes.Bad} {
			for i, doc := range docs {
				name := path.Join(dir, fmt.Sprintf("%s-%s%d.yaml", base, kind, i))
				if err := os.WriteFile(name, []byte(doc+"\n"), 0o644); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no Kubernetes examples in the embedded checks")
	}
	fmt.Fprintf(os.Stderr, "misconf: wrote %d examples into %s\n", n, dir)
	return nil
}
