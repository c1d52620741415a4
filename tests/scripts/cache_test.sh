#!/usr/bin/env bash
# tests/scripts/cache_test.sh — the shared cache (~/.cache/spacefleet) is safe when two runs build into it at once:
# two `make tools-repo` started together into one fresh cache both succeed, exactly one of them builds (the other
# waits on the tool's lock and finds the result), no temporary file is left behind, and the binaries run.
# (Before the lock, two clones building misconf at once failed with "mv: cannot stat '.../misconf.tmp'".)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=$(mktemp -d); trap 'rm -rf "$cache"' EXIT
cd "$root"
make --no-print-directory tools-repo CACHE="$cache" > "$cache/a.log" 2>&1 & a=$!
make --no-print-directory tools-repo CACHE="$cache" > "$cache/b.log" 2>&1 & b=$!
fails=0
wait "$a" || { echo "FAIL  run A: exit $?"; sed 's/^/  /' "$cache/a.log"; fails=$((fails + 1)); }
wait "$b" || { echo "FAIL  run B: exit $?"; sed 's/^/  /' "$cache/b.log"; fails=$((fails + 1)); }
built=$(cat "$cache/a.log" "$cache/b.log" | grep -c '^>> building tools/k8sschema and tools/chartgate$' || true)
meanwhile=$(cat "$cache/a.log" "$cache/b.log" | grep -c 'built meanwhile by another run' || true)
if [ "$built" = 1 ] && [ "$meanwhile" = 1 ]; then echo "ok    two runs at once: one built, the other found it (lock held)"
else echo "FAIL  two runs at once: $built builds, $meanwhile found it built (want 1 and 1)"; cat "$cache/a.log" "$cache/b.log"; fails=$((fails + 1)); fi
left=$(find "$cache/bin" -name '.*' | wc -l)
if [ "$left" = 0 ]; then echo "ok    no temporary file left in the bin dir"; else echo "FAIL  $left temporary files left: $(find "$cache/bin" -name '.*')"; fails=$((fails + 1)); fi
usage=$("$cache/bin/chartgate" 2>&1 || true)
if [[ "$usage" == usage:* ]] && [ -x "$cache/bin/k8sschema" ]; then echo "ok    the binaries are whole and run"
else echo "FAIL  chartgate does not run"; fails=$((fails + 1)); fi
echo "cache_test: $fails failed"
[ "$fails" -eq 0 ]
