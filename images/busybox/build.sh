#!/usr/bin/env bash
# images/busybox/build.sh — spacefleet/busybox:<version>: Debian's static busybox (busybox-static) in a scratch image,
# for e2e test pods (wget, nc, sh). Debian's busybox `wget -T` segfaults: use `timeout 5 wget ...`.
# Rebuilt only when this script or /bin/busybox changes (label io.spacefleet.busybox.key).
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
BUSYBOX_IMAGE=${BUSYBOX_IMAGE:-spacefleet/busybox:1.35}
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
KEY=$(cat "$HERE/build.sh" /bin/busybox | sha256sum | cut -c1-16)
[ "${1:-}" = key ] && { echo "$KEY"; exit 0; }
if [ "$(docker image inspect -f '{{ index .Config.Labels "io.spacefleet.busybox.key" }}' "$BUSYBOX_IMAGE" 2>/dev/null)" = "$KEY" ]; then
  echo "[busybox] $BUSYBOX_IMAGE is up to date (key $KEY)" >&2; exit 0
fi
# a context of this run's own: another clone may build at the same moment
mkdir -p "$CACHE/busybox"; ctx=$(mktemp -d "$CACHE/busybox/ctx.XXXXXX"); trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/etc"
chmod 1777 "$ctx/rootfs/tmp"; cp /bin/busybox "$ctx/rootfs/bin/"
chroot "$ctx/rootfs" /bin/busybox --install -s /bin
echo 'root:x:0:0:root:/root:/bin/sh' > "$ctx/rootfs/etc/passwd"; echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ctx/rootfs/etc/group"
printf 'FROM scratch\nCOPY rootfs /\nENV PATH=/bin\nCMD ["sh"]\nLABEL io.spacefleet.busybox.key=%s\n' "$KEY" > "$ctx/Dockerfile"
out=$(DOCKER_BUILDKIT=0 docker build -q -t "$BUSYBOX_IMAGE" "$ctx" 2>&1) || { echo "$out" >&2; exit 1; }
echo "[busybox] built $BUSYBOX_IMAGE" >&2
