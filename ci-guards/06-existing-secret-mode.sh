#!/usr/bin/env bash
# 06: externalDatabase.existingSecret mode renders no chart-owned database Secret, and every client reads the
# given Secret name and key; in inline-url mode the chart does own one (so the negative case is meaningful).
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
OWNED=Secret/spacefleet-database

echo "  positive: existingSecret=team-db, existingSecretKeys.url=uri"
f=$(flat --set postgresql.enabled=false --set externalDatabase.existingSecret=team-db \
         --set externalDatabase.existingSecretKeys.url=uri) || exit 1
check "no chart-owned database Secret ($OWNED)" ! has "$f" "$OWNED" ""
expect_eq "no Secret rendered at all" "$(objects "$f" Secret | tr '\n' ' ')" ""
job=$(migrate_job "$f")
for oc in "$WEB:web" "$WORKER:worker" "$job:migrate"; do
  o=${oc%:*}; c=${oc##*:}
  p="$(ctr "$o" "$c").env[DATABASE_URL].valueFrom.secretKeyRef"
  expect_eq "$o secretKeyRef" "$(value "$f" "$o" "$p.name")/$(value "$f" "$o" "$p.key")" "team-db/uri"
done

echo "  negative: inline externalDatabase.url"
f=$(flat --set postgresql.enabled=false \
         --set externalDatabase.url='postgres://app:pw@db.example.com:5432/app?sslmode=verify-full') || exit 1
check "chart-owned database Secret ($OWNED) rendered" has "$f" "$OWNED" ""
p="$(ctr "$WEB" web).env[DATABASE_URL].valueFrom.secretKeyRef"
expect_eq "web reads the chart-owned Secret" "$(value "$f" "$WEB" "$p.name")" "spacefleet-database"
done_guard
