#!/usr/bin/env bash
# scripts/signing-key.sh DIR — a throwaway chart-signing key for `helm package --sign`, generated here and never
# committed: DIR/secring.gpg (private, no passphrase) and DIR/pubring.gpg (the keyring operators verify with). Helm
# reads the legacy keyring format, not gpg 2's pubring.kbx, so both are exported from a temporary GNUPGHOME.
# Kept while DIR exists (a clean clone makes a new one); prints the key's user id.
set -euo pipefail
dir=$1
uid="Spacefleet chart signing (throwaway) <charts@spacefleet.example.com>"
if [ -s "$dir/secring.gpg" ] && [ -s "$dir/pubring.gpg" ]; then echo "$uid"; exit 0; fi
command -v gpg >/dev/null || "$(dirname "$(readlink -f "$0")")/apt-install.sh" gnupg
mkdir -p "$dir"; chmod 700 "$dir"
# a short GNUPGHOME: gpg-agent's socket path must fit in 108 bytes
home=$(mktemp -d /tmp/sf-gpg.XXXXXX)
cleanup() { GNUPGHOME=$home gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$home"; }
trap cleanup EXIT
export GNUPGHOME=$home
# RSA: the OpenPGP code Helm signs and verifies with reads RSA keys in the legacy format.
gpg --batch --quiet --gen-key 2>/dev/null <<EOF
%no-protection
Key-Type: RSA
Key-Length: 3072
Key-Usage: sign
Name-Real: Spacefleet chart signing (throwaway)
Name-Email: charts@spacefleet.example.com
Expire-Date: 0
%commit
EOF
gpg --batch --export-secret-keys > "$dir/secring.gpg.tmp"
gpg --batch --export > "$dir/pubring.gpg.tmp"
if [ ! -s "$dir/secring.gpg.tmp" ] || [ ! -s "$dir/pubring.gpg.tmp" ]; then echo "signing-key: gpg exported no key" >&2; exit 1; fi
chmod 600 "$dir/secring.gpg.tmp"
mv "$dir/secring.gpg.tmp" "$dir/secring.gpg"; mv "$dir/pubring.gpg.tmp" "$dir/pubring.gpg"
echo "$uid"
