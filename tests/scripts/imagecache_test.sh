#!/usr/bin/env bash
# tests/scripts/imagecache_test.sh — images/cache.sh's cache_ensure for a recipe that builds several images (Flux's
# two controllers): it builds when an image is missing, builds nothing when every image carries the key, loads the
# cached tar when one image is gone (not only when the first is), and rebuilds when the tar holds another key.
# docker is a stand-in here (a directory of "images" with their key label), so the test runs without a daemon.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
store=$tmp/docker; mkdir -p "$store"

# the stand-in: an image is a file named after its reference, holding its key label
docker() {
  case "$1 ${2:-}" in
    "image inspect") [ -f "$store/${*: -1}" ] && cat "$store/${*: -1}" ;;
    "save "*) shift; (cd "$store" && tar -cf - "$@") ;;
    "load "*) tar -xf - -C "$store" ;;
    *) echo "unexpected docker $*" >&2; return 1 ;;
  esac
}
ref() { printf '%s' "$1" | tr '/:' '__'; }   # a reference as a file name

export CACHE=$tmp/cache
IMGCACHE=$CACHE/images KEY_LABEL=io.spacefleet.test.key
A=$(ref spacefleet/a:1) B=$(ref spacefleet/b:1)
log() { :; }
builds=0
build() { builds=$((builds + 1)); echo "$KEY" > "$store/$A"; echo "$KEY" > "$store/$B"; }
save() { cache_save 'test-*.tar.zst' "$A" "$B"; }
# shellcheck source=images/cache.sh
source "$root/images/cache.sh"

fails=0
check() { # what want got
  if [ "$2" = "$3" ]; then echo "ok    $1"; else echo "FAIL  $1: want $2, got $3"; fails=$((fails + 1)); fi
}
ensure() { cache_ensure "$A" "$B"; exec 9>&-; }   # the lock is per process in real use: let go of it here

KEY=k1 TARBALL=$IMGCACHE/test-k1.tar.zst
ensure;                 check "nothing there: built once, both images keyed" "1 k1 k1" "$builds $(cat "$store/$A") $(cat "$store/$B")"
check "the tar is saved" yes "$([ -s "$TARBALL" ] && echo yes || echo no)"
ensure;                 check "both present with the key: nothing built" 1 "$builds"
rm "$store/$B"; ensure; check "the second image gone: loaded from the tar, not built" "1 k1" "$builds $(cat "$store/$B" 2>/dev/null || echo missing)"
rm "$store/$A"; ensure; check "the first image gone: loaded from the tar, not built" "1 k1" "$builds $(cat "$store/$A" 2>/dev/null || echo missing)"
KEY=k2 TARBALL=$IMGCACHE/test-k2.tar.zst
ensure;                 check "a new key: built again, both keyed" "2 k2 k2" "$builds $(cat "$store/$A") $(cat "$store/$B")"
check "the older tar is deleted" "test-k2.tar.zst" "$(ls "$IMGCACHE")"
echo "imagecache_test: $fails failed"
[ "$fails" -eq 0 ]
