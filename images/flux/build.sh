#!/usr/bin/env bash
# images/flux/build.sh — spacefleet/flux-source-controller:<version> and spacefleet/flux-helm-controller:<version>:
# Flux's source-controller and helm-controller, no registry needed. Each is built from a copy of its pinned module:
# both go.mods replace their own api module with ./api, which the module zip does not contain, so the copy's replace
# points at the api module the proxy serves, at the version go.mod requires. FROM scratch: the binary, the host's CA
# bundle (Debian ca-certificates) and /tmp, user 65534 as upstream's images.
# Cached like the other add-ons: one zstd tar of both images under $CACHE/images keyed by build.sh, the versions and
# the CA bundle (install/ is not in the key: it is how the images are deployed).
#
# usage: build.sh [ensure|build|key|module NAME]      default: ensure
#   module NAME: print the directory of the pinned module of NAME (source-controller or helm-controller): its
#   config/ (CRDs, RBAC, Deployment) is what scripts/gitops.sh installs
# env: CACHE (default ~/.cache/spacefleet), FLUX_SOURCE_VERSION, FLUX_HELM_VERSION (pinned by the root Makefile),
#      FLUX_IMAGE_PREFIX (default spacefleet/flux-)
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/flux
IMGCACHE=$CACHE/images
FLUX_SOURCE_VERSION=${FLUX_SOURCE_VERSION:-v1.9.6}
FLUX_HELM_VERSION=${FLUX_HELM_VERSION:-v1.6.4}
FLUX_IMAGE_PREFIX=${FLUX_IMAGE_PREFIX:-spacefleet/flux-}
SOURCE_IMAGE=${FLUX_IMAGE_PREFIX}source-controller:$FLUX_SOURCE_VERSION
HELM_IMAGE=${FLUX_IMAGE_PREFIX}helm-controller:$FLUX_HELM_VERSION
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
export CGO_ENABLED=0 DOCKER_BUILDKIT=0 GOWORK=off GOFLAGS='' GOTOOLCHAIN=local

log() { echo "[flux $(date +%T)] $*" >&2; }
[ -s "$CA_BUNDLE" ] || { echo "missing $CA_BUNDLE (apt-get install ca-certificates)" >&2; exit 1; }
KEY=$({ cd "$HERE" && sha256sum build.sh; sha256sum "$CA_BUNDLE" | cut -d' ' -f1
        echo "$FLUX_SOURCE_VERSION $FLUX_HELM_VERSION $FLUX_IMAGE_PREFIX"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/flux-$FLUX_SOURCE_VERSION-$FLUX_HELM_VERSION-$KEY.tar.zst

# Dependencies the proxy does not serve at the version a controller requires, and the served version used instead:
# "NAME PATH REQUIRED SERVED". github.com/fluxcd/pkg/artifact v0.18.3's zip is refused ("403 This module version is
# not available"); v0.18.0..v0.18.2 differ in go.mod/go.sum only (dependency bumps the controller's own go.mod
# requires anyway), and so does v0.18.3's go.mod: v0.18.0 stands in (README.md).
DEP_SWAPS='source-controller github.com/fluxcd/pkg/artifact v0.18.3 v0.18.0'

version_of() { # NAME -> its pinned version
  case $1 in source-controller) echo "$FLUX_SOURCE_VERSION" ;; helm-controller) echo "$FLUX_HELM_VERSION" ;;
    *) echo "unknown Flux controller $1" >&2; exit 2 ;; esac
}

module_dir() { # NAME -> the pinned module's directory in the module cache (downloaded when missing)
  local m; m=github.com/fluxcd/$1@$(version_of "$1")
  mkdir -p "$W"
  local d; d=$(cd "$W" && go mod download -json "$m" | jq -r '.Dir // empty')
  [ -d "$d" ] || { echo "go mod download $m gave no directory" >&2; exit 1; }
  echo "$d"
}

KEY_LABEL=io.spacefleet.flux.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build_one() { # NAME IMAGE
  local name=$1 image=$2 version src api apiv rep s R; s=$(date +%s)
  version=$(version_of "$name"); src=$(module_dir "$name"); api=github.com/fluxcd/$name/api
  rm -rf "$W/src" "$W/ctx"; R=$W/ctx/rootfs; mkdir -p "$R/usr/local/bin" "$R/etc/ssl/certs" "$R/tmp"
  cp -r "$src" "$W/src"; chmod -R u+w "$W/src"   # the module cache is read-only
  apiv=$(cd "$W/src" && go mod edit -json | jq -r --arg p "$api" '.Require[] | select(.Path == $p) | .Version')
  rep=$(cd "$W/src" && go mod edit -json | jq -r --arg p "$api" '.Replace[]? | select(.Old.Path == $p) | .New.Path')
  if [ -z "$apiv" ] || [ "$rep" != ./api ]; then
    echo "$name $version: go.mod no longer requires $api and replaces it with ./api: revisit build.sh" >&2; exit 1
  fi
  [ ! -e "$W/src/api" ] || { echo "$name $version: the module now ships api/: build it as it is" >&2; exit 1; }
  (cd "$W/src" && go mod edit -replace "$api=$api@$apiv" && go mod download "$api@$apiv")
  local n path req served have
  while read -r n path req served; do
    [ "$n" = "$name" ] || continue
    have=$(cd "$W/src" && go mod edit -json | jq -r --arg p "$path" '.Require[] | select(.Path == $p) | .Version')
    [ "$have" = "$req" ] || { echo "$name $version requires $path $have, not $req: revisit DEP_SWAPS in build.sh" >&2; exit 1; }
    log "$name: $path $req is not served by the proxy: $served instead"
    (cd "$W/src" && go mod edit -replace "$path=$path@$served")
  done <<<"$DEP_SWAPS"
  log "go build $name $version (api $apiv from the proxy)"
  # -mod=mod: go.sum gains the api module's hashes (the replace made them unnecessary upstream)
  (cd "$W/src" && go build -mod=mod -trimpath -ldflags "-s -w" -o "$R/usr/local/bin/$name" .)
  cp "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
  chmod 1777 "$R/tmp"
  cat > "$W/ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs /
ENV PATH=/usr/local/bin
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/$name"]
LABEL $KEY_LABEL=$KEY org.opencontainers.image.version=$version
EOF
  local out; out=$(docker build -q -t "$image" "$W/ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  rm -rf "$W/src" "$W/ctx"   # the image (and its tar) is the cache
  log "built $image in $(( $(date +%s) - s ))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
}

build() { build_one source-controller "$SOURCE_IMAGE"; build_one helm-controller "$HELM_IMAGE"; }
save() { cache_save 'flux-*.tar.zst' "$SOURCE_IMAGE" "$HELM_IMAGE"; }

case ${1:-ensure} in
  ensure) cache_ensure "$SOURCE_IMAGE" "$HELM_IMAGE" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  module) [ $# -eq 2 ] || { echo "usage: $0 module source-controller|helm-controller" >&2; exit 2; }; module_dir "$2" ;;
  *) echo "usage: $0 [ensure|build|key|module NAME]" >&2; exit 2 ;;
esac
