#!/usr/bin/env bash
# 05: config.extraVolumes and config.extraVolumeMounts reach all three database clients (web, worker, migrate);
# without them, none of the three gets the volume.
# shellcheck source=ci-guards/lib.sh
source "$(dirname "$0")/lib.sh"
VOLS=(--set 'config.extraVolumes[0].name=db-ca' --set 'config.extraVolumes[0].configMap.name=db-ca-bundle'
      --set 'config.extraVolumeMounts[0].name=db-ca' --set 'config.extraVolumeMounts[0].mountPath=/etc/db-ca'
      --set 'config.extraVolumeMounts[0].readOnly=true')

echo "  positive: one extra volume + mount"
f=$(flat "${EXT_DB[@]}" "${VOLS[@]}") || exit 1
job=$(migrate_job "$f")
for oc in "$WEB:web" "$WORKER:worker" "$job:migrate"; do
  o=${oc%:*}; c=${oc##*:}
  expect_eq "$o volume db-ca from ConfigMap" "$(value "$f" "$o" "spec.template.spec.volumes[db-ca].configMap.name")" "db-ca-bundle"
  expect_eq "$o container $c mounts db-ca" "$(value "$f" "$o" "$(ctr "$o" "$c").volumeMounts[db-ca].mountPath")" "/etc/db-ca"
done

echo "  negative: no extra volumes"
f=$(flat "${EXT_DB[@]}") || exit 1
job=$(migrate_job "$f")
for oc in "$WEB:web" "$WORKER:worker" "$job:migrate"; do
  o=${oc%:*}; c=${oc##*:}
  check "$o has no db-ca volume" ! has "$f" "$o" "spec.template.spec.volumes[db-ca]"
  check "$o has no db-ca mount" ! has "$f" "$o" "$(ctr "$o" "$c").volumeMounts[db-ca]"
done
done_guard
