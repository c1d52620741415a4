#!/usr/bin/env bash
# images/netpol/install.sh — install the NetworkPolicy controller (install.yaml) into a kind cluster and wait until
# it enforces. Idempotent: a second run loads nothing new, applies an unchanged manifest and returns once Ready.
# Called by the e2e suites that need enforcement (tests/e2e), not by `make cluster`: other suites run without it.
#
#   install.sh CLUSTER
# env: KIND, KUBECTL (binaries), KUBECONFIG (the cluster's), KUBE_CONTEXT (default kind-CLUSTER),
#      NETPOL_IMAGE (default spacefleet/kube-network-policies:v1.1.1), NETPOL_QUEUE (default 98), TIMEOUT (default 180s)
#
# Readiness: the DaemonSet's "ready" container checks that the NFQUEUE rule is in place and the controller has bound
# the queue (it binds after its informers synced), so `rollout status` returning means NetworkPolicies are enforced.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CLUSTER=${1:?usage: install.sh CLUSTER}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
KUBECONFIG=${KUBECONFIG:?set KUBECONFIG to the cluster\'s kubeconfig}
KUBE_CONTEXT=${KUBE_CONTEXT:-kind-$CLUSTER}
NETPOL_IMAGE=${NETPOL_IMAGE:-spacefleet/kube-network-policies:v1.1.1}
NETPOL_QUEUE=${NETPOL_QUEUE:-98}
TIMEOUT=${TIMEOUT:-180s}
export KUBECONFIG

log() { echo "[netpol-install $(date +%T)] $*" >&2; }
kc() { "$KUBECTL" --context "$KUBE_CONTEXT" "$@"; }
s=$(date +%s)

# built (or loaded from its cached tar) here when no run has yet: a filtered run, or .ci/run's background build (then
# this waits for its lock and finds the image); up to date, it returns at once
repo=${NETPOL_IMAGE%:*} version=${NETPOL_IMAGE##*:}
NETPOL_IMAGE=$repo NETPOL_VERSION=$version "$HERE/build.sh" ensure >&2 \
  || { log "building $NETPOL_IMAGE failed (images/netpol/build.sh)"; exit 1; }
docker image inspect "$NETPOL_IMAGE" >/dev/null 2>&1 || { log "image $NETPOL_IMAGE is not in the local docker (make images-netpol)"; exit 1; }
out=$("$KIND" load docker-image "$NETPOL_IMAGE" --name "$CLUSTER" 2>&1) || { echo "$out" >&2; log "kind load $NETPOL_IMAGE failed"; exit 1; }

# iptables comes from the cluster's own kube-proxy image (Debian iptables + iptables-wrapper in our node image;
# upstream's kube-proxy image on kindest/node): nothing else to load.
ipt=$(kc -n kube-system get daemonset kube-proxy -o 'jsonpath={.spec.template.spec.containers[0].image}')
[ -n "$ipt" ] || { log "cannot read the kube-proxy image (daemonset kube-system/kube-proxy)"; exit 1; }

sed -e "s|__NETPOL_IMAGE__|$NETPOL_IMAGE|g" -e "s|__IPTABLES_IMAGE__|$ipt|g" -e "s|__QUEUE__|$NETPOL_QUEUE|g" \
  "$HERE/install.yaml" | kc apply -f - >/dev/null
if ! kc -n kube-system rollout status daemonset/kube-network-policies --timeout="$TIMEOUT" >/dev/null; then
  log "kube-network-policies is not Ready after $TIMEOUT"
  kc -n kube-system get pods -l app=kube-network-policies -o wide >&2 || true
  kc -n kube-system describe pods -l app=kube-network-policies >&2 || true
  kc -n kube-system logs -l app=kube-network-policies --all-containers --prefix --tail=40 >&2 || true
  exit 1
fi
log "kube-network-policies ($NETPOL_IMAGE, queue $NETPOL_QUEUE) enforcing in $(( $(date +%s) - s ))s"
