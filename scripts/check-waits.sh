#!/usr/bin/env bash
# scripts/check-waits.sh ROOT — the `waits` gate: no code under ROOT waits for a Kubernetes condition with a bare
# `kubectl wait` (condition or jsonpath). It fails at once while the object's status is unset (a CRD just applied, a
# Certificate just created: "status.conditions accessor error: <nil> is of the type <nil>"), which only shows under
# load. Wait through the one helper instead: wait_condition (scripts/lib/wait.sh) in shell, WaitCondition
# (tests/e2e/internal/wait.go) in Go; neither calls `kubectl wait`, so nothing is exempt. `kubectl wait` for
# deletion is fine (a missing object is what it waits for).
# Reads: *.go, *.sh, *.mk, Makefile, .ci/run and every file with a sh/bash shebang (tracked files in a git work tree).
set -euo pipefail
# shellcheck source=scripts/lib/files.sh
source "$(dirname "$(readlink -f "$0")")/lib/files.sh"
root=${1:?usage: check-waits.sh ROOT}
cd "$root"
mapfile -t files < <(code_files '*.go' '*.sh' '*.mk' Makefile .ci/run)
# the flag as one word with "=" or a space, or as two Go argv strings; a condition or a jsonpath
pattern='--for[=" ,]+(condition|jsonpath)'
hits=$(grep -nE -- "$pattern" "${files[@]}" /dev/null || true)
if [ -n "$hits" ]; then
  echo "waits: a bare kubectl wait on a condition fails at once while the status is unset; wait with wait_condition (scripts/lib/wait.sh) or harness.WaitCondition (tests/e2e/internal/wait.go) instead:" >&2
  printf '%s\n' "$hits" | sed 's/^/  /' >&2
  exit 1
fi
echo "waits: no bare kubectl wait on a condition in ${#files[@]} files"
