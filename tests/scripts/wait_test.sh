#!/usr/bin/env bash
# tests/scripts/wait_test.sh — wait_condition (scripts/lib/wait.sh) keeps waiting through every "not there yet"
# state a just-created object passes through, returns at once when the condition is True, and at its deadline
# fails naming the last state it saw. A fake kubectl plays the states; no cluster needed. Run by `make test-scripts`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib/wait.sh
source "$root/scripts/lib/wait.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fails=0
check() { # name function: the function's status is the verdict
  if "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fails=$((fails + 1)); fi
}
calls() { cat "$work/calls"; }

# fake_kubectl answers `get ... -o json` with the next state of $work/states (one file per call), then the last one
states() { rm -f "$work"/state.*; local i=0 s; for s in "$@"; do printf '%s' "$s" > "$work/state.$i"; i=$((i + 1)); done; echo 0 > "$work/calls"; }
fake_kubectl() {
  local n; n=$(cat "$work/calls"); echo $((n + 1)) > "$work/calls"
  local f="$work/state.$n"; [ -f "$f" ] || f=$(find "$work" -name 'state.*' | LC_ALL=C sort -t. -k2 -n | tail -n 1)
  local out; out=$(cat "$f")
  case $out in NOTFOUND*) echo "Error from server (NotFound): ${out#NOTFOUND }" >&2; return 1 ;; esac
  printf '%s\n' "$out"
}
# no real sleeping in the test
sleep() { :; }

crd_none='{"kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"}}'
crd_names='{"kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"},"status":{"conditions":[{"type":"NamesAccepted","status":"True"}]}}'
crd_false='{"kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"},"status":{"conditions":[{"type":"Established","status":"False","reason":"Installing","message":"not yet"}]}}'
crd_ok='{"kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"},"status":{"conditions":[{"type":"Established","status":"True"}]}}'

waits_through_every_state() {
  states "NOTFOUND customresourcedefinitions \"x.example.com\" not found" "$crd_none" "$crd_names" "$crd_false" "$crd_ok"
  wait_condition fake_kubectl 30 Established crd/x.example.com 2>"$work/err" && [ "$(calls)" = 5 ]
}
check "missing, unset, other conditions, False, then True: waits and succeeds" waits_through_every_state

waits_for_every_item() {
  states '{"kind":"List","items":[]}' \
    '{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},{"kind":"Pod","metadata":{"name":"b"}}]}' \
    '{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},{"kind":"Pod","metadata":{"name":"b"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}'
  wait_condition fake_kubectl 30 Ready -n x pod 2>"$work/err" && [ "$(calls)" = 3 ]
}
check "a list: empty, then one of two Ready, then both: waits for all" waits_for_every_item

# the deadline: date is real, so a timeout of 0 ends after the first look
deadline_names_last_state() {
  states "$crd_none"
  ! wait_condition fake_kubectl 0 Established crd/x.example.com 2>"$work/err" &&
    grep -F "no Established condition yet (status.conditions: unset)" "$work/err" >/dev/null
}
check "deadline: fails and names the last state" deadline_names_last_state

deadline_shows_reason() {
  states "$crd_false"
  ! wait_condition fake_kubectl 0 Established crd/x.example.com 2>"$work/err" &&
    grep -F "Established=False reason=Installing message=not yet" "$work/err" >/dev/null
}
check "deadline on False: the reason and message are shown" deadline_shows_reason

deadline_while_missing() {
  states "NOTFOUND nothing here"
  ! wait_condition fake_kubectl 0 Established crd/x.example.com 2>"$work/err" &&
    grep -F "not there yet: Error from server (NotFound)" "$work/err" >/dev/null
}
check "deadline while missing: says it was not there yet" deadline_while_missing

already_true() {
  states "$crd_ok"
  wait_condition fake_kubectl 30 Established crd/x.example.com && [ "$(calls)" = 1 ]
}
check "already True: one look" already_true

echo "wait_test: $fails failed"
[ "$fails" -eq 0 ]
