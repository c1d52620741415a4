#!/usr/bin/env bash
# scripts/kind-cluster.sh — create or reuse a single-node kind cluster and load local images into it.
#
#   kind-cluster.sh up NAME NODE_IMAGE [IMAGE ...]   create (or reuse a healthy) cluster NAME, load the images
#   kind-cluster.sh down NAME                        delete it
#   kind-cluster.sh kubeconfig NAME                  print its kubeconfig path
#
# The kubeconfig of cluster NAME is written to $CACHE/kind/NAME.kubeconfig (context kind-NAME); ~/.kube/config is
# not touched. A leftover cluster from an interrupted run is reused when healthy (API ready, node Ready, kube-system
# pods running), else deleted and recreated. Nothing is pulled: every image must already be in the local docker.
set -euo pipefail

CACHE=${CACHE:-$HOME/.cache/spacefleet}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
log() { echo "[cluster $(date +%T)] $*" >&2; }

kubeconfig() { echo "$CACHE/kind/$1.kubeconfig"; }
kc() { "$KUBECTL" --kubeconfig "$KCFG" --context "kind-$NAME" "$@"; }
# shellcheck source=scripts/lib/wait.sh
source "$(dirname "$(readlink -f "$0")")/lib/wait.sh"

# grep reads all of kind's output (grep -q could exit first and SIGPIPE kind: under pipefail, a false "no").
exists() { "$KIND" get clusters 2>/dev/null | grep -x "$1" >/dev/null; }

healthy() {
  [ "$(docker inspect -f '{{.State.Running}}' "$NAME-control-plane" 2>/dev/null)" = true ] || { log "node container is not running"; return 1; }
  # created before the registry config (scripts/kind-cluster.yaml) existed: its containerd cannot pull from it
  docker exec "$NAME-control-plane" grep -F 'config_path = "/etc/containerd/certs.d"' /etc/containerd/config.toml >/dev/null 2>&1 \
    || { log "node has no containerd config_path (registry config)"; return 1; }
  "$KIND" get kubeconfig --name "$NAME" > "$KCFG" 2>/dev/null || { log "cannot read the kubeconfig"; return 1; }
  timeout 20 "$KUBECTL" --kubeconfig "$KCFG" --context "kind-$NAME" get --raw /readyz >/dev/null 2>&1 || { log "API server not ready"; return 1; }
  wait_condition kc 30 Ready node >/dev/null 2>&1 || { log "node not Ready"; return 1; }
  wait_system 60 >/dev/null 2>&1 || { log "kube-system pods not ready"; return 1; }
}

# Every node Ready, the system Deployments (CoreDNS, local-path-provisioner) Available, then every system pod Ready.
wait_system() { # timeout_s
  wait_condition kc "$1" Ready node &&
  wait_condition kc "$1" Available -n kube-system deployment &&
  wait_condition kc "$1" Available -n local-path-storage deployment &&
  wait_condition kc "$1" Ready -n kube-system pod &&
  wait_condition kc "$1" Ready -n local-path-storage pod
}

up() {
  NAME=$1 NODE_IMAGE=$2; shift 2
  KCFG=$(kubeconfig "$NAME"); mkdir -p "$(dirname "$KCFG")"
  docker image inspect "$NODE_IMAGE" >/dev/null 2>&1 || { log "node image $NODE_IMAGE is not in the local docker (make images)"; exit 1; }
  if exists "$NAME"; then
    if healthy; then
      log "reusing healthy cluster $NAME"
      local want have
      want=$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE"); have=$(docker inspect -f '{{.Image}}' "$NAME-control-plane")
      [ "$want" = "$have" ] || log "warning: cluster $NAME runs an older node image than $NODE_IMAGE (make cluster-delete to renew)"
    else
      log "cluster $NAME exists but is broken: deleting it"
      "$KIND" delete cluster --name "$NAME" --kubeconfig "$KCFG" || docker rm -f -v "$NAME-control-plane" || true
    fi
  fi
  if ! exists "$NAME"; then
    local s; s=$(date +%s)
    log "creating cluster $NAME from $NODE_IMAGE"
    "$KIND" create cluster --name "$NAME" --image "$NODE_IMAGE" --kubeconfig "$KCFG" --config "$(dirname "$0")/kind-cluster.yaml" --wait 5m
    wait_system 180
    log "cluster $NAME created in $(( $(date +%s) - s ))s"
  fi
  local img
  for img in "$@"; do
    docker image inspect "$img" >/dev/null 2>&1 || { log "image $img is not in the local docker (make images)"; exit 1; }
    local out s; s=$(date +%s)
    out=$("$KIND" load docker-image "$img" --name "$NAME" 2>&1) || { echo "$out" >&2; log "kind load $img failed"; exit 1; }
    case $out in *"present on all nodes"*) ;; *) log "loaded $img in $(( $(date +%s) - s ))s" ;; esac
  done
  log "cluster $NAME is ready: export KUBECONFIG=$KCFG"
}

down() {
  NAME=$1; KCFG=$(kubeconfig "$NAME")
  if exists "$NAME"; then "$KIND" delete cluster --name "$NAME" --kubeconfig "$KCFG"; fi
  rm -f "$KCFG"
}

cmd=${1:-}; shift || true
case $cmd in
  up) [ $# -ge 2 ] || { echo "usage: $0 up NAME NODE_IMAGE [IMAGE ...]" >&2; exit 2; }; up "$@" ;;
  down) [ $# -eq 1 ] || { echo "usage: $0 down NAME" >&2; exit 2; }; down "$1" ;;
  kubeconfig) kubeconfig "$1" ;;
  *) echo "usage: $0 up|down|kubeconfig NAME ..." >&2; exit 2 ;;
esac
