#!/usr/bin/env bash
# scripts/shellcheck.sh ROOT WAIVERS — shellcheck every shell script under ROOT (tracked files when ROOT is a git work
# tree, else every file): *.sh, .ci/run, and any file whose first line is a sh/bash shebang. Each file is checked with
# the rules ci/shellcheck-waivers.txt waives for it excluded; a waiver that no longer matches a finding is stale.
set -euo pipefail
# shellcheck source=scripts/lib/files.sh
source "$(dirname "$(readlink -f "$0")")/lib/files.sh"
root=${1:?usage: shellcheck.sh ROOT WAIVERS}; waivers=${2:?usage: shellcheck.sh ROOT WAIVERS}
cd "$root"
mapfile -t files < <(code_files '*.sh' .ci/run)
declare -A excl=()
while read -r path code reason; do
  [[ -z "$path" || "$path" == \#* ]] && continue
  [ -n "$reason" ] || { echo "shellcheck: waiver '$path $code' has no reason in $waivers" >&2; exit 1; }
  excl[$path]="${excl[$path]:+${excl[$path]},}$code"
done < "$waivers"
fail=0
for f in "${files[@]}"; do
  args=(-x -P SCRIPTDIR -f gcc)
  [ -n "${excl[$f]:-}" ] && args+=(-e "${excl[$f]}")
  if ! out=$(shellcheck "${args[@]}" "$f" 2>&1); then
    echo "$out"; fail=1
  fi
  if [ -n "${excl[$f]:-}" ]; then  # stale waiver: the rule no longer fires without it
    IFS=, read -r -a codes <<<"${excl[$f]}"
    for c in "${codes[@]}"; do
      if shellcheck -x -P SCRIPTDIR -f gcc -i "$c" "$f" >/dev/null 2>&1; then
        echo "$f: waiver for $c is stale (shellcheck finds no $c here): remove it from $waivers"; fail=1
      fi
    done
  fi
done
for path in "${!excl[@]}"; do
  [ -f "$path" ] || { echo "$waivers: $path does not exist"; fail=1; }
done
echo "shellcheck: ${#files[@]} scripts, $([ $fail = 0 ] && echo clean || echo FINDINGS)"
exit $fail
