#!/usr/bin/env bash
# images/cache.sh — sourced by the image recipes that cache a built image (argocd, cert-manager, cloudnative-pg,
# flux, netpol, postgres, redis): the one way they find, load or build it. A built image carries its recipe's key (a
# hash of what goes into it) in a label; a zstd tar of it under $IMGCACHE survives docker prunes and serves every
# clone.
# The recipe sets KEY, KEY_LABEL, TARBALL and IMGCACHE, and defines log, build and save (save calls cache_save).
# This file is not part of any key: it decides how an image is found, not what is in it.

# cache_image_key REF: the key label of the local image REF; empty when there is no such image
cache_image_key() { docker image inspect -f "{{ index .Config.Labels \"$KEY_LABEL\" }}" "$1" 2>/dev/null || true; }

# cache_save GLOB REF...: save the images REF... into $TARBALL, then delete the recipe's older tars (GLOB: their names)
cache_save() {
  local glob=$1; shift
  mkdir -p "$IMGCACHE"
  docker save "$@" | zstd -T0 -3 -q -o "$TARBALL.$$.tmp" && mv -f "$TARBALL.$$.tmp" "$TARBALL"
  find "$IMGCACHE" -maxdepth 1 -name "$glob" ! -name "$(basename "$TARBALL")" -delete
}

# cache_lock NAME: hold $CACHE/locks/NAME.lock until the calling script exits. The cache serves every clone on the
# machine, sometimes at the same moment: one build per recipe at a time, the others find its result.
cache_lock() {
  mkdir -p "${CACHE:?}/locks"
  exec 9>"$CACHE/locks/$1.lock"
  if ! flock -n 9; then log "waiting for another run building $1 (lock $CACHE/locks/$1.lock)"; flock 9; fi
}

# cache_all_keyed REF...: every REF is present with this key
cache_all_keyed() {
  local ref
  for ref in "$@"; do [ "$(cache_image_key "$ref")" = "$KEY" ] || return 1; done
}

# cache_ensure REF...: every REF present with this key -> nothing (their tar saved when missing); the key's tar
# present -> docker load; otherwise build, then save. (A recipe that builds several images names them all.) Under
# the recipe's lock (named after the first REF's repository).
cache_ensure() {
  cache_lock "image-$(basename "${1%%:*}")"
  if cache_all_keyed "$@"; then log "$* up to date (key $KEY)"; [ -s "$TARBALL" ] || save; return; fi
  if [ -s "$TARBALL" ]; then
    zstd -dc "$TARBALL" | docker load >/dev/null
    if cache_all_keyed "$@"; then log "$* loaded from $TARBALL"; return; fi
    log "$TARBALL does not hold key $KEY: rebuilding"
  fi
  build; save
}
