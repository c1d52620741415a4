#!/usr/bin/env bash
# tools/misconf/equivalence.sh TRIVY MISCONF DIR... — run the trivy CLI (`trivy config`, embedded checks, offline) and
# tools/misconf over each DIR of Kubernetes manifests and require the same findings, passed checks included: same
# file, status, check ID, rego namespace, severity, title, message, lines and resource. For a Trivy version bump:
# build that trivy CLI once by hand (not part of make), render the examples (make trivy leaves them in
# .build/gates/trivy), write the checks' own examples (misconf -write-check-examples DIR), and run this on both.
# Needs jq.
set -euo pipefail
trivy=${1:?usage: equivalence.sh TRIVY MISCONF DIR...}; misconf=${2:?usage: equivalence.sh TRIVY MISCONF DIR...}
shift 2
[ $# -gt 0 ] || { echo "usage: equivalence.sh TRIVY MISCONF DIR..." >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
norm=".Results[] | .Target as \$t | (.Misconfigurations // [])[] | [\$t, .Status, .ID, .Namespace, .Severity, .Title,
  .Message, (.CauseMetadata.StartLine | tostring), (.CauseMetadata.EndLine | tostring), (.CauseMetadata.Resource // \"\")]
  | join(\" | \")"
fail=0
for dir in "$@"; do
  "$trivy" config --skip-check-update --skip-version-check --disable-telemetry --quiet --cache-dir "$work/cache" \
    --include-non-failures --format json --output "$work/cli.json" "$dir"
  "$misconf" -include-passes -o "$work/misconf.json" "$dir"
  jq -r "$norm" "$work/cli.json" | LC_ALL=C sort > "$work/cli.txt"
  jq -r "$norm" "$work/misconf.json" | LC_ALL=C sort > "$work/misconf.txt"
  files=$(jq '.Results | length' "$work/misconf.json")
  total=$(wc -l < "$work/cli.txt"); failed=$(awk -F' [|] ' '$2 == "FAIL"' "$work/cli.txt" | wc -l)
  ids=$(awk -F' [|] ' '$2 == "FAIL" {print $3}' "$work/cli.txt" | LC_ALL=C sort -u | wc -l)
  if diff -u "$work/cli.txt" "$work/misconf.txt" > "$work/diff"; then
    echo "same: $dir: $files files, $total results ($failed failures of $ids checks)"
  else
    echo "DIFFERENT: $dir (- trivy CLI, + misconf):"; cat "$work/diff"; fail=1
  fi
done
exit "$fail"
