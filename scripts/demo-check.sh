#!/usr/bin/env bash
# scripts/demo-check.sh — the README's first command, checked as a newcomer meets it (`make demo-check`, in .ci/run):
# `make demo` on a cluster of its own, then every command it printed, run as printed in a clean shell (PATH without
# the cache's bin dir: the printed lines must set it), each answer compared with the shape printed under it, the
# README's copy of the block compared with what was printed, then `make demo-delete`. A port-forward needs a moment:
# the first request is retried until it answers ("not there yet" keeps waiting), the others are sent once.
# env: DEMO_CHECK_CLUSTER (default spacefleet-demo-ci, so a developer's own demo cluster is never touched)
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
cluster=${DEMO_CHECK_CLUSTER:-spacefleet-demo-ci}
work=$(mktemp -d)
pf_pid=""
cleanup() {
  if [ -n "$pf_pid" ]; then kill "$pf_pid" 2>/dev/null || true; fi
  make --no-print-directory demo-delete KIND_DEMO_CLUSTER="$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "[demo-check $(date +%T)] $*" >&2; }

# a free loopback port for the port-forward (8080 may be taken on a developer's machine)
port=8080
while [ -n "$(ss -Htln "sport = :$port")" ]; do port=$((port + 1)); done

s=$(date +%s)
log "make demo KIND_DEMO_CLUSTER=$cluster DEMO_PORT=$port"
if ! make --no-print-directory demo KIND_DEMO_CLUSTER="$cluster" DEMO_PORT="$port" > "$work/demo.log" 2>&1; then
  tail -40 "$work/demo.log" >&2; log "FAIL: make demo failed"; exit 1
fi
log "make demo passed in $(( $(date +%s) - s ))s"
# the printed block: from "In a new shell:" to "Delete it with:" (the README shows the same block)
demo_block() { awk '/^The demo is up/ {p = 1; next} /^Delete it with:/ {p = 0} p' "$1"; }
demo_block "$work/demo.log" > "$work/printed"
grep -E '^  (export|kubectl|curl) ' "$work/printed" >/dev/null || { cat "$work/demo.log" >&2; log "FAIL: make demo printed no commands"; exit 1; }
sed 's/^/    /' "$work/printed" >&2

# The README shows the same block (root README, "make demo ends by printing ..."): what a newcomer reads must be
# what they get. Compared after mapping this run's cluster name, port and HOME to the README's defaults.
readme_diff=$(diff <(demo_block README.md) \
  <(sed -e "s|$cluster\.kubeconfig|spacefleet-demo.kubeconfig|g" -e "s|$port:|8080:|g" -e "s|127\.0\.0\.1:$port/|127.0.0.1:8080/|g" \
        -e "s|$HOME/|/root/|g" "$work/printed") || true)
if [ -n "$readme_diff" ]; then readme_ok=0; else readme_ok=1; fi

# shape "# {...N...}" -> an anchored extended regex: N a number, ... anything, the rest literal
shape_re() { printf '%s' "$1" | sed -e 's/[][\\.^$*+?(){}|/]/\\&/g' -e 's/\\\.\\\.\\\./.*/g' -e 's/N/[0-9]+/g' -e 's/^/^/' -e 's/$/$/'; }

# run the commands in one clean shell, in order; each curl's answer goes to its own file
script=$work/run.sh
{ echo 'set -u'; echo "cd \"$work\""; } > "$script"
n=0 fails=0 shapes=()
while IFS= read -r line; do
  case $line in
    "  export "*|"  kubectl "*)
      cmd=${line#  }
      if [[ $cmd == *"&" ]]; then echo "${cmd%&} > pf.log 2>&1 & echo \$! > pf.pid" >> "$script"; else echo "$cmd" >> "$script"; fi ;;
    "  curl "*)
      n=$((n + 1)); cmd=${line#  }
      if [ "$n" = 1 ]; then   # the port-forward's first answer: keep asking until it is there (60 s)
        printf "for i in \$(seq 60); do %s > answer.%d 2>/dev/null && [ -s answer.%d ] && break; sleep 1; done\n" "$cmd" "$n" "$n" >> "$script"
      else printf '%s > answer.%d\n' "$cmd" "$n" >> "$script"; fi ;;
    "      # "*) shapes[n]=${line#      # } ;;
  esac
done < "$work/printed"
env -i HOME="$HOME" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash "$script" > "$work/run.log" 2>&1 || true
[ -f "$work/pf.pid" ] && pf_pid=$(cat "$work/pf.pid")
for i in $(seq "$n"); do
  got=$(cat "$work/answer.$i" 2>/dev/null || true) want=${shapes[i]:-}
  if [ -z "$want" ]; then log "FAIL: command $i has no printed answer to compare with"; fails=$((fails + 1)); continue; fi
  if [[ $got =~ $(shape_re "$want") ]]; then log "ok   answer $i: $got"
  else log "FAIL answer $i: got '${got:0:300}', the demo said: $want"; fails=$((fails + 1)); fi
done
if [ "$readme_ok" = 0 ]; then
  log "FAIL: README.md's demo block is not what make demo printed (< README, > printed); update the README:"
  printf '%s\n' "$readme_diff" | sed 's/^/    /' >&2; fails=$((fails + 1))
else log "ok   README.md shows the block make demo printed"; fi
if [ "$fails" -gt 0 ]; then
  log "the shell's output:"; sed 's/^/    /' "$work/run.log" >&2; sed 's/^/    pf: /' "$work/pf.log" >&2 2>/dev/null || true
  exit 1
fi
kill "$pf_pid" 2>/dev/null || true; pf_pid=""
s=$(date +%s)
make --no-print-directory demo-delete KIND_DEMO_CLUSTER="$cluster" >/dev/null
if [ -n "$(docker ps -aq --filter "name=^$cluster-control-plane$")" ]; then log "FAIL: make demo-delete left the cluster's node"; exit 1; fi
log "make demo-delete passed in $(( $(date +%s) - s ))s; $n answers as the demo said"
