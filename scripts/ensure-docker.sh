#!/usr/bin/env bash
# scripts/ensure-docker.sh — make a usable Docker daemon available on this host. Idempotent: a warm run only checks.
#
#   scripts/ensure-docker.sh [debian-package ...]
#
# 1. installs Debian's docker.io when `dockerd` is missing, plus any extra Debian packages named on the command line
#    that are not installed yet (scripts/apt-install.sh);
# 2. starts dockerd in the background when `docker info` fails (log: $CACHE/logs/dockerd.log) and waits until ready;
# 3. when this host's capability bounding set lacks a capability (a Firecracker VM here lacks CAP_SYS_RESOURCE),
#    docker's --privileged containers (kind nodes) fail with "runc create failed: unable to start container process:
#    unable to apply caps: operation not permitted". It then builds runc-capfix (images/kind-node/src/runc-capfix/main.go,
#    a runc wrapper that drops the capabilities the host cannot grant), installs it as /usr/local/lib/spacefleet/runc-capfix
#    and registers it as dockerd's default runtime in /etc/docker/daemon.json (dockerd reloads it on SIGHUP).
#    Revert: remove the "runtimes"/"default-runtime" keys from /etc/docker/daemon.json; kill -HUP $(pidof dockerd).
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
CACHE=${CACHE:-$HOME/.cache/spacefleet}
CAPFIX_DIR=/usr/local/lib/spacefleet
CAPFIX_BIN=$CAPFIX_DIR/runc-capfix
CAPFIX_SRC=$REPO/images/kind-node/src/runc-capfix/main.go
DAEMON_JSON=/etc/docker/daemon.json

log() { echo "[ensure-docker] $*" >&2; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- 1. packages (scripts/apt-install.sh: one apt at a time on this machine, only what is missing)
pkgs=("$@")
command -v dockerd >/dev/null 2>&1 || pkgs+=(docker.io)
if [ ${#pkgs[@]} -gt 0 ]; then CACHE=$CACHE "$REPO/scripts/apt-install.sh" "${pkgs[@]}"; fi
command -v dockerd >/dev/null || { log "dockerd still missing after installing docker.io"; exit 1; }

# ---- 2. daemon
if ! docker info >/dev/null 2>&1; then
  if pidof dockerd >/dev/null; then
    log "dockerd is running but not answering yet; waiting"
  else
    mkdir -p "$CACHE/logs"
    log "starting dockerd (log: $CACHE/logs/dockerd.log)"
    sudo_ setsid nohup dockerd >>"$CACHE/logs/dockerd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not become ready in 60s:"; tail -20 "$CACHE/logs/dockerd.log" >&2 || true; exit 1; }
  log "dockerd is ready"
fi

# ---- 3. capability bounding set
last=$(cat /proc/sys/kernel/cap_last_cap)
bnd=$((16#$(awk '/^CapBnd/{print $2}' /proc/self/status)))
want=$(( (1 << (last + 1)) - 1 ))
if [ $(( bnd & want )) -eq $want ]; then
  exit 0   # every capability is available: plain runc works
fi
# (re)build the wrapper when missing or when its source changed
sum=$(sha256sum "$CAPFIX_SRC" | cut -c1-16)
if [ ! -x "$CAPFIX_BIN" ] || [ "$(cat "$CAPFIX_BIN.sum" 2>/dev/null)" != "$sum" ]; then
  log "capability bounding set is incomplete (CapBnd=$(printf %x $bnd)): building runc-capfix"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  cp "$CAPFIX_SRC" "$tmp/main.go"; printf 'module spacefleet/runccapfix\n\ngo 1.24.0\n' > "$tmp/go.mod"
  (cd "$tmp" && CGO_ENABLED=0 GOWORK=off GOFLAGS='' go build -trimpath -ldflags '-s -w' -o "$tmp/runc-capfix" .)
  sudo_ mkdir -p "$CAPFIX_DIR"
  sudo_ install -m0755 "$tmp/runc-capfix" "$CAPFIX_BIN.new" && sudo_ mv -f "$CAPFIX_BIN.new" "$CAPFIX_BIN"
  echo "$sum" | sudo_ tee "$CAPFIX_BIN.sum" >/dev/null
fi
sudo_ mkdir -p "$(dirname "$DAEMON_JSON")"
cur='{}'; [ -s "$DAEMON_JSON" ] && cur=$(cat "$DAEMON_JSON")
new=$(echo "$cur" | jq --arg p "$CAPFIX_BIN" '.runtimes["runc-capfix"] = {path: $p} | .["default-runtime"] = "runc-capfix"')
if [ "$(echo "$cur" | jq -S .)" != "$(echo "$new" | jq -S .)" ]; then
  log "registering runc-capfix as docker's default runtime in $DAEMON_JSON (reloading dockerd)"
  echo "$new" | sudo_ tee "$DAEMON_JSON" >/dev/null
fi
if [ "$(docker info -f '{{.DefaultRuntime}}' 2>/dev/null)" != runc-capfix ]; then
  sudo_ kill -HUP "$(pidof dockerd)"
  for _ in $(seq 40); do [ "$(docker info -f '{{.DefaultRuntime}}' 2>/dev/null)" = runc-capfix ] && break; sleep 0.25; done
  [ "$(docker info -f '{{.DefaultRuntime}}' 2>/dev/null)" = runc-capfix ] || { log "dockerd did not pick up runc-capfix"; exit 1; }
fi
