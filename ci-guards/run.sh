#!/usr/bin/env bash
# ci-guards/run.sh — run every numbered guard; one PASS/FAIL line per guard (details of a failure follow it);
# exit non-zero when any guard fails. Needs helm (3) and chartgate on PATH (`make tools`); CHART overrides the chart.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
export PATH="${CACHE:-$HOME/.cache/spacefleet}/bin:$PATH"
HELM=${HELM:-helm}; export HELM
echo "guards: helm $("$HELM" version --template '{{ .Version }}'), chart ${CHART:-charts/spacefleet}"
failed=0; total=0
for g in "$dir"/[0-9][0-9]-*.sh; do
  name=$(basename "$g" .sh); total=$((total + 1))
  if out=$(bash "$g" 2>&1); then
    echo "PASS $name"
    [ -n "${GUARDS_VERBOSE:-}" ] && echo "$out"
  else
    echo "FAIL $name"; echo "$out" | sed 's/^/  /'; failed=$((failed + 1))
  fi
done
echo "guards: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
