#!/usr/bin/env bash
# images/postgres/build.sh — spacefleet/postgres:15 from Debian's postgresql-15, no registry needed.
# A debootstrap minbase rootfs, the postgres user/group created with uid/gid 999 (like the official image) before
# postgresql-15 is installed, and docker-entrypoint.sh (the official image's contract; see README.md).
#
# usage: build.sh [ensure|build|key]      default: ensure
#   ensure: image present with this recipe's key -> nothing; cached tar present -> docker load; else build + save
# env: CACHE (default ~/.cache/spacefleet), PG_IMAGE (default spacefleet/postgres), SUITE, MIRROR
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
W=$CACHE/postgres
IMGCACHE=$CACHE/images
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PG_IMAGE=${PG_IMAGE:-spacefleet/postgres}
PG_MAJOR=15
export DOCKER_BUILDKIT=0

log() { echo "[postgres $(date +%T)] $*" >&2; }
KEY=$({ cd "$HERE" && find . -type f ! -name README.md | LC_ALL=C sort | xargs sha256sum; echo "$SUITE $PG_IMAGE $PG_MAJOR"; } | sha256sum | cut -c1-16)
TARBALL=$IMGCACHE/postgres-$PG_MAJOR-$KEY.tar.zst

KEY_LABEL=io.spacefleet.postgres.key
# shellcheck source=images/cache.sh
source "$HERE/../cache.sh"

build() {
  command -v debootstrap >/dev/null || { echo "missing debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  local R=$W/rootfs s; s=$(date +%s)
  mkdir -p "$W"; rm -rf "$R"
  log "debootstrap $SUITE minbase (log: $W/debootstrap.log)"
  debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" > "$W/debootstrap.log" 2>&1 || { tail -20 "$W/debootstrap.log" >&2; exit 1; }
  mount -t proc proc "$R/proc"; trap "umount '$R/proc' 2>/dev/null || true" EXIT
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 0755 "$R/usr/sbin/policy-rc.d"
  # like docker-library/postgres: uid/gid 999 first, no cluster created by the package, listen on all addresses
  chroot "$R" sh -exc "
    groupadd -r postgres --gid=999
    useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
    mkdir -p /var/lib/postgresql && chown -R postgres:postgres /var/lib/postgresql
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql-common
    sed -ri 's/#(create_main_cluster) .*\$/\1 = false/' /etc/postgresql-common/createcluster.conf
    apt-get install -y -qq --no-install-recommends postgresql-$PG_MAJOR
    sed -ri \"s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!\" /usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample
    grep -F \"listen_addresses = '*'\" /usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample
    mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d /var/lib/postgresql/data
    chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql && chmod 03775 /var/run/postgresql
    chmod 1777 /var/lib/postgresql/data
    apt-get clean
  " > "$W/install.log" 2>&1 || { tail -30 "$W/install.log" >&2; exit 1; }
  umount "$R/proc"; trap - EXIT
  [ "$(chroot "$R" id -u postgres):$(chroot "$R" id -g postgres)" = 999:999 ] || { echo "postgres is not 999:999" >&2; exit 1; }
  install -m0755 "$HERE/docker-entrypoint.sh" "$R/usr/local/bin/docker-entrypoint.sh"
  rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/* \
         "$R"/usr/share/locale/* "$R"/var/log/*.log "$R"/usr/sbin/policy-rc.d "$R"/etc/resolv.conf
  : > "$R/etc/resolv.conf"
  local ver; ver=$(chroot "$R" /usr/lib/postgresql/$PG_MAJOR/bin/postgres --version | awk '{print $3}')   # e.g. 15.14
  log "PostgreSQL $ver"
  tar -C "$R" --numeric-owner -cf - . | docker import - "$PG_IMAGE-raw:$PG_MAJOR" >/dev/null
  mkdir -p "$W/ctx"   # STOPSIGNAL cannot be set by `docker import --change` on docker 20.10
  cat > "$W/ctx/Dockerfile" <<EOF
FROM $PG_IMAGE-raw:$PG_MAJOR
ENV PG_MAJOR=$PG_MAJOR PG_VERSION=$ver LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data \\
    PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
LABEL io.spacefleet.postgres.key=$KEY org.opencontainers.image.version=$ver
EOF
  local out; out=$(docker build -q -t "$PG_IMAGE:$PG_MAJOR" -t "$PG_IMAGE:$ver" "$W/ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  docker rmi "$PG_IMAGE-raw:$PG_MAJOR" >/dev/null 2>&1 || true
  log "built $PG_IMAGE:$PG_MAJOR and $PG_IMAGE:$ver in $(( $(date +%s) - s ))s"
}

save() {
  local ver; ver=$(docker image inspect -f '{{ index .Config.Labels "org.opencontainers.image.version" }}' "$PG_IMAGE:$PG_MAJOR")
  cache_save "postgres-$PG_MAJOR-*.tar.zst" "$PG_IMAGE:$PG_MAJOR" "$PG_IMAGE:$ver"
}

case ${1:-ensure} in
  ensure) cache_ensure "$PG_IMAGE:$PG_MAJOR" ;;
  build) build; save ;;
  key) echo "$KEY" ;;
  *) echo "usage: $0 [ensure|build|key]" >&2; exit 2 ;;
esac
