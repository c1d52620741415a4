#!/usr/bin/env bash
# images/controllers/lib.sh — sourced by the recipes whose binary is built in this module (images/cert-manager,
# images/flux, images/netpol): where the module is, its part of their keys, their pin check and their build.

CTRL=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ctrl_key: a hash of the dependency graph (go.mod, go.sum) and of how it is built (this file), part of each key
ctrl_key() { cat "$CTRL/go.mod" "$CTRL/go.sum" "$CTRL/lib.sh" | sha256sum | cut -d' ' -f1; }

# ctrl_pin MODULE WANT PATH: the version of MODULE this module selects must be WANT, the root Makefile's pin; else
# name the `go get PATH@WANT` (PATH: the module, or the tool's package) that makes them equal, and stop
ctrl_pin() {
  local have; have=$(cd "$CTRL" && go list -m -f '{{.Version}}' "$1")
  [ "$have" = "$2" ] || { echo "images/controllers/go.mod selects $1 $have, the Makefile pins $2: make them equal (cd images/controllers && go get $3@$2)" >&2; exit 1; }
}

# ctrl_build OUT PACKAGE: PACKAGE's static binary at OUT
ctrl_build() { (cd "$CTRL" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1" "$2"); }
