#!/usr/bin/env bash
# 10: an sslrootcert path in the inline externalDatabase.url that lies under no config.extraVolumeMounts mountPath
# fails at template time, naming the key; the same path under a mount renders.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
URL='postgres://app:pw@db.example.com:5432/app?sslmode=verify-full&sslrootcert=/etc/db-ca/ca.crt'
MOUNT=(--set 'config.extraVolumes[0].name=db-ca' --set 'config.extraVolumes[0].configMap.name=db-ca'
       --set 'config.extraVolumeMounts[0].name=db-ca' --set 'config.extraVolumeMounts[0].mountPath=/etc/db-ca')

echo "  positive: sslrootcert=/etc/db-ca/ca.crt with no mount"
if err=$(render_error --set postgresql.enabled=false --set-string externalDatabase.url="$URL"); then
  check "error names the key (externalDatabase.url ... sslrootcert)" grep -q "externalDatabase.url.*sslrootcert" <<<"$err"
  check "error does not echo the URL's password" ! grep -q "app:pw@" <<<"$err"
else
  fail "sslrootcert outside every mountPath rendered without error"
fi

echo "  negative: the same path under config.extraVolumeMounts[0].mountPath=/etc/db-ca"
if render --set postgresql.enabled=false --set-string externalDatabase.url="$URL" "${MOUNT[@]}" >/dev/null; then
  ok "renders"; else fail "sslrootcert under a mountPath failed to render"; fi
echo "  negative: a sibling path that only shares a prefix (/etc/db-ca-other) is still outside"
if err=$(render_error --set postgresql.enabled=false \
    --set-string externalDatabase.url="${URL/\/etc\/db-ca\/ca.crt//etc/db-ca-other/ca.crt}" "${MOUNT[@]}"); then
  ok "rejected"; else fail "/etc/db-ca-other/ca.crt accepted under mountPath /etc/db-ca"; fi
done_guard
