# shellcheck shell=bash
# ci-guards/lib.sh — shared helpers for the numbered chart coherence guards (sourced, not run).
# Each guard renders the chart with `helm template` and asserts on the rendered YAML, through `chartgate flatten`
# (tools/chartgate): one line per scalar, "Kind/name<TAB>path<TAB>value", list items indexed by their name, e.g.
#   Deployment/spacefleet-web  spec.template.spec.containers[web].env[DATABASE_URL].valueFrom.secretKeyRef.name  db
# CHART (default charts/spacefleet) lets the gates be proven red against a broken copy of the chart.
set -uo pipefail

export PATH="${CACHE:-$HOME/.cache/spacefleet}/bin:$PATH"
GUARDS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHART=${CHART:-$GUARDS_ROOT/charts/spacefleet}
HELM=${HELM:-helm}
RELEASE=spacefleet
NAMESPACE=spacefleet
GUARD_NAME=$(basename "$0" .sh)
GUARD_TMP=$(mktemp -d)
trap 'rm -rf "$GUARD_TMP"' EXIT
GUARD_FAILS=0

# An external database that needs nothing else, for cases that are not about the database.
EXT_DB=(--set postgresql.enabled=false --set externalDatabase.existingSecret=guard-db)

# render ARGS... : helm template to stdout; on failure print helm's error to stderr and return 1.
render() {
  "$HELM" template "$RELEASE" "$CHART" -n "$NAMESPACE" "$@" 2>"$GUARD_TMP/render.err" || {
    sed 's/^/    helm: /' "$GUARD_TMP/render.err" >&2
    return 1
  }
}

# flat ARGS... : render, flattened (see top).
flat() {
  render "$@" > "$GUARD_TMP/render.yaml" || return 1
  chartgate flatten "$GUARD_TMP/render.yaml"
}

# render_error ARGS... : expect the render to fail; print helm's error text on stdout (returns 1 if it succeeded).
render_error() {
  if "$HELM" template "$RELEASE" "$CHART" -n "$NAMESPACE" "$@" >/dev/null 2>"$GUARD_TMP/render.err"; then
    return 1
  fi
  cat "$GUARD_TMP/render.err"
}

# notes ARGS... : NOTES.txt as `helm install` would print it, rendered offline. `helm template` does not render
# NOTES and `helm install --dry-run` needs a cluster, so a scratch copy of the chart renders NOTES.txt through
# `tpl` into one extra document, and we print that document's text.
notes() {
  local copy="$GUARD_TMP/notes-chart"
  if [ ! -d "$copy" ]; then
    cp -r "$CHART" "$copy"
    cp "$copy/templates/NOTES.txt" "$copy/zz-guard-notes.txt"
    cat > "$copy/templates/zz-guard-notes.yaml" <<'TPL'
apiVersion: ci-guards.spacefleet.local/v1
kind: RenderedNotes
metadata:
  name: notes
notes: {{ tpl (.Files.Get "zz-guard-notes.txt") . | toJson }}
TPL
  fi
  "$HELM" template "$RELEASE" "$copy" -n "$NAMESPACE" --show-only templates/zz-guard-notes.yaml "$@" \
    2>"$GUARD_TMP/render.err" > "$GUARD_TMP/notes.yaml" || { sed 's/^/    helm: /' "$GUARD_TMP/render.err" >&2; return 1; }
  python3 -c 'import json,sys
for line in open(sys.argv[1]):
    if line.startswith("notes: "):
        sys.stdout.write(json.loads(line[len("notes: "):]))' "$GUARD_TMP/notes.yaml"
}

# value FLAT OBJECT PATH : the value at OBJECT (Kind/name) and PATH in flattened output (empty if absent).
value() { awk -F'\t' -v o="$2" -v p="$3" '$1==o && $2==p {print $3; exit}' <<<"$1"; }
# has FLAT OBJECT PATH-PREFIX : some line of OBJECT starts with PATH-PREFIX.
has() { awk -F'\t' -v o="$2" -v p="$3" '$1==o && index($2,p)==1 {f=1} END {exit !f}' <<<"$1"; }
# has_exact FLAT OBJECT PATH : OBJECT has a line at exactly PATH.
has_exact() { awk -F'\t' -v o="$2" -v p="$3" '$1==o && $2==p {f=1} END {exit !f}' <<<"$1"; }
# objects FLAT KIND : names of every object of KIND ("Kind/name").
objects() { awk -F'\t' -v k="$2/" 'index($1,k)==1 {print $1}' <<<"$1" | sort -u; }

# The three database clients, by their rendered names (release "spacefleet" → fullname "spacefleet").
WEB=Deployment/spacefleet-web
WORKER=Deployment/spacefleet-worker
# The migrate Job's name may carry a hash suffix (plain-Job mode); find it.
# (awk reads all its input: an early-exit reader such as grep -m1 can SIGPIPE the writer under pipefail)
migrate_job() { objects "$1" Job | awk '/-migrate/ && !f {print; f = 1}'; }
# container path prefix of an object's first pod container
ctr() {
  case "$1" in
    Deployment/*|Job/*|StatefulSet/*) echo "spec.template.spec.containers[$2]" ;;
    Pod/*) echo "spec.containers[$2]" ;;
  esac
}

ok()   { echo "    ok: $*"; }
fail() { echo "    FAIL: $*"; GUARD_FAILS=$((GUARD_FAILS + 1)); }
# check DESCRIPTION [!] COMMAND... : run the command; ok/fail by its status (negated after "!").
check() {
  local d=$1 neg=0 rc=0; shift
  if [ "$1" = "!" ]; then neg=1; shift; fi
  "$@" || rc=1
  if [ $((rc ^ neg)) -eq 0 ]; then ok "$d"; else fail "$d"; fi
}
# expect_eq DESCRIPTION GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok "$1 (= ${3:-<absent>})"; else fail "$1: got '${2:-<absent>}', want '${3:-<absent>}'"; fi; }

# secret_text FLAT : every Secret data value, base64-decoded, one per line (stringData as is).
secret_text() {
  awk -F'\t' 'index($1,"Secret/")==1 && index($2,"data.")==1 {print $3}' <<<"$1" | while read -r v; do printf '%s\n' "$v" | base64 -d 2>/dev/null; echo; done
  awk -F'\t' 'index($1,"Secret/")==1 && index($2,"stringData.")==1 {print $3}' <<<"$1"
}

done_guard() { [ "$GUARD_FAILS" -eq 0 ]; }
