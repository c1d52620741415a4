#!/usr/bin/env bash
# 08: no database password appears in NOTES, in any ConfigMap, or in any literal env `value:` — for the bundled
# database's password, for the password inside an inline externalDatabase.url, and for a literal
# externalDatabase.password given by parts. (It may appear only in a Secret.)
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
PW='Gu4rdPassw0rdZq9'

leaks() { # LABEL ARGS...
  local label=$1; shift
  echo "  $label"
  local f n; f=$(flat "$@") || { fail "$label: render failed"; return; }
  n=$(notes "$@") || { fail "$label: NOTES render failed"; return; }
  check "password not in NOTES" ! grep -qF "$PW" <<<"$n"
  check "password not in any ConfigMap" ! grep -F "$PW" <<<"$(grep '^ConfigMap/' <<<"$f")"
  local lit; lit=$(awk -F'\t' '$2 ~ /env\[[^]]*\]\.value$/' <<<"$f" | grep -F "$PW")
  check "password not in any literal env value${lit:+: $(cut -f1,2 <<<"$lit" | tr '\n' ' ')}" test -z "$lit"
  check "password is in a Secret (the case is not vacuous)" grep -qF "$PW" <<<"$(secret_text "$f")"
}

leaks "positive: bundled PostgreSQL with postgresql.auth.password" --set postgresql.auth.password="$PW" --set web.replicas=3
leaks "positive: inline externalDatabase.url with a password" --set postgresql.enabled=false \
  --set externalDatabase.url="postgres://app:$PW@db.example.com:5432/app?sslmode=require"

leaks "positive: by parts with a literal externalDatabase.password" --set postgresql.enabled=false \
  --set externalDatabase.host=db.example.com --set externalDatabase.database=app --set externalDatabase.username=app \
  --set externalDatabase.password="$PW"

echo "  negative: a password in a literal env value is detected"
bad=$'Deployment/x\tspec.template.spec.containers[web].env[PGPASSWORD].value\t'"$PW"
check "literal env value with the password: detected" test -n "$(awk -F'\t' '$2 ~ /env\[[^]]*\]\.value$/' <<<"$bad" | grep -F "$PW")"
done_guard
