#!/usr/bin/env bash
# 01: migrations.viaHook=true renders SPACEFLEET_MIGRATIONS_VIA_HOOK=true on web AND worker (the hook Job alone
# owns the schema); viaHook=false renders the variable on neither (the pods migrate at boot themselves).
# External database: the chart refuses viaHook=true with the bundled database and hooks (install deadlock).
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
E='env[SPACEFLEET_MIGRATIONS_VIA_HOOK]'

echo "  positive: migrations.viaHook=true"
f=$(flat "${EXT_DB[@]}" --set migrations.viaHook=true) || exit 1
expect_eq "web has $E=true" "$(value "$f" "$WEB" "$(ctr "$WEB" web).$E.value")" "true"
expect_eq "worker has $E=true" "$(value "$f" "$WORKER" "$(ctr "$WORKER" worker).$E.value")" "true"

echo "  negative: migrations.viaHook=false"
f=$(flat "${EXT_DB[@]}" --set migrations.viaHook=false) || exit 1
check "web has no SPACEFLEET_MIGRATIONS_VIA_HOOK" ! has "$f" "$WEB" "$(ctr "$WEB" web).$E"
check "worker has no SPACEFLEET_MIGRATIONS_VIA_HOOK" ! has "$f" "$WORKER" "$(ctr "$WORKER" worker).$E"
done_guard
