#!/usr/bin/env bash
# 11: what a hooked migrate Job needs is a hook of lower weight, scoped to the hook phase (its own ServiceAccount,
# and with an inline URL a copy of the URL Secret); nothing web or worker read is a hook, so a failed pre-upgrade
# Job cannot change the Secret the running app reads. A plain Job (useHelmHooks=false) has no hook dependencies.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
URL='postgres://app:pw@db.example.com:5432/app?sslmode=verify-full'

hook_dep() { # FLAT OBJECT PHASES
  expect_eq "$2 hook" "$(value "$1" "$2" 'metadata.annotations.helm.sh/hook')" "$3"
  expect_eq "$2 weight (before the Job's 0)" "$(value "$1" "$2" 'metadata.annotations.helm.sh/hook-weight')" "-10"
  expect_eq "$2 delete policy" "$(value "$1" "$2" 'metadata.annotations.helm.sh/hook-delete-policy')" "before-hook-creation,hook-succeeded"
}

echo "  positive: inline url, hooked Job (pre-install)"
f=$(flat --set postgresql.enabled=false --set externalDatabase.url="$URL") || exit 1
job=$(migrate_job "$f")
hook_dep "$f" Secret/spacefleet-migrate-database pre-install,pre-upgrade
hook_dep "$f" ServiceAccount/spacefleet-migrate pre-install,pre-upgrade
expect_eq "$job runs as the hook ServiceAccount" "$(value "$f" "$job" spec.template.spec.serviceAccountName)" spacefleet-migrate
expect_eq "$job reads the hook copy" "$(value "$f" "$job" "$(ctr "$job" migrate).env[DATABASE_URL].valueFrom.secretKeyRef.name")" spacefleet-migrate-database
for o in Secret/spacefleet-database ServiceAccount/spacefleet; do
  check "$o (read by the app) is not a hook" ! has "$f" "$o" 'metadata.annotations.helm.sh/hook'
done
for o in "$WEB" "$WORKER"; do
  expect_eq "$o reads the release Secret" "$(value "$f" "$o" "$(ctr "$o" "${o##*-}").env[DATABASE_URL].valueFrom.secretKeyRef.name")" spacefleet-database
done

echo "  negative: useHelmHooks=false renders no hook dependencies"
f=$(flat --set postgresql.enabled=false --set externalDatabase.url="$URL" --set migrations.useHelmHooks=false) || exit 1
check "no Secret/spacefleet-migrate-database" ! has "$f" Secret/spacefleet-migrate-database ""
check "no ServiceAccount/spacefleet-migrate" ! has "$f" ServiceAccount/spacefleet-migrate ""
job=$(migrate_job "$f")
expect_eq "$job runs as the release ServiceAccount" "$(value "$f" "$job" spec.template.spec.serviceAccountName)" spacefleet
done_guard
