#!/usr/bin/env bash
# 13: by parts (externalDatabase.host/port/database/username/password or existingSecretKeys.*), web, worker,
# migrate and the `helm test` pod get the same connection: no DATABASE_URL, the same PGHOST, PGPORT, PGDATABASE,
# PGUSER and PGSSLMODE (literal or the same secretKeyRef), and PGPASSWORD only as a secretKeyRef whose data is
# the same for all (a hooked migrate Job reads the hook-scoped copy, which must hold the same password).
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"

# what OBJECT's container C gets for VAR: "value:X", "ref:secret/key" (or "data:<b64>" when the chart renders that
# Secret), or "" when absent.
source_of() { # FLAT OBJECT CONTAINER VAR
  local p; p="$(ctr "$2" "$3").env[$4]"
  if has_exact "$1" "$2" "$p.value"; then echo "value:$(value "$1" "$2" "$p.value")"; return; fi
  local n k; n=$(value "$1" "$2" "$p.valueFrom.secretKeyRef.name"); k=$(value "$1" "$2" "$p.valueFrom.secretKeyRef.key")
  [ -n "$n" ] || return 0
  if has_exact "$1" "Secret/$n" "data.$k"; then echo "data:$(value "$1" "Secret/$n" "data.$k")"; else echo "ref:$n/$k"; fi
}

check_parts() { # LABEL FLAT
  local label=$1 f=$2
  echo "  $label"
  local job; job=$(migrate_job "$f")
  [ -n "$job" ] || { fail "$label: no migrate Job rendered"; return; }
  local clients=("$WEB:web" "$WORKER:worker" "$job:migrate" "Pod/spacefleet-dbcheck:dbcheck")
  local oc o c v
  for oc in "${clients[@]}"; do
    o=${oc%:*}; c=${oc##*:}
    check "$o has no DATABASE_URL" ! has "$f" "$o" "$(ctr "$o" "$c").env[DATABASE_URL]"
    check "$o PGPASSWORD is not a literal value" ! has_exact "$f" "$o" "$(ctr "$o" "$c").env[PGPASSWORD].value"
  done
  for v in PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSSLMODE; do
    local seen=""
    for oc in "${clients[@]}"; do
      o=${oc%:*}; c=${oc##*:}
      seen="${seen}$(source_of "$f" "$o" "$c" "$v")"$'\n'
    done
    local distinct; distinct=$(sort -u <<<"${seen%$'\n'}")
    if [ -z "$distinct" ]; then fail "$v: no client has it"; continue; fi
    expect_eq "$v: one source for all four clients" "$(wc -l <<<"$distinct" | tr -d ' ')" "1"
  done
}

PARTS=(--set postgresql.enabled=false --set externalDatabase.host=spacefleet-pg-rw --set externalDatabase.database=app
       --set externalDatabase.username=app)
f=$(flat "${PARTS[@]}" --set externalDatabase.existingSecret=spacefleet-pg-app \
  --set externalDatabase.existingSecretKeys.password=password) || { fail "render failed"; done_guard; exit; }
check_parts "positive: host, database, username literal; password from CloudNativePG's <cluster>-app Secret" "$f"
f=$(flat "${PARTS[@]}" --set-string externalDatabase.password='Gu4rd p@ss:w/rd#?%+é') || { fail "render failed"; done_guard; exit; }
check_parts "positive: literal password (the chart's Secret, and the hooked migrate Job's copy)" "$f"
check "the migrate Job reads the hook-scoped copy (the case is not vacuous)" \
  test "$(value "$f" "$(migrate_job "$f")" "$(ctr Job/x migrate).env[PGPASSWORD].valueFrom.secretKeyRef.name")" = spacefleet-migrate-database

echo "  negative: a client with another PGHOST is detected"
bad=$(sed 's|^\(Deployment/spacefleet-worker\t[^\t]*env\[PGHOST\]\.value\t\).*|\1elsewhere|' <<<"$f")
check "worker's PGHOST differs from web's: detected" ! test "$(source_of "$bad" "$WEB" web PGHOST)" = "$(source_of "$bad" "$WORKER" worker PGHOST)"
echo "  negative: a migrate copy holding another password is detected"
job=$(migrate_job "$f")
bad=$(sed "s|^\(Secret/spacefleet-migrate-database\tdata.password\t\).*|\1$(printf 'other' | base64)|" <<<"$f")
check "the copy differs from the app's Secret: detected" ! test "$(source_of "$bad" "$WEB" web PGPASSWORD)" = "$(source_of "$bad" "$job" migrate PGPASSWORD)"
echo "  negative: a literal PGPASSWORD value is detected"
lit=$'Deployment/x\tspec.template.spec.containers[web].env[PGPASSWORD].value\tpw'
check "literal PGPASSWORD: detected" has_exact "$lit" Deployment/x "spec.template.spec.containers[web].env[PGPASSWORD].value"
done_guard
