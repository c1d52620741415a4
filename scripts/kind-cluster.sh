#!/usr/bin/env bash
# scripts/kind-cluster.sh — create or reuse a kind cluster (one control plane, NODES-1 workers) and load local images
# into every node.
#
#   kind-cluster.sh up NAME NODE_IMAGE [IMAGE ...]   create (or reuse a healthy) cluster NAME, load the images
#   kind-cluster.sh down NAME                        delete it
#   kind-cluster.sh kubeconfig NAME                  print its kubeconfig path
#   kind-cluster.sh config NODE_IMAGE                print the kind config `up` would use (NODES from the env)
# env: NODES (default 1: a single control-plane node that also runs pods; 3 = a control plane and two workers),
#      CACHE, KIND, KUBECTL
#
# The kubeconfig of cluster NAME is written to $CACHE/kind/NAME.kubeconfig (context kind-NAME); ~/.kube/config is
# not touched. A leftover cluster from an interrupted run is reused when healthy (API ready, every node Ready,
# kube-system pods running, NODES nodes), else deleted and recreated. Nothing is pulled: every image must already be
# in the local docker. `kind load` puts each image on every node.
set -euo pipefail

CACHE=${CACHE:-$HOME/.cache/spacefleet}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
NODES=${NODES:-1}
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
log() { echo "[cluster $(date +%T)] $*" >&2; }

kubeconfig() { echo "$CACHE/kind/$1.kubeconfig"; }
kc() { "$KUBECTL" --kubeconfig "$KCFG" --context "kind-$NAME" "$@"; }
# shellcheck source=scripts/lib/wait.sh
source "$HERE/lib/wait.sh"

# grep reads all of kind's output (grep -q could exit first and SIGPIPE kind: under pipefail, a false "no").
exists() { "$KIND" get clusters 2>/dev/null | grep -x "$1" >/dev/null; }

healthy() {
  local nodes node n=0
  nodes=$("$KIND" get nodes --name "$NAME" 2>/dev/null) || { log "cannot list the node containers"; return 1; }
  for node in $nodes; do
    n=$(( n + 1 ))
    [ "$(docker inspect -f '{{.State.Running}}' "$node" 2>/dev/null)" = true ] || { log "node container $node is not running"; return 1; }
    # created before the registry config (scripts/kind-cluster.yaml) existed: its containerd cannot pull from it
    docker exec "$node" grep -F 'config_path = "/etc/containerd/certs.d"' /etc/containerd/config.toml >/dev/null 2>&1 \
      || { log "node $node has no containerd config_path (registry config)"; return 1; }
    # created before config() patched kubelet (see there): pods would stop finding kind-loaded images
    if config "$NODE_IMAGE" | grep -F 'imagePullCredentialsVerificationPolicy: NeverVerify' >/dev/null; then
      docker exec "$node" grep -x 'imagePullCredentialsVerificationPolicy: NeverVerify' /var/lib/kubelet/config.yaml >/dev/null 2>&1 \
        || { log "node $node's kubelet re-verifies preloaded images (created before the kubelet patch)"; return 1; }
    fi
  done
  [ "$n" = "$NODES" ] || { log "cluster has $n nodes, $NODES wanted"; return 1; }
  "$KIND" get kubeconfig --name "$NAME" > "$KCFG" 2>/dev/null || { log "cannot read the kubeconfig"; return 1; }
  timeout 20 "$KUBECTL" --kubeconfig "$KCFG" --context "kind-$NAME" get --raw /readyz >/dev/null 2>&1 || { log "API server not ready"; return 1; }
  wait_condition kc 30 Ready node >/dev/null 2>&1 || { log "a node is not Ready"; return 1; }
  wait_system 60 >/dev/null 2>&1 || { log "kube-system pods not ready"; return 1; }
}

# The Kubernetes version a node image carries (kind's /kind/version, also in upstream kindest/node images).
node_version() {
  docker run --rm --entrypoint cat "$1" /kind/version
}

# The kind config: scripts/kind-cluster.yaml (registry config) + the nodes + what this Kubernetes version needs.
config() { # NODE_IMAGE
  local v minor i
  v=$(node_version "$1") || { log "cannot read /kind/version from $1"; exit 1; }
  minor=$(echo "${v#v}" | cut -d. -f2)
  cat "$HERE/kind-cluster.yaml"
  echo "nodes:"
  echo "  - role: control-plane"
  for (( i = 1; i < NODES; i++ )); do echo "  - role: worker"; done
  # kubelet 1.35+ (KubeletEnsureSecretPulledImages, on by default) re-verifies the pull credentials of an image it
  # pulled itself whenever a pod names it by another reference: once the OCI suites have pulled the harness images
  # from the local registry by digest, a pod naming the same image by its `kind load`ed tag must pull it again,
  # which fails offline (ErrImagePull from docker.io). Every image here is local and public: NeverVerify, as before
  # 1.35. And kubelet refuses a cgroup v1 host from 1.35 unless told otherwise. (Both fields are newer than 1.30, so
  # older versions get no patch.)
  if [ "$minor" -ge 35 ]; then
    printf 'kubeadmConfigPatches:\n  - |\n    kind: KubeletConfiguration\n    imagePullCredentialsVerificationPolicy: NeverVerify\n'
    if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then printf '    failCgroupV1: false\n'; fi
  fi
}

# Every node Ready, the system Deployments (CoreDNS, local-path-provisioner) Available, then every system pod Ready.
wait_system() { # timeout_s
  wait_condition kc "$1" Ready node &&
  wait_condition kc "$1" Available -n kube-system deployment &&
  wait_condition kc "$1" Available -n local-path-storage deployment &&
  wait_condition kc "$1" Ready -n kube-system pod &&
  wait_condition kc "$1" Ready -n local-path-storage pod
}

# Every kind node runs a kubelet and containerd, each holding inotify instances; with several clusters (the e2e
# cluster, the demo, a GitOps tool's) the host default of 128 runs out ("too many open files" from fsnotify).
# kind's documented fix, applied only when the host is lower.
raise_inotify() {
  local key want cur
  for key in fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288; do
    want=${key#*=} cur=$(sysctl -n "${key%=*}" 2>/dev/null || echo 0)
    if [ "$cur" -lt "$want" ]; then
      if [ "$(id -u)" = 0 ]; then sysctl -qw "$key" || log "warning: cannot set $key"
      else sudo -n sysctl -qw "$key" 2>/dev/null || log "warning: ${key%=*}=$cur (kind wants $want): several clusters may fail with 'too many open files'"; fi
    fi
  done
}

# A connection to a Service address that kube-proxy did not translate leaves the node by its default route: an
# address no Service holds, or (the likely path of the three empty 404s TestZeroDowntime once counted; not proven) a
# Service's own address while kube-proxy rewrites its rules as endpoints come and go. On most networks that ends in
# a connect timeout; on this machine its egress proxy answers any port-80 connection itself ("404", empty body, server "keryx"), which a suite counting
# failed requests would take for an answer from the app. So each node rejects forwarded traffic still addressed to
# the Service range, last in FORWARD (kube-proxy's own rules come first), as a router would: net unreachable. The
# client sees a failed connect, never an answer from outside the cluster. Idempotent.
seal_service_range() {
  local range node rule
  range=$(docker exec "$NAME-control-plane" sed -n 's/.*--service-cluster-ip-range=\([^[:space:]"]*\).*/\1/p' \
    /etc/kubernetes/manifests/kube-apiserver.yaml)
  [ -n "$range" ] || { log "cannot read --service-cluster-ip-range from $NAME's kube-apiserver manifest"; exit 1; }
  rule=(-d "$range" -m comment --comment "spacefleet: Service address not translated by kube-proxy" -j REJECT --reject-with icmp-net-unreachable)
  for node in $("$KIND" get nodes --name "$NAME"); do
    docker exec "$node" iptables -C FORWARD "${rule[@]}" 2>/dev/null || docker exec "$node" iptables -A FORWARD "${rule[@]}" ||
      { log "cannot add the Service-range rule on $node"; exit 1; }
  done
}

up() {
  NAME=$1 NODE_IMAGE=$2; shift 2
  raise_inotify
  KCFG=$(kubeconfig "$NAME"); mkdir -p "$(dirname "$KCFG")"
  docker image inspect "$NODE_IMAGE" >/dev/null 2>&1 || { log "node image $NODE_IMAGE is not in the local docker (make images)"; exit 1; }
  if exists "$NAME"; then
    if [ "$(docker exec "$NAME-control-plane" cat /kind/version 2>/dev/null)" != "$(node_version "$NODE_IMAGE")" ]; then
      log "cluster $NAME runs another Kubernetes version than $NODE_IMAGE (or none): deleting it"
      # shellcheck disable=SC2046 # one container name per word
      "$KIND" delete cluster --name "$NAME" --kubeconfig "$KCFG" || docker rm -f -v $("$KIND" get nodes --name "$NAME" 2>/dev/null) || true
    elif healthy; then
      log "reusing healthy cluster $NAME"
      local want have
      want=$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE"); have=$(docker inspect -f '{{.Image}}' "$NAME-control-plane")
      [ "$want" = "$have" ] || log "warning: cluster $NAME runs an older node image than $NODE_IMAGE (make cluster-delete to renew)"
    else
      log "cluster $NAME exists but is broken: deleting it"
      # shellcheck disable=SC2046 # one container name per word
      "$KIND" delete cluster --name "$NAME" --kubeconfig "$KCFG" || docker rm -f -v $("$KIND" get nodes --name "$NAME" 2>/dev/null) || true
    fi
  fi
  if ! exists "$NAME"; then
    local s; s=$(date +%s)
    log "creating cluster $NAME from $NODE_IMAGE ($NODES node(s))"
    local cfg; cfg=$(mktemp); config "$NODE_IMAGE" > "$cfg"
    "$KIND" create cluster --name "$NAME" --image "$NODE_IMAGE" --kubeconfig "$KCFG" --config "$cfg" --wait 5m || { rm -f "$cfg"; exit 1; }
    rm -f "$cfg"
    wait_system 180
    log "cluster $NAME created in $(( $(date +%s) - s ))s"
  fi
  seal_service_range
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
  config) [ $# -eq 1 ] || { echo "usage: $0 config NODE_IMAGE" >&2; exit 2; }; config "$1" ;;
  *) echo "usage: $0 up|down|kubeconfig|config NAME ..." >&2; exit 2 ;;
esac
