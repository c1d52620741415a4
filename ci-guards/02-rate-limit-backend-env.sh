#!/usr/bin/env bash
# 02: rateLimiting.backend reaches the web pods as SPACEFLEET_RATE_LIMIT_BACKEND: memory by default, postgres when
# set (the value web enforces must be the value the operator chose, or N replicas allow N times the budget).
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
P="$(ctr "$WEB" web).env[SPACEFLEET_RATE_LIMIT_BACKEND].value"

echo "  positive: rateLimiting.backend=postgres"
f=$(flat --set rateLimiting.backend=postgres) || exit 1
expect_eq "web SPACEFLEET_RATE_LIMIT_BACKEND" "$(value "$f" "$WEB" "$P")" "postgres"

echo "  negative: defaults (no rateLimiting values)"
f=$(flat) || exit 1
expect_eq "web SPACEFLEET_RATE_LIMIT_BACKEND" "$(value "$f" "$WEB" "$P")" "memory"
done_guard
