#!/usr/bin/env bash
# scripts/apt-install.sh PACKAGE[=VERSION]... — install the Debian packages that are not installed yet; the one way
# this repository installs host packages (the `apt` gate refuses any other apt-get on the host).
#
# apt-get does not wait for another apt: a second `apt-get update` fails at once with "Could not get lock
# /var/lib/apt/lists/lock". On a fresh machine `make test` (yamllint, shellcheck, postgresql-15) and the image builds
# `.ci/run` starts beside it (docker.io, debootstrap) install at the same moment, as do two clones. So every install
# takes one lock ($CACHE/locks/apt.lock), checks again under it (another run may just have installed the package),
# and waits for an apt that is not ours (the lists lock: retried; dpkg's lock: DPkg::Lock::Timeout).
# A pinned PACKAGE=VERSION that the archive no longer has falls back to the archive's version, with a note.
set -euo pipefail
CACHE=${CACHE:-$HOME/.cache/spacefleet}
[ $# -gt 0 ] || { echo "usage: apt-install.sh PACKAGE[=VERSION]..." >&2; exit 2; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { [ "$(dpkg-query -W -f='${Status}' "${1%%=*}" 2>/dev/null)" = "install ok installed" ]; }
missing() { local p; for p in "$@"; do installed "$p" || printf '%s\n' "$p"; done; }

mapfile -t want < <(missing "$@")
[ ${#want[@]} -gt 0 ] || exit 0
mkdir -p "$CACHE/locks"
exec 9>"$CACHE/locks/apt.lock"
flock 9
mapfile -t want < <(missing "${want[@]}")
[ ${#want[@]} -gt 0 ] || { echo "[apt-install] $*: installed meanwhile by another run"; exit 0; }

echo "[apt-install] installing Debian packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
for i in $(seq 60); do
  if out=$(sudo_ apt-get update -qq 2>&1); then break; fi
  # an apt outside this repository (its lists lock): wait for it; anything else is a real failure
  if [ "$i" -lt 60 ] && grep -F 'Could not get lock' <<<"$out" >/dev/null; then sleep 5; continue; fi
  printf '%s\n' "$out" >&2; exit 1
done
apt_install() { sudo_ apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends "$@" >/dev/null; }
if ! apt_install "${want[@]}"; then
  case "${want[*]}" in
    *=*) echo "[apt-install] a pinned version is not in the archive; installing its version instead: ${want[*]%%=*}" >&2
         unpinned=(); for p in "${want[@]}"; do unpinned+=("${p%%=*}"); done
         apt_install "${unpinned[@]}" ;;
    *) exit 1 ;;
  esac
fi
