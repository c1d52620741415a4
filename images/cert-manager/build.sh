#!/usr/bin/env bash
# images/cert-manager/build.sh — spacefleet/cert-manager-controller:<version>, no registry needed.
# images/controllers/cert-manager is a small main of our own that runs cert-manager's controllers as a library (see
# README.md), built in images/controllers, the module the Go controllers of the e2e share (one dependency graph, so
# their common Kubernetes libraries compile once); the binary goes into a scratch image. Cached like the node image:
# a zstd tar under $CACHE/images keyed by a hash of this directory, the shared module and the version; a warm run
# loads the tar (or finds the image) and builds nothing.
#
# usage: build.sh [ensure|build|key|crds]      default: ensure
#   crds: print the paths of the cert-manager.io CRDs of the pinned module (deploy/crds/)
# env: CACHE (default ~/.cache/spacefleet), CERT_MANAGER_VERSION (pinned by the root Makefile), CERT_MANAGER_IMAGE
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
# shellcheck source=images/controllers/lib.sh
source "$HERE/../controllers/lib.sh"
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/cert-manager
IMGCACHE=$CACHE/images
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.21.2}
CERT_MANAGER_IMAGE=${CERT_MANAGER_IMAGE:-spacefleet/cert-manager-controller:$CERT_MANAGER_VERSION}
export CGO_ENABLED=0 DOCKER_BUILDKIT=0 GOWORK=off GOFLAGS=

log() { echo "[cert-manager $(date +%T)] $*" >&2; }
KEY=$({ cd "$HERE" && find . -type f ! -name README.md | LC_ALL=C sort | xargs sha256sum
        ctrl_key; cd "$CTRL" && sha256sum cert-manager/*.go; echo "$CERT_MANAGER_VERSION $CERT_MANAGER_IMAGE"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/cert-manager-$CERT_MANAGER_VERSION-$KEY.tar.zst

# the version is pinned twice (Makefile and images/controllers/go.mod): refuse to build when they differ
check_pin() { ctrl_pin github.com/cert-manager/cert-manager "$CERT_MANAGER_VERSION" github.com/cert-manager/cert-manager; }

module_dir() { (cd "$CTRL" && go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" | jq -r .Dir); }

KEY_LABEL=io.spacefleet.cert-manager.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build() {
  check_pin
  local s; s=$(date +%s)
  rm -rf "$W/ctx"; mkdir -p "$W/ctx"
  log "go build (cert-manager $CERT_MANAGER_VERSION controllers as a library)"
  ctrl_build "$W/ctx/cert-manager-controller" ./cert-manager
  printf 'FROM scratch\nCOPY cert-manager-controller /cert-manager-controller\nUSER 65532:65532\nENTRYPOINT ["/cert-manager-controller"]\nLABEL io.spacefleet.cert-manager.key=%s org.opencontainers.image.version=%s\n' \
    "$KEY" "$CERT_MANAGER_VERSION" > "$W/ctx/Dockerfile"
  local out; out=$(docker build -q -t "$CERT_MANAGER_IMAGE" "$W/ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  log "built $CERT_MANAGER_IMAGE in $(( $(date +%s) - s ))s"
}

save() { cache_save 'cert-manager-*.tar.zst' "$CERT_MANAGER_IMAGE"; }

case ${1:-ensure} in
  ensure) cache_ensure "$CERT_MANAGER_IMAGE" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  crds) check_pin; d=$(module_dir); ls "$d"/deploy/crds/cert-manager.io_*.yaml ;;
  *) echo "usage: $0 [ensure|build|key|crds]" >&2; exit 2 ;;
esac
