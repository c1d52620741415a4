#!/usr/bin/env bash
# scripts/addons.sh — install an add-on into a kind cluster, idempotently, and wait until it works.
#
#   addons.sh cert-manager CLUSTER   CRDs (server-side), our controller, then a CA ClusterIssuer bootstrapped the
#                                    usual way: ClusterIssuer spacefleet-selfsigned -> Certificate spacefleet-ca
#                                    (cert-manager namespace, isCA) -> ClusterIssuer spacefleet-ca (Ready)
#   addons.sh cnpg CLUSTER           the CloudNativePG operator from the module's release manifest, its image
#                                    swapped for ours; ready when its webhooks admit a Cluster (server dry-run)
#
# The image is built (or loaded from its cached tar) by images/<addon>/build.sh and loaded into the cluster here,
# so only the suites that need an add-on pay for it. The kubeconfig is $CACHE/kind/CLUSTER.kubeconfig
# (scripts/kind-cluster.sh). Prints "<addon> ready in Ns" (time from apply to working) on stderr.
# env: CACHE, KIND, KUBECTL, CERT_MANAGER_VERSION, CNPG_VERSION (pinned by the root Makefile)
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${CACHE:-$HOME/.cache/spacefleet}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
export CACHE
log() { echo "[addons $(date +%T)] $*" >&2; }

[ $# -eq 2 ] || { echo "usage: $0 cert-manager|cnpg CLUSTER" >&2; exit 2; }
ADDON=$1 CLUSTER=$2
KCFG=$CACHE/kind/$CLUSTER.kubeconfig
[ -s "$KCFG" ] || { echo "no kubeconfig $KCFG: create the cluster first (scripts/kind-cluster.sh up $CLUSTER ...)" >&2; exit 1; }
kc() { "$KUBECTL" --kubeconfig "$KCFG" --context "kind-$CLUSTER" "$@"; }
# shellcheck source=scripts/lib/wait.sh
source "$HERE/lib/wait.sh"

load_image() { # image
  local out
  out=$("$KIND" load docker-image "$1" --name "$CLUSTER" 2>&1) || { echo "$out" >&2; exit 1; }
}

# until CMD succeeds or TIMEOUT seconds pass; the last output is shown on failure
retry() { # timeout what cmd...
  local deadline=$(( $(date +%s) + $1 )) what=$2 out; shift 2
  until out=$("$@" 2>&1); do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "$out" >&2; log "timed out waiting for $what"; return 1; fi
    sleep 2
  done
}

cert_manager() {
  local image=spacefleet/cert-manager-controller:${CERT_MANAGER_VERSION:-v1.21.2} s crds
  CERT_MANAGER_IMAGE=$image "$ROOT/images/cert-manager/build.sh" ensure
  crds=$(CERT_MANAGER_IMAGE=$image "$ROOT/images/cert-manager/build.sh" crds)
  load_image "$image"
  s=$(date +%s)
  local files=() f
  for f in $crds; do files+=(-f "$f"); done   # one path per word (the recipe prints them space-separated)
  kc apply --server-side --force-conflicts "${files[@]}" >/dev/null
  wait_condition kc 120 Established \
    crd/certificates.cert-manager.io crd/certificaterequests.cert-manager.io crd/issuers.cert-manager.io crd/clusterissuers.cert-manager.io
  sed "s#__IMAGE__#$image#" "$ROOT/images/cert-manager/controller.yaml" | kc apply --server-side --force-conflicts -f - >/dev/null
  kc -n cert-manager rollout status deployment/cert-manager --timeout=180s >/dev/null
  kc apply --server-side --force-conflicts -f - >/dev/null <<'EOF'
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: spacefleet-selfsigned
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: spacefleet-ca
  namespace: cert-manager
spec:
  isCA: true
  commonName: Spacefleet e2e CA
  secretName: spacefleet-ca
  duration: 8760h
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Never
  issuerRef:
    group: cert-manager.io
    kind: ClusterIssuer
    name: spacefleet-selfsigned
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: spacefleet-ca
spec:
  ca:
    secretName: spacefleet-ca
EOF
  wait_condition kc 180 Ready -n cert-manager certificate/spacefleet-ca
  wait_condition kc 180 Ready clusterissuer/spacefleet-ca
  log "cert-manager ready in $(( $(date +%s) - s ))s (ClusterIssuer spacefleet-ca Ready)"
}

# A Cluster the webhooks must admit (server-side dry run goes through them); nothing is created.
cnpg_probe() {
  kc -n cnpg-system apply --dry-run=server -f - <<'EOF'
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: webhook-probe
spec:
  instances: 1
  storage:
    size: 1Gi
EOF
}

cnpg() {
  local version=${CNPG_VERSION:-1.27.1} image manifest s
  image=spacefleet/cloudnative-pg:$version
  CNPG_IMAGE=$image "$ROOT/images/cloudnative-pg/build.sh" ensure
  manifest=$(CNPG_IMAGE=$image "$ROOT/images/cloudnative-pg/build.sh" manifest)
  load_image "$image"
  s=$(date +%s)
  # our image for the operator and for what it injects into instance pods; never pull (there is no registry)
  sed -e "s#ghcr.io/cloudnative-pg/cloudnative-pg:$version#$image#g" -e 's#imagePullPolicy: Always#imagePullPolicy: IfNotPresent#' \
    "$manifest" | kc apply --server-side --force-conflicts -f - >/dev/null
  kc -n cnpg-system rollout status deployment/cnpg-controller-manager --timeout=300s >/dev/null
  retry 180 "the CloudNativePG webhooks" cnpg_probe
  log "cnpg ready in $(( $(date +%s) - s ))s (operator Ready, webhooks admit a Cluster)"
}

case $ADDON in
  cert-manager) cert_manager ;;
  cnpg) cnpg ;;
  *) echo "usage: $0 cert-manager|cnpg CLUSTER" >&2; exit 2 ;;
esac
