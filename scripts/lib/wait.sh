# shellcheck shell=bash
# scripts/lib/wait.sh — sourced: the one way the scripts wait for a Kubernetes condition.
#
#   wait_condition KUBECTL TIMEOUT_S CONDITION GET-ARGS...
#
# Polls `KUBECTL get GET-ARGS... -o json` (KUBECTL: a command or function that runs kubectl against the right
# cluster) until every object it returns has .status.conditions[type=CONDITION].status == "True", and at least one
# object is returned. Anything not there yet keeps it waiting: the object missing (NotFound, an empty list), its
# status or conditions unset (a CRD just applied, a Certificate just created), the API server briefly unreachable.
# At the deadline it prints the last state it saw, per object, and returns 1. GET-ARGS are what `kubectl get` takes:
#   wait_condition kc 60 Established crd/certificates.cert-manager.io crd/issuers.cert-manager.io
#   wait_condition kc 120 Ready -n cert-manager certificate/spacefleet-ca
#   wait_condition kc 180 Ready -n kube-system pod            (every pod of the namespace)
#
# Why not `kubectl wait` on a condition: it fails at once ("status.conditions accessor error: <nil> is of the type
# <nil>") when the conditions are not set yet, which right after an apply is a few milliseconds, so it fails only
# under load. `make waits` refuses it anywhere in the repository.
# Needs jq (installed with the harness's host packages).

# wait_state CONDITION: reads `kubectl get -o json` on stdin; prints "ok" when done, else one line per object
wait_state() {
  jq -r --arg c "$1" '
    (if has("items") then .items else [.] end) as $objs
    | if ($objs | length) == 0 then "no object yet"
      else
        ($objs | map(
          (.kind + "/" + .metadata.name) as $n
          | ((.status.conditions // []) | map(select(.type == $c)) | first) as $cond
          | if $cond == null then {ok: false, line: ($n + ": no " + $c + " condition yet (status.conditions: " + ((.status.conditions // [] | map(.type + "=" + .status) | join(",")) | if . == "" then "unset" else . end) + ")")}
            elif $cond.status == "True" then {ok: true, line: ($n + ": " + $c + "=True")}
            else {ok: false, line: ($n + ": " + $c + "=" + $cond.status + " reason=" + ($cond.reason // "") + " message=" + ($cond.message // ""))}
            end)) as $states
        | if ($states | all(.ok)) then "ok" else ($states | map(.line) | join("\n")) end
      end'
}

wait_condition() {
  local kubectl=$1 timeout=$2 cond=$3; shift 3
  local deadline=$(( $(date +%s) + timeout )) out state
  while :; do
    if out=$("$kubectl" get "$@" -o json 2>&1); then
      state=$(printf '%s' "$out" | wait_state "$cond" 2>&1) || state="unreadable kubectl output: ${out:0:300}"
    else
      state="not there yet: ${out:0:300}"
    fi
    [ "$state" = ok ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "timed out after ${timeout}s waiting for $cond on: $*; last state:" >&2
      printf '%s\n' "$state" | sed 's/^/  /' >&2
      return 1
    fi
    sleep 2
  done
}
