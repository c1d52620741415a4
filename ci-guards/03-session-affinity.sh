#!/usr/bin/env bash
# 03: web.service.sessionAffinity=ClientIP and web.service.sessionAffinityConfig render on the web Service;
# neither field is rendered when they are unset.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
SVC=Service/spacefleet-web

echo "  positive: sessionAffinity=ClientIP, timeoutSeconds=600"
f=$(flat --set web.service.sessionAffinity=ClientIP \
         --set web.service.sessionAffinityConfig.clientIP.timeoutSeconds=600) || exit 1
expect_eq "Service spec.sessionAffinity" "$(value "$f" "$SVC" spec.sessionAffinity)" "ClientIP"
expect_eq "Service spec.sessionAffinityConfig.clientIP.timeoutSeconds" \
  "$(value "$f" "$SVC" spec.sessionAffinityConfig.clientIP.timeoutSeconds)" "600"

echo "  negative: unset"
f=$(flat) || exit 1
check "Service has no spec.sessionAffinity" ! has "$f" "$SVC" spec.sessionAffinity
check "Service has no spec.sessionAffinityConfig" ! has "$f" "$SVC" spec.sessionAffinityConfig
done_guard
