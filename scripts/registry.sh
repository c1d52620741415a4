#!/usr/bin/env bash
# scripts/registry.sh — the harness's local OCI registry, kind's documented local-registry pattern: a registry
# container on the kind docker network, published on a loopback port of the host. The host (docker push, helm push)
# reaches it as localhost:PORT; each kind node's containerd maps localhost:PORT to http://NAME:5000 through
# /etc/containerd/certs.d (the cluster is created with config_path set: scripts/kind-cluster.sh). So an image
# reference is the same on the host and in the cluster, and its digest is the registry's.
#
#   registry.sh up NAME IMAGE              start (or reuse a running) registry container NAME from IMAGE; print localhost:PORT
#   registry.sh addr NAME                  print localhost:PORT of a running registry
#   registry.sh connect NAME CLUSTER       attach NAME to the kind network and point CLUSTER's nodes at it
#   registry.sh push NAME IMAGE...         push local docker images (repo:tag) to it; print "IMAGE REF@DIGEST" per image
#   registry.sh down NAME                  remove the container (and its blobs)
#
# The host port is derived from NAME (the next free one if taken), so several clusters' registries never clash;
# `connect` rewrites the nodes' hosts.toml on every run, so a recreated registry on a new port is picked up.
set -euo pipefail

KIND=${KIND:-kind}
log() { echo "[registry $(date +%T)] $*" >&2; }

addr() { # NAME -> localhost:PORT
  local p
  p=$(docker port "$1" 5000/tcp 2>/dev/null) || return 1
  # "127.0.0.1:32768" (one line per published address; we publish one)
  p=${p%%$'\n'*}
  echo "localhost:${p##*:}"
}

# A loopback port for registry NAME: derived from the name (stable across runs), the next free one if taken.
free_port() {
  local base p
  base=$(( 20000 + $(printf '%s' "$1" | cksum | cut -d' ' -f1) % 20000 ))
  for p in $(seq "$base" $(( base + 100 ))); do
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
  done
  log "no free loopback port in $base-$(( base + 100 ))"; exit 1
}

running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

ready() { # ADDR TIMEOUT_S: the v2 API answers 200
  local deadline=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$1/v2/" 2>/dev/null)" = 200 ] && return 0
    sleep 0.2
  done
  return 1
}

up() { # NAME IMAGE
  local name=$1 image=$2 s a
  s=$(date +%s%N)
  if running "$name" && [ "$(docker inspect -f '{{.Config.Image}}' "$name")" = "$image" ] && a=$(addr "$name") && ready "$a" 10; then
    log "reusing registry $name at $a"; echo "$a"; return
  fi
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker image inspect "$image" >/dev/null 2>&1 || { log "image $image is not in the local docker (make images-registry)"; exit 1; }
  local port net=()
  port=$(free_port "$name")
  # join the kind network now when it exists (connect does it later otherwise); the host port is explicit, so it
  # stays the same across a network connect or a daemon restart (docker re-picks an ephemeral one)
  docker network inspect kind >/dev/null 2>&1 && net=(--network kind)
  docker run -d --restart=unless-stopped --name "$name" "${net[@]}" -p "127.0.0.1:$port:5000" "$image" >/dev/null
  a=$(addr "$name") || { docker logs "$name" >&2 || true; log "registry $name publishes no port"; exit 1; }
  ready "$a" 60 || { docker logs "$name" >&2 || true; log "registry $name did not answer on http://$a/v2/ within 60s"; exit 1; }
  log "registry $name up at $a in $(( ($(date +%s%N) - s) / 1000000 ))ms"
  echo "$a"
}

connect() { # NAME CLUSTER
  local name=$1 cluster=$2 a node
  a=$(addr "$name") || { log "registry $name is not running"; exit 1; }
  # kind creates the "kind" network with the first cluster; a registry started before it joins it now.
  if [ "$(docker inspect -f '{{if index .NetworkSettings.Networks "kind"}}yes{{end}}' "$name")" != yes ]; then
    docker network connect kind "$name"
  fi
  for node in $("$KIND" get nodes --name "$cluster"); do
    docker exec "$node" grep -F 'config_path = "/etc/containerd/certs.d"' /etc/containerd/config.toml >/dev/null || {
      log "node $node has no containerd config_path: cluster $cluster was created without the registry config (delete it and rerun)"; exit 1; }
    docker exec "$node" mkdir -p "/etc/containerd/certs.d/$a"
    printf '[host."http://%s:5000"]\n' "$name" | docker exec -i "$node" cp /dev/stdin "/etc/containerd/certs.d/$a/hosts.toml"
  done
  log "cluster $cluster pulls $a/* from http://$name:5000"
}

# The manifest digest the registry serves for REPO:TAG (what containerd resolves, so what image@digest must name).
digest() { # ADDR REPO TAG
  local h
  h=$(curl -sfI -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$1/v2/$2/manifests/$3") || return 1
  h=$(printf '%s\n' "$h" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
  [ -n "$h" ] && echo "$h"
}

push() { # NAME IMAGE...
  local name=$1 a img repo tag ref d s; shift
  a=$(addr "$name") || { log "registry $name is not running"; exit 1; }
  for img in "$@"; do
    docker image inspect "$img" >/dev/null 2>&1 || { log "image $img is not in the local docker"; exit 1; }
    repo=${img%:*}; tag=${img##*:}; ref="$a/$repo:$tag"; s=$(date +%s%N)
    docker tag "$img" "$ref"
    docker push -q "$ref" >/dev/null || { docker rmi "$ref" >/dev/null 2>&1 || true; log "docker push $ref failed"; exit 1; }
    # the push tag is only a name for docker push: drop it, or every run's port leaves a tag per image behind
    docker rmi "$ref" >/dev/null 2>&1 || true
    d=$(digest "$a" "$repo" "$tag") || { log "no digest for $ref"; exit 1; }
    log "pushed $ref ($d) in $(( ($(date +%s%N) - s) / 1000000 ))ms"
    echo "$img $a/$repo@$d"
  done
}

down() { docker rm -f "$1" >/dev/null 2>&1 || true; }

cmd=${1:-}; shift || true
case $cmd in
  up) [ $# -eq 2 ] || { echo "usage: $0 up NAME IMAGE" >&2; exit 2; }; up "$@" ;;
  addr) [ $# -eq 1 ] || { echo "usage: $0 addr NAME" >&2; exit 2; }; addr "$1" ;;
  connect) [ $# -eq 2 ] || { echo "usage: $0 connect NAME CLUSTER" >&2; exit 2; }; connect "$@" ;;
  push) [ $# -ge 2 ] || { echo "usage: $0 push NAME IMAGE..." >&2; exit 2; }; push "$@" ;;
  down) [ $# -eq 1 ] || { echo "usage: $0 down NAME" >&2; exit 2; }; down "$1" ;;
  *) echo "usage: $0 up|addr|connect|push|down ..." >&2; exit 2 ;;
esac
