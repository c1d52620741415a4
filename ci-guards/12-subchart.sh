#!/usr/bin/env bash
# Rule: the chart works as a dependency. tests/umbrella lists spacefleet under `dependencies`; after `helm dependency
# build` the parent renders with its own values and globals reaching the subchart (Helm always passes `global`, and
# the strict schema once refused it: "additional properties 'global' not allowed").
# Positive: the umbrella renders, global.imageRegistry and the parent's spacefleet: values arrive.
# Negative: a `global` the subchart must accept but a subchart-only unknown key is still refused.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"

umbrella="$GUARD_TMP/umbrella"
cp -r "$GUARDS_ROOT/tests/umbrella" "$umbrella"
sed -i "s|repository: file://.*|repository: file://$CHART|" "$umbrella/Chart.yaml"
if ! "$HELM" dependency build "$umbrella" >"$GUARD_TMP/dep.log" 2>&1; then
  sed 's/^/    helm: /' "$GUARD_TMP/dep.log" >&2; fail "helm dependency build of the umbrella"; done_guard; exit
fi
urender() { "$HELM" template platform "$umbrella" -n "$NAMESPACE" "$@" 2>"$GUARD_TMP/render.err" || { sed 's/^/    helm: /' "$GUARD_TMP/render.err" >&2; return 1; }; }

if urender --set global.someOtherChart.enabled=true > "$GUARD_TMP/u.yaml"; then
  f=$(chartgate flatten "$GUARD_TMP/u.yaml")
  expect_eq "web image through global.imageRegistry" "$(value "$f" Deployment/platform-spacefleet-web "$(ctr Deployment/x web).image")" "mirror.example.com/spacefleet/spacefleet:0.1.0"
  expect_eq "web replicas from the parent's spacefleet: values" "$(value "$f" Deployment/platform-spacefleet-web spec.replicas)" "2"
  check "no bundled database (the parent turned it off)" ! has "$f" StatefulSet/platform-spacefleet-postgresql ""
else
  fail "the umbrella chart renders with a foreign global"
fi
if urender --set spacefleet.webb.replicas=2 >/dev/null 2>&1; then
  fail "a misspelt subchart key is refused"
else
  ok "a misspelt subchart key is refused"
fi
done_guard
