#!/usr/bin/env bash
# images/netpol/build.sh — spacefleet/kube-network-policies:<version>: the NetworkPolicy controller
# sigs.k8s.io/kube-network-policies (cmd/kube-network-policies/standard), built as one static binary (CGO_ENABLED=0)
# in a FROM scratch image from images/controllers, the module the Go controllers of the e2e share (one dependency
# graph: the client-go and API types it shares with cert-manager and Flux compile once). Our kind node has no
# kindnetd (a ptp CNI), so nothing enforces NetworkPolicies until the e2e suites that need it install this
# (images/netpol/install.sh).
#
# usage: build.sh [ensure|build|key]      default: ensure
#   ensure: image present with this recipe's key -> nothing; cached tar present -> docker load; else build + save
# env: CACHE (default ~/.cache/spacefleet), NETPOL_VERSION (pinned by the root Makefile), NETPOL_IMAGE (repository)
# Go uses the default GOMODCACHE/GOCACHE, so a rebuild after a recipe change only links.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
# shellcheck source=images/controllers/lib.sh
source "$HERE/../controllers/lib.sh"
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/netpol
IMGCACHE=$CACHE/images
NETPOL_VERSION=${NETPOL_VERSION:-v1.1.1}
NETPOL_IMAGE=${NETPOL_IMAGE:-spacefleet/kube-network-policies}
MODULE=sigs.k8s.io/kube-network-policies
export CGO_ENABLED=0 DOCKER_BUILDKIT=0 GOWORK=off GOFLAGS=

log() { echo "[netpol $(date +%T)] $*" >&2; }
# The key (never a path: every clone must find the same key): this script, the shared module's go.mod and go.sum
# (the dependency versions), the module version, the Go toolchain (it is compiled into the binary) and the image name.
# install.sh and install.yaml are not inputs of the image.
KEY=$({ sha256sum < "$HERE/build.sh"; ctrl_key
        echo "$MODULE@$NETPOL_VERSION $(go env GOVERSION) $NETPOL_IMAGE"; } | sha256sum | cut -c1-16)
TAG=$NETPOL_IMAGE:$NETPOL_VERSION
TARBALL=$IMGCACHE/netpol-$NETPOL_VERSION-$KEY.tar.zst

KEY_LABEL=io.spacefleet.netpol.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build() {
  local s ctx; s=$(date +%s); ctx=$W/ctx
  rm -rf "$ctx"; mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"; chmod 1777 "$ctx/rootfs/tmp"
  ctrl_pin "$MODULE" "$NETPOL_VERSION" "$MODULE/cmd/kube-network-policies/standard"
  log "go build $MODULE/cmd/kube-network-policies/standard ($NETPOL_VERSION, in images/controllers)"
  ctrl_build "$ctx/rootfs/bin/netpol" "$MODULE/cmd/kube-network-policies/standard"
  cat > "$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs /
ENTRYPOINT ["/bin/netpol"]
LABEL io.spacefleet.netpol.key=$KEY org.opencontainers.image.version=$NETPOL_VERSION \\
      org.opencontainers.image.source=https://$MODULE
EOF
  local out; out=$(docker build -q -t "$TAG" "$ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  log "built $TAG in $(( $(date +%s) - s ))s ($(du -h "$ctx/rootfs/bin/netpol" | cut -f1) binary)"
}

save() { cache_save 'netpol-*.tar.zst' "$TAG"; }

case ${1:-ensure} in
  ensure) cache_ensure "$TAG" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  *) echo "usage: $0 [ensure|build|key]" >&2; exit 2 ;;
esac
