#!/usr/bin/env bash
# images/cloudnative-pg/build.sh — spacefleet/cloudnative-pg:<version>: the CloudNativePG operator, no registry.
# Built from a copy of the pinned module (its version list is refused by the proxy, so `go install pkg@v` cannot
# work; the module zip holds the whole source and go.sum). The image mirrors upstream's layout: WORKDIR /,
# /operator/manager_amd64 and /manager, a symlink to it (the operator copies itself into instance pods).
# Cached like the node image: a zstd tar under $CACHE/images keyed by this script and the version.
#
# usage: build.sh [ensure|build|key|manifest]      default: ensure
#   manifest: print the path of the module's releases/cnpg-<version>.yaml
# env: CACHE (default ~/.cache/spacefleet), CNPG_VERSION (pinned by the root Makefile), CNPG_IMAGE
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/cloudnative-pg
IMGCACHE=$CACHE/images
CNPG_VERSION=${CNPG_VERSION:-1.27.1}
CNPG_IMAGE=${CNPG_IMAGE:-spacefleet/cloudnative-pg:$CNPG_VERSION}
MODULE=github.com/cloudnative-pg/cloudnative-pg
export CGO_ENABLED=0 DOCKER_BUILDKIT=0 GOWORK=off GOFLAGS=

log() { echo "[cloudnative-pg $(date +%T)] $*" >&2; }
KEY=$({ cd "$HERE" && find . -type f ! -name README.md | LC_ALL=C sort | xargs sha256sum; echo "$CNPG_VERSION $CNPG_IMAGE"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/cloudnative-pg-$CNPG_VERSION-$KEY.tar.zst

module_dir() { mkdir -p "$W"; (cd "$W" && go mod download -json "$MODULE@v$CNPG_VERSION" | jq -r .Dir); }

KEY_LABEL=io.spacefleet.cloudnative-pg.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build() {
  local s src; s=$(date +%s)
  src=$(module_dir)
  rm -rf "$W/src" "$W/ctx"; mkdir -p "$W/ctx/rootfs/operator"
  cp -r "$src" "$W/src"; chmod -R u+w "$W/src"   # the module cache is read-only
  log "go build ./cmd/manager (CloudNativePG $CNPG_VERSION)"
  (cd "$W/src" && go build -trimpath -o "$W/ctx/rootfs/operator/manager_amd64" \
     -ldflags "-s -w -X $MODULE/pkg/versions.buildVersion=$CNPG_VERSION -X $MODULE/pkg/versions.buildCommit=v$CNPG_VERSION" ./cmd/manager)
  ln -s operator/manager_amd64 "$W/ctx/rootfs/manager"   # as upstream's image: one binary, two paths
  printf 'FROM scratch\nWORKDIR /\nCOPY rootfs /\nUSER 65532:65532\nENTRYPOINT ["/manager"]\nLABEL io.spacefleet.cloudnative-pg.key=%s org.opencontainers.image.version=%s\n' \
    "$KEY" "$CNPG_VERSION" > "$W/ctx/Dockerfile"
  local out; out=$(docker build -q -t "$CNPG_IMAGE" "$W/ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  rm -rf "$W/src"
  log "built $CNPG_IMAGE in $(( $(date +%s) - s ))s"
}

save() { cache_save 'cloudnative-pg-*.tar.zst' "$CNPG_IMAGE"; }

case ${1:-ensure} in
  ensure) cache_ensure "$CNPG_IMAGE" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  manifest) echo "$(module_dir)/releases/cnpg-$CNPG_VERSION.yaml" ;;
  *) echo "usage: $0 [ensure|build|key|manifest]" >&2; exit 2 ;;
esac
