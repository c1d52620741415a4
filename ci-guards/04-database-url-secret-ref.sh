#!/usr/bin/env bash
# 04: DATABASE_URL reaches web, worker and migrate only as a secretKeyRef (never a literal `value:`), and all three
# read the same Secret and key — in every database mode.
source "$(dirname "$0")/lib.sh"

check_mode() { # LABEL ARGS...
  local label=$1; shift
  echo "  $label"
  local f; f=$(flat "$@") || { fail "$label: render failed"; return; }
  local job; job=$(migrate_job "$f")
  [ -n "$job" ] || { fail "$label: no migrate Job rendered"; return; }
  local names="" o c
  for oc in "$WEB:web" "$WORKER:worker" "$job:migrate"; do
    o=${oc%:*}; c=${oc##*:}
    local p; p="$(ctr "$o" "$c").env[DATABASE_URL]"
    check "$o DATABASE_URL has no literal value" ! has_exact "$f" "$o" "$p.value"
    local n k; n=$(value "$f" "$o" "$p.valueFrom.secretKeyRef.name"); k=$(value "$f" "$o" "$p.valueFrom.secretKeyRef.key")
    if [ -n "$n" ] && [ -n "$k" ]; then ok "$o DATABASE_URL from secretKeyRef $n/$k"; else fail "$o DATABASE_URL is not a secretKeyRef"; fi
    names="$names$n/$k"$'\n'
  done
  expect_eq "web, worker and migrate share one Secret/key" "$(sort -u <<<"${names%$'\n'}" | wc -l | tr -d ' ')" "1"
}

check_mode "positive: bundled PostgreSQL (defaults)"
check_mode "positive: externalDatabase.url" --set postgresql.enabled=false \
  --set externalDatabase.url='postgres://app:s3cret@db.example.com:5432/app?sslmode=verify-full'
check_mode "positive: externalDatabase.existingSecret" "${EXT_DB[@]}"

# Negative: the assertion itself must catch a literal value (guards the guard against a vacuous pass).
echo "  negative: a literal DATABASE_URL value is detected"
lit=$'Deployment/x\tspec.template.spec.containers[web].env[DATABASE_URL].value\tpostgres://u:p@h/d'
check "literal value: detected" has_exact "$lit" Deployment/x "spec.template.spec.containers[web].env[DATABASE_URL].value"
done_guard
