#!/usr/bin/env bash
# images/redis/build.sh — spacefleet/redis:<major.minor>: Debian's redis-server in a scratch image, no registry
# needed (Argo CD's cache; scripts/gitops.sh). redis-server is installed into a debootstrap minbase rootfs, then only
# the binary and the shared libraries `ldd` names are copied out: the image is a few MB, not a Debian rootfs.
# Entrypoint redis-server (upstream's manifests pass only flags: --save "" --appendonly no --requirepass ...).
# Cached like the other images: a zstd tar under $CACHE/images keyed by this script and the suite.
#
# usage: build.sh [ensure|build|key]      default: ensure
# env: CACHE (default ~/.cache/spacefleet), REDIS_IMAGE (default spacefleet/redis:7.0), SUITE, MIRROR
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/redis
IMGCACHE=$CACHE/images
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
REDIS_IMAGE=${REDIS_IMAGE:-spacefleet/redis:7.0}
export DOCKER_BUILDKIT=0

log() { echo "[redis $(date +%T)] $*" >&2; }
KEY=$({ cd "$HERE" && find . -type f ! -name README.md | LC_ALL=C sort | xargs sha256sum; echo "$SUITE $REDIS_IMAGE"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/redis-$KEY.tar.zst

KEY_LABEL=io.spacefleet.redis.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build() {
  command -v debootstrap >/dev/null || { echo "missing debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  local R=$W/rootfs C=$W/ctx/rootfs s bin ver lib; s=$(date +%s)
  mkdir -p "$W"; rm -rf "$R" "$W/ctx"
  log "debootstrap $SUITE minbase + redis-server (log: $W/debootstrap.log)"
  debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" > "$W/debootstrap.log" 2>&1 || { tail -20 "$W/debootstrap.log" >&2; exit 1; }
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 0755 "$R/usr/sbin/policy-rc.d"   # no service start
  chroot "$R" sh -exc "
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server
  " > "$W/install.log" 2>&1 || { tail -30 "$W/install.log" >&2; exit 1; }
  bin=$(chroot "$R" readlink -f /usr/bin/redis-server)   # Debian: a symlink to redis-check-rdb (one binary, by name)
  ver=$(chroot "$R" /usr/bin/redis-server --version | sed -n 's/.* v=\([0-9.]*\) .*/\1/p')
  [ -n "$ver" ] || { echo "cannot read the redis-server version" >&2; exit 1; }
  mkdir -p "$C/usr/bin" "$C/etc" "$C/tmp" "$C/data"
  cp "$R$bin" "$C/usr/bin/redis-server"
  # the binary's shared libraries and the loader, at the paths the binary asks for
  for lib in $(chroot "$R" ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$C$(dirname "$lib")"; cp -L "$R$lib" "$C$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nredis:x:999:999:redis:/data:/sbin/nologin\n' > "$C/etc/passwd"
  printf 'root:x:0:\nredis:x:999:\n' > "$C/etc/group"
  chmod 1777 "$C/tmp" "$C/data"
  cat > "$W/ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs /
WORKDIR /data
USER 999:999
EXPOSE 6379
ENTRYPOINT ["/usr/bin/redis-server"]
LABEL $KEY_LABEL=$KEY org.opencontainers.image.version=$ver
EOF
  local out; out=$(docker build -q -t "$REDIS_IMAGE" "$W/ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  # it starts, answers and says which version it is (a missing library fails here, not in the cluster)
  out=$(docker run --rm --entrypoint /usr/bin/redis-server "$REDIS_IMAGE" --version 2>&1) || { echo "$out" >&2; exit 1; }
  rm -rf "$R"
  log "built $REDIS_IMAGE (Redis $ver) in $(( $(date +%s) - s ))s: $out"
}

save() { cache_save 'redis-*.tar.zst' "$REDIS_IMAGE"; }

case ${1:-ensure} in
  ensure) cache_ensure "$REDIS_IMAGE" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  *) echo "usage: $0 [ensure|build|key]" >&2; exit 2 ;;
esac
