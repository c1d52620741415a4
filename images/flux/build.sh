#!/usr/bin/env bash
# images/flux/build.sh — spacefleet/flux-source-controller:<version> and spacefleet/flux-helm-controller:<version>:
# Flux's source-controller and helm-controller, no registry needed. Both are built in images/controllers, the module
# the Go controllers of the e2e share: there each controller module is a dependency (a `tool`), so its own replace of
# its api module with ./api (a directory the module zip does not contain) does not apply and the api module comes from
# the proxy; and the Kubernetes, controller-runtime and Helm libraries they share with each other, cert-manager and
# the NetworkPolicy controller compile once. FROM scratch: the binary, the host's CA bundle (Debian ca-certificates)
# and /tmp, user 65534 as upstream's images.
# Cached like the other add-ons: one zstd tar of both images under $CACHE/images keyed by build.sh, the shared module's
# go.mod and go.sum, the versions and the CA bundle (install/ is not in the key: it is how the images are deployed).
#
# usage: build.sh [ensure|build|key|module NAME]      default: ensure
#   module NAME: print the directory of the pinned module of NAME (source-controller or helm-controller): its
#   config/ (CRDs, RBAC, Deployment) is what scripts/gitops.sh installs
# env: CACHE (default ~/.cache/spacefleet), FLUX_SOURCE_VERSION, FLUX_HELM_VERSION (pinned by the root Makefile),
#      FLUX_IMAGE_PREFIX (default spacefleet/flux-)
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
# shellcheck source=images/controllers/lib.sh
source "$HERE/../controllers/lib.sh"
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
KEY=$({ cd "$HERE" && sha256sum build.sh; sha256sum "$CA_BUNDLE" | cut -d' ' -f1; ctrl_key
        echo "$FLUX_SOURCE_VERSION $FLUX_HELM_VERSION $FLUX_IMAGE_PREFIX"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/flux-$FLUX_SOURCE_VERSION-$FLUX_HELM_VERSION-$KEY.tar.zst

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
  local name=$1 image=$2 version s R; s=$(date +%s)
  version=$(version_of "$name"); R=$W/ctx/rootfs
  ctrl_pin "github.com/fluxcd/$name" "$version" "github.com/fluxcd/$name"
  rm -rf "$W/ctx"; mkdir -p "$R/usr/local/bin" "$R/etc/ssl/certs" "$R/tmp"
  log "go build $name $version (in images/controllers)"
  ctrl_build "$R/usr/local/bin/$name" "github.com/fluxcd/$name"
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
  rm -rf "$W/ctx"   # the image (and its tar) is the cache
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
