#!/usr/bin/env bash
# 04: DATABASE_URL reaches web, worker and migrate only as a secretKeyRef (never a literal `value:`), and all three
# read the same connection string in every database mode: one Secret and key, except that a hooked migrate Job
# with an inline URL reads the hook-scoped copy (guard 11), whose DATABASE_URL must then be identical.
# shellcheck source=ci-guards/lib.sh
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
    # what the client reads: the rendered Secret's data, or the name/key of a Secret the chart does not render
    if has_exact "$f" "Secret/$n" "data.$k"; then names="${names}data:$(value "$f" "Secret/$n" "data.$k")"$'\n'
    else names="${names}ref:$n/$k"$'\n'; fi
  done
  expect_eq "web, worker and migrate read one DATABASE_URL" "$(sort -u <<<"${names%$'\n'}" | wc -l | tr -d ' ')" "1"
}

check_mode "positive: bundled PostgreSQL (defaults)"
check_mode "positive: externalDatabase.url" --set postgresql.enabled=false \
  --set externalDatabase.url='postgres://app:s3cret@db.example.com:5432/app?sslmode=verify-full'
check_mode "positive: externalDatabase.existingSecret" "${EXT_DB[@]}"

# Negative: the assertion itself must catch a literal value (guards the guard against a vacuous pass).
echo "  negative: a literal DATABASE_URL value is detected"
lit=$'Deployment/x\tspec.template.spec.containers[web].env[DATABASE_URL].value\tpostgres://u:p@h/d'
check "literal value: detected" has_exact "$lit" Deployment/x "spec.template.spec.containers[web].env[DATABASE_URL].value"
# Negative: the Job reading a copy that differs from the app's Secret is caught.
echo "  negative: a migrate copy with a different URL is detected"
f=$(flat --set postgresql.enabled=false \
  --set externalDatabase.url='postgres://app:s3cret@db.example.com:5432/app?sslmode=verify-full') || exit 1
a=$(value "$f" Secret/spacefleet-database data.DATABASE_URL)
b=$(value "$f" Secret/spacefleet-migrate-database data.DATABASE_URL)
check "the copy exists and equals the app's Secret" test -n "$b" -a "$a" = "$b"
changed=$(sed "s|^\(Secret/spacefleet-migrate-database\tdata.DATABASE_URL\t\).*|\1$(printf 'postgres://other' | base64)|" <<<"$f")
check "a different copy: detected" ! test "$(value "$changed" Secret/spacefleet-database data.DATABASE_URL)" = "$(value "$changed" Secret/spacefleet-migrate-database data.DATABASE_URL)"
done_guard
