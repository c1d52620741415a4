#!/usr/bin/env bash
# scripts/check-apt.sh ROOT — the `apt` gate: host packages are installed only through scripts/apt-install.sh.
# A bare `apt-get update` fails at once when another apt holds its lock ("Could not get lock
# /var/lib/apt/lists/lock"): on a fresh machine `make test` and the image builds beside it install at the same moment.
# apt-get inside a chroot (an image's root file system: its own apt state, its own locks) is fine; so is a message
# that tells a reader what to install.
# Reads: *.sh, *.mk, Makefile, .ci/run and every file with a sh/bash shebang (tracked files in a git work tree).
set -euo pipefail
# shellcheck source=scripts/lib/files.sh
source "$(dirname "$(readlink -f "$0")")/lib/files.sh"
root=${1:?usage: check-apt.sh ROOT}
cd "$root"
# its own helper is the one place apt-get runs on the host
mapfile -t files < <(code_files '*.sh' '*.mk' Makefile .ci/run | grep -vx scripts/apt-install.sh)
# apt-get/apt update or install as a command; not in a comment, a hint ("... (apt-get install x)") or a chroot
hits=$(grep -nE '(^|[;&|({@`[:space:]])(apt-get|apt)[[:space:]]+(-[^[:space:]]+[[:space:]]+)*(update|install)\b' "${files[@]}" /dev/null \
  | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#|\((apt-get|apt) install [^)]*\)|chroot' || true)
# a chroot's script is a quoted block after `chroot DIR sh -c "`: its lines hold no `chroot`; skip the lines of those blocks
if [ -n "$hits" ]; then
  hits=$(while IFS= read -r h; do
    f=${h%%:*}; rest=${h#*:}; n=${rest%%:*}
    # inside a chroot block when the nearest line above that opens a quoted block is a chroot line
    opener=$(head -n "$n" "$f" | grep -nE 'chroot .*"[[:space:]]*$|chroot .*<<' | tail -n 1 | cut -d: -f1 || true)
    closer=$(if [ -n "$opener" ]; then sed -n "$((opener + 1)),$((n - 1))p" "$f" | grep -cE '^[[:space:]]*"[[:space:]]*$|^[[:space:]]*[A-Z]+[[:space:]]*$' || true; fi)
    if [ -n "$opener" ] && [ "${closer:-0}" = 0 ]; then continue; fi
    printf '%s\n' "$h"
  done <<<"$hits")
fi
if [ -n "$hits" ]; then
  echo "apt: install host packages with scripts/apt-install.sh (one apt at a time; a bare apt-get fails at once while another apt runs):" >&2
  printf '%s\n' "$hits" | sed 's/^/  /' >&2
  exit 1
fi
echo "apt: every host package install goes through scripts/apt-install.sh (${#files[@]} files read)"
