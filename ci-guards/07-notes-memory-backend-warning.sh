#!/usr/bin/env bash
# 07: NOTES warn when web.replicas>1 with rateLimiting.backend=memory (N pods, N budgets); no such warning for
# one replica, or for several replicas with the postgres backend.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
WARN='rateLimiting.backend=memory'

echo "  positive: web.replicas=3, backend memory"
n=$(notes "${EXT_DB[@]}" --set web.replicas=3 --set rateLimiting.backend=memory) || exit 1
check "NOTES warn about $WARN" grep -q "WARNING (rate-limit-memory):.*$WARN" <<<"$n"

echo "  negative: web.replicas=3, backend postgres"
n=$(notes "${EXT_DB[@]}" --set web.replicas=3 --set rateLimiting.backend=postgres) || exit 1
check "NOTES do not warn about $WARN" ! grep -q "$WARN" <<<"$n"
echo "  negative: web.replicas=1, backend memory"
n=$(notes "${EXT_DB[@]}" --set web.replicas=1 --set rateLimiting.backend=memory) || exit 1
check "NOTES do not warn about $WARN" ! grep -q "$WARN" <<<"$n"
done_guard
