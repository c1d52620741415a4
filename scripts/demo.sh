#!/usr/bin/env bash
# scripts/demo.sh — what `make demo` does once the images and the cluster exist: install charts/spacefleet on the
# bundled PostgreSQL with examples/values/dev.yaml, then print, as commands a reader can paste into a new shell, how
# to reach the app and what it answers ("# ..." under a command: N is a number, ... anything). scripts/demo-check.sh
# runs exactly those printed lines in CI and compares the answers with those shapes.
#
#   demo.sh KUBECONFIG RELEASE NAMESPACE APP_IMAGE PG_IMAGE_REPO PG_IMAGE_TAG PORT
# env: HELM, KUBECTL (the cache's binaries), BIN (the directory the printed PATH line adds)
set -euo pipefail
[ $# -eq 7 ] || { echo "usage: $0 KUBECONFIG RELEASE NAMESPACE APP_IMAGE PG_IMAGE_REPO PG_IMAGE_TAG PORT" >&2; exit 2; }
kcfg=$1 release=$2 ns=$3 app=$4 pg_repo=$5 pg_tag=$6 port=$7
HELM=${HELM:-helm} KUBECTL=${KUBECTL:-kubectl} BIN=${BIN:-$(dirname "$KUBECTL")}
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)

s=$(date +%s)
# --set-string: a tag is text (an unquoted 15 is accepted too, but say what we mean)
"$HELM" upgrade --install "$release" "$root/charts/spacefleet" --kubeconfig "$kcfg" \
  --namespace "$ns" --create-namespace -f "$root/examples/values/dev.yaml" \
  --set-string image.repository="${app%:*}" --set-string image.tag="${app##*:}" \
  --set-string postgresql.image.repository="$pg_repo" --set-string postgresql.image.tag="$pg_tag" \
  --wait --timeout 10m
echo ">> installed in $(( $(date +%s) - s ))s"
"$KUBECTL" --kubeconfig "$kcfg" -n "$ns" get pods,svc,pvc
# the web Service and its port, from the cluster (awk reads all of kubectl's output: no early-exit reader)
svc=$("$KUBECTL" --kubeconfig "$kcfg" -n "$ns" get svc -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=web" \
  -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.ports[0].port}{"\n"}{end}' | awk '$1 ~ /-web$/ && !f {print; f = 1}')
[ -n "$svc" ] || { echo "demo: no web Service found for release $release in namespace $ns" >&2; exit 1; }
svc_port=${svc#* } svc=${svc% *}

cat <<TXT

The demo is up. In a new shell:
  export PATH="$BIN:\$PATH" KUBECONFIG="$kcfg"
  kubectl -n $ns port-forward svc/$svc $port:$svc_port &
  curl -s http://127.0.0.1:$port/readyz
      # {"ready":true,"schema_version":N}
  curl -s -X POST -H 'Content-Type: application/json' -d '{"name":"enterprise"}' http://127.0.0.1:$port/api/ships
      # {"id":N,"name":"enterprise","status":"...",...}
  curl -s http://127.0.0.1:$port/api/ships
      # [{"id":N,"name":"enterprise",...}]
Delete it with: make demo-delete
TXT
