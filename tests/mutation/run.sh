#!/usr/bin/env bash
# A test must be able to fail: break each rule listed in mutations.txt in a throwaway copy of the chart and
# require the named render tests to go red. Prints one line per mutation; exits 1 if any stayed green.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# The alert-rule mutations are killed by promtool's rule tests, which skip without it: run through `make mutation`.
[ -x "${SPACEFLEET_PROMTOOL:-}" ] || { echo "mutation: SPACEFLEET_PROMTOOL must name the promtool binary (make mutation sets it)" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$root" && go test -c -o "$work/render.test" ./tests/render)
survivors=0; n=0
while IFS=$'\t' read -r file expr tests; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  n=$((n + 1))
  rm -rf "$work/chart"; cp -r "$root/charts/spacefleet" "$work/chart"
  sed -i "$expr" "$work/chart/$file"
  if cmp -s "$work/chart/$file" "$root/charts/spacefleet/$file"; then
    echo "NOT APPLIED  $file: $expr"; survivors=$((survivors + 1)); continue
  fi
  if (cd "$root/tests/render" && SPACEFLEET_CHART_DIR="$work/chart" "$work/render.test" -test.run "$tests" -test.short >"$work/out" 2>&1); then
    echo "SURVIVED     $file: $expr (tests $tests stayed green)"; survivors=$((survivors + 1))
  else
    echo "killed       $file: $expr -> $(grep -m1 -- '--- FAIL' "$work/out" | sed 's/ (.*//')"
  fi
done < "$root/tests/mutation/mutations.txt"
echo "mutation check: $n mutations, $((n - survivors)) killed, $survivors survived"
[ "$survivors" -eq 0 ]
