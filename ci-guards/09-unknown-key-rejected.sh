#!/usr/bin/env bash
# 09: a misspelt top-level key (externalDatabse) is rejected at template time, naming the key — it must not be
# silently ignored while the chart falls back to the bundled database. The correct spelling renders.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"

echo "  positive: --set externalDatabse.existingSecret=db (misspelt)"
if err=$(render_error --set postgresql.enabled=false --set externalDatabse.existingSecret=db); then
  check "error names externalDatabse" grep -q "externalDatabse" <<<"$err"
else
  fail "misspelt key externalDatabse rendered without error"
fi

echo "  negative: --set externalDatabase.existingSecret=db"
if render --set postgresql.enabled=false --set externalDatabase.existingSecret=db >/dev/null; then ok "renders"; else fail "correct key failed to render"; fi
done_guard
