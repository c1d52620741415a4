#!/usr/bin/env bash
# images/argocd/build.sh — spacefleet/argocd:<version>: Argo CD's application controller and repo server (core
# mode), no registry needed. main.go (ours: one binary dispatching on its name, like argo-cd's cmd/main.go) is built
# inside a copy of the pinned github.com/argoproj/argo-cd/v3 module: `go install` is refused (the go.mod has replace
# directives), and the zip lacks the nested gitops-engine module its replace points at (./gitops-engine), so the
# served github.com/argoproj/argo-cd/gitops-engine/v3 of the same version is copied there. v3.6 needs Go 1.27: the
# toolchain comes from the module proxy (GOTOOLCHAIN=ARGOCD_GO). The repo server runs `helm` (Helm 4, the project's
# pin HELM4_VERSION, built static with `make tools-helm4`'s flags, so after it this build only links) and
# `tar` (Debian's busybox-static) from PATH. FROM scratch: the binaries, the host's CA bundle (Debian
# ca-certificates), /etc/passwd and /tmp.
# Cached like the other add-ons: a zstd tar under $CACHE/images keyed by build.sh, main.go, the versions and the
# bytes of busybox and the CA bundle (install/ is not in the key: it is how the image is deployed).
#
# usage: build.sh [ensure|build|key|module]      default: ensure
#   module: print the directory of the pinned argo-cd module (its manifests/ are what scripts/gitops.sh installs)
# env: CACHE (default ~/.cache/spacefleet), ARGOCD_VERSION, ARGOCD_GO, HELM4_VERSION (pinned by the root Makefile),
#      ARGOCD_IMAGE
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/argocd
IMGCACHE=$CACHE/images
ARGOCD_VERSION=${ARGOCD_VERSION:-v3.6.2}
ARGOCD_GO=${ARGOCD_GO:-go1.27.3}
ARGOCD_IMAGE=${ARGOCD_IMAGE:-spacefleet/argocd:$ARGOCD_VERSION}
HELM4_VERSION=${HELM4_VERSION:-v4.3.1}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
MODULE=github.com/argoproj/argo-cd/v3
ENGINE=github.com/argoproj/argo-cd/gitops-engine/v3
export CGO_ENABLED=0 DOCKER_BUILDKIT=0 GOWORK=off GOFLAGS='' GOTOOLCHAIN=$ARGOCD_GO

log() { echo "[argocd $(date +%T)] $*" >&2; }
need() { [ -e "$1" ] || { echo "missing $1 ($2)" >&2; exit 1; }; }
need /bin/busybox "apt-get install busybox-static"
need "$CA_BUNDLE" "apt-get install ca-certificates"
KEY=$({ cd "$HERE" && sha256sum build.sh main.go; sha256sum /bin/busybox "$CA_BUNDLE" | cut -d' ' -f1
        echo "$ARGOCD_VERSION $ARGOCD_GO $HELM4_VERSION $ARGOCD_IMAGE"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/argocd-$ARGOCD_VERSION-$KEY.tar.zst

module_dir() { # module@version -> its directory in the module cache (downloaded when missing)
  mkdir -p "$W"
  local d; d=$(cd "$W" && go mod download -json "$1" | jq -r '.Dir // empty')
  [ -d "$d" ] || { echo "go mod download $1 gave no directory" >&2; exit 1; }
  echo "$d"
}

KEY_LABEL=io.spacefleet.argocd.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build() {
  local s src engine R=$W/ctx/rootfs; s=$(date +%s)
  src=$(module_dir "$MODULE@$ARGOCD_VERSION")
  engine=$(module_dir "$ENGINE@$ARGOCD_VERSION")
  # the module's own replace names the nested module's directory: fill it with the served copy
  grep -qx "replace $ENGINE => ./gitops-engine" "$src/go.mod" \
    || { echo "$MODULE@$ARGOCD_VERSION no longer replaces $ENGINE with ./gitops-engine: revisit build.sh" >&2; exit 1; }
  rm -rf "$W/src" "$W/ctx"; mkdir -p "$R/usr/local/bin" "$R/bin" "$R/etc/ssl/certs" "$R/tmp" "$R/home/argocd"
  cp -r "$src" "$W/src"; chmod -R u+w "$W/src"   # the module cache is read-only
  rm -rf "$W/src/gitops-engine"; cp -r "$engine" "$W/src/gitops-engine"; chmod -R u+w "$W/src/gitops-engine"
  mkdir -p "$W/src/cmd/spacefleet-argocd"
  sed '/^\/\/go:build ignore$/d' "$HERE/main.go" > "$W/src/cmd/spacefleet-argocd/main.go"
  log "go build (Argo CD $ARGOCD_VERSION: application controller + repo server, $(go version | awk '{print $3}'))"
  (cd "$W/src" && go build -trimpath -o "$R/usr/local/bin/argocd" -ldflags "-s -w \
      -X $MODULE/common.version=${ARGOCD_VERSION#v} -X $MODULE/common.gitTag=$ARGOCD_VERSION -X $MODULE/common.gitTreeState=clean \
      -X $MODULE/common.kubectlVersion=$(go list -m -f '{{.Version}}' k8s.io/kubectl)" ./cmd/spacefleet-argocd)
  ln -s argocd "$R/usr/local/bin/argocd-application-controller"
  ln -s argocd "$R/usr/local/bin/argocd-repo-server"
  log "go install helm.sh/helm/v4/cmd/helm@$HELM4_VERSION (static)"
  rm -rf "$W/helm"; mkdir -p "$W/helm"
  (cd "$W" && GOTOOLCHAIN=local GOBIN="$W/helm" go install -trimpath -ldflags "-s -w \
      -X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
      "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION")
  mv "$W/helm/helm" "$R/usr/local/bin/helm"
  cp /bin/busybox "$R/bin/busybox"; ln -s busybox "$R/bin/tar"
  cp "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nargocd:x:999:999:argocd:/home/argocd:/sbin/nologin\n' > "$R/etc/passwd"
  printf 'root:x:0:\nargocd:x:999:\n' > "$R/etc/group"
  chmod 1777 "$R/tmp"
  local hv; hv=$("$R/usr/local/bin/helm" version --template '{{.Version}}')
  [ "$hv" = "$HELM4_VERSION" ] || { echo "the helm built is $hv, not $HELM4_VERSION" >&2; exit 1; }
  # no gpg in the image: source verification by GnuPG is off (the repo server would run gpg at start otherwise)
  cat > "$W/ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs /
ENV PATH=/usr/local/bin:/bin HOME=/home/argocd USER=argocd ARGOCD_GPG_ENABLED=false
WORKDIR /home/argocd
USER 999:999
LABEL $KEY_LABEL=$KEY org.opencontainers.image.version=$ARGOCD_VERSION
EOF
  local out; out=$(docker build -q -t "$ARGOCD_IMAGE" "$W/ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  rm -rf "$W/src" "$W/ctx" "$W/helm"   # the image (and its tar) is the cache
  log "built $ARGOCD_IMAGE in $(( $(date +%s) - s ))s ($(docker image inspect -f '{{.Size}}' "$ARGOCD_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

save() { cache_save 'argocd-v*.tar.zst' "$ARGOCD_IMAGE"; }

case ${1:-ensure} in
  ensure) cache_ensure "$ARGOCD_IMAGE" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  module) module_dir "$MODULE@$ARGOCD_VERSION" ;;
  *) echo "usage: $0 [ensure|build|key|module]" >&2; exit 2 ;;
esac
