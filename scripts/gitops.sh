#!/usr/bin/env bash
# scripts/gitops.sh — install a GitOps controller into a kind cluster, idempotently, and wait until it works.
#
#   gitops.sh argocd CLUSTER   Argo CD in core mode (application controller, repo server, Redis; no API server, UI or
#                              ApplicationSet controller) from the pinned module's manifests/core-install.yaml
#                              (images/argocd/install/kustomization.yaml says what is taken out), plus what the
#                              e2e suites use: the AppProject spacefleet-e2e (the harness registry's charts into e2e-*
#                              namespaces, nothing cluster-scoped) and the repository Secret of the harness registry
#                              (OCI over plain HTTP: insecureOCIForceHttp)
#   gitops.sh flux CLUSTER     Flux's source-controller and helm-controller in flux-system, from the pinned modules'
#                              config/ (images/flux/install/kustomization.yaml)
#
# CRDs go first, server-side, and must be Established before anything else is applied. The images are built (or
# loaded from their cached tars) by images/{argocd,redis,flux}/build.sh and loaded into the cluster here, so only the
# suites that need a controller pay for it. The kubeconfig is $CACHE/kind/CLUSTER.kubeconfig (scripts/kind-cluster.sh).
# Pods reach the harness registry as REGISTRY_HOST (default CLUSTER-registry:5000: the registry container on the kind
# network, resolved by Docker's DNS through CoreDNS; scripts/registry.sh). Prints "<controller> ready in Ns" (time
# from the first apply to working) on stderr.
# env: CACHE, KIND, KUBECTL, ARGOCD_VERSION, ARGOCD_GO, FLUX_SOURCE_VERSION, FLUX_HELM_VERSION (pinned by the root
#      Makefile), HELM4_VERSION, REGISTRY_HOST
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${CACHE:-$HOME/.cache/spacefleet}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
export CACHE
log() { echo "[gitops $(date +%T)] $*" >&2; }

usage() { echo "usage: $0 argocd|flux CLUSTER" >&2; exit 2; }
[ $# -eq 2 ] || usage
TOOL=$1 CLUSTER=$2
KCFG=$CACHE/kind/$CLUSTER.kubeconfig
REGISTRY_HOST=${REGISTRY_HOST:-$CLUSTER-registry:5000}
[ -s "$KCFG" ] || { echo "no kubeconfig $KCFG: create the cluster first (scripts/kind-cluster.sh up $CLUSTER ...)" >&2; exit 1; }
kc() { "$KUBECTL" --kubeconfig "$KCFG" --context "kind-$CLUSTER" "$@"; }
# shellcheck source=scripts/lib/wait.sh
source "$HERE/lib/wait.sh"

TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

load_image() { # image
  local out
  out=$("$KIND" load docker-image "$1" --name "$CLUSTER" 2>&1) || { echo "$out" >&2; exit 1; }
}

# wait_until TIMEOUT WHAT CMD...: until CMD succeeds (it prints the state it saw); anything else, an error such as
# "not found" included, is "not there yet". On timeout the last state seen is printed. (For a state that is not a
# condition: conditions go through wait_condition.)
wait_until() {
  local deadline=$(( $(date +%s) + $1 )) what=$2 out; shift 2
  until out=$("$@" 2>&1); do
    if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out waiting for $what; last seen: ${out:-nothing}"; return 1; fi
    sleep 2
  done
}

# workload NS KIND NAME: the controller saw the latest spec and every replica is updated, ready and available (a
# rollout done; a StatefulSet has no condition that says so)
workload() {
  local f gen seen want have updated ready available
  f=$(kc -n "$1" get "$2" "$3" -o jsonpath='{.metadata.generation} {.status.observedGeneration} {.spec.replicas} {.status.replicas} {.status.updatedReplicas} {.status.readyReplicas} {.status.availableReplicas}')
  read -r gen seen want have updated ready available <<<"$f"
  echo "$2/$3: generation ${gen:-?} observed ${seen:-none}, replicas ${want:-?} (${have:-0} running): updated ${updated:-0}, ready ${ready:-0}, available ${available:-0}"
  [ -n "$gen" ] && [ "${seen:-0}" -ge "$gen" ] && [ "${have:-0}" = "$want" ] && [ "${updated:-0}" = "$want" ] &&
    [ "${ready:-0}" = "$want" ] && [ "${available:-0}" = "$want" ]
}

apply_crds() { # file...
  local args=() f
  for f in "$@"; do args+=(-f "$f"); done
  kc apply --server-side --force-conflicts --field-manager spacefleet-gitops "${args[@]}" >/dev/null
}

apply() { kc apply --server-side --force-conflicts --field-manager spacefleet-gitops -f - >/dev/null; }

# only_images FILE IMAGE...: every image the rendered manifests name is one of IMAGE (nothing can be pulled)
only_images() {
  local file=$1 img bad; shift
  bad=$(sed -n 's/^[[:space:]]*image:[[:space:]]*//p' "$file" | tr -d '"' | sort -u | while read -r img; do
    case " $* " in *" $img "*) ;; *) echo "$img" ;; esac; done)
  [ -z "$bad" ] || { log "the rendered manifests still name images this harness did not build: $bad"; exit 1; }
}

argocd() {
  local version=${ARGOCD_VERSION:-v3.6.2} image redis mod s
  image=spacefleet/argocd:$version redis=spacefleet/redis:7.0
  ARGOCD_IMAGE=$image "$ROOT/images/argocd/build.sh" ensure
  REDIS_IMAGE=$redis "$ROOT/images/redis/build.sh" ensure
  mod=$(ARGOCD_IMAGE=$image "$ROOT/images/argocd/build.sh" module)
  load_image "$image"; load_image "$redis"
  s=$(date +%s)
  # Installed already (a kept cluster): the harness pushes the same chart version again on every run, and Argo CD
  # keeps what it pulled and rendered by version (the chart in the repo server's /tmp, the manifests in Redis, which
  # persists nothing): both are restarted below, so this run renders the package it just pushed.
  local rerun=0
  kc -n argocd get deployment argocd-repo-server >/dev/null 2>&1 && rerun=1
  apply_crds "$mod"/manifests/crds/{application,appproject,applicationset}-crd.yaml
  wait_condition kc 120 Established crd/applications.argoproj.io crd/appprojects.argoproj.io crd/applicationsets.argoproj.io
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n' | apply
  # Redis' password, created once (upstream's init container would run the CLI): never on a command line
  if ! kc -n argocd get secret argocd-redis >/dev/null 2>&1; then
    od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$TMP/auth"
    kc -n argocd create secret generic argocd-redis --from-file=auth="$TMP/auth" >/dev/null 2>&1 \
      || kc -n argocd get secret argocd-redis >/dev/null   # created meanwhile by a concurrent install: fine
    rm -f "$TMP/auth"
  fi
  mkdir -p "$TMP/argocd"
  cp "$ROOT/images/argocd/install/kustomization.yaml" "$mod/manifests/core-install.yaml" "$TMP/argocd/"
  kc kustomize "$TMP/argocd" \
    | sed -e "s#quay.io/argoproj/argocd:$version#$image#g" \
          -e "s#public.ecr.aws/docker/library/redis:[^[:space:]\"]*#$redis#g" \
          -e 's#imagePullPolicy: Always#imagePullPolicy: IfNotPresent#' > "$TMP/argocd.yaml"
  only_images "$TMP/argocd.yaml" "$image" "$redis"
  apply < "$TMP/argocd.yaml"
  # What the e2e suites use: their project (the harness registry's charts into e2e-* namespaces; no cluster-scoped
  # resource is allowed, so a chart that grew one fails to sync) and the registry as a Helm OCI repository.
  apply <<EOF
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: spacefleet-e2e
  namespace: argocd
spec:
  description: "The Spacefleet e2e suites (tests/e2e): the chart from the harness registry into e2e-* namespaces"
  sourceRepos:
  - $REGISTRY_HOST/charts
  destinations:
  - server: https://kubernetes.default.svc
    namespace: "e2e-*"
  namespaceResourceWhitelist:
  - group: '*'
    kind: '*'
---
apiVersion: v1
kind: Secret
metadata:
  name: repo-spacefleet-charts
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  name: spacefleet-charts
  type: helm
  url: $REGISTRY_HOST/charts
  enableOCI: "true"
  insecureOCIForceHttp: "true"
EOF
  if [ "$rerun" = 1 ]; then
    kc -n argocd rollout restart deployment/argocd-repo-server deployment/argocd-redis >/dev/null
    log "restarted the repo server and Redis (a re-run: their caches may hold a chart of the same version)"
  fi
  wait_until 300 "Redis" workload argocd deployment argocd-redis
  wait_until 300 "the repo server" workload argocd deployment argocd-repo-server
  wait_until 300 "the application controller" workload argocd statefulset argocd-application-controller
  log "argocd $version ready in $(( $(date +%s) - s ))s (controller, repo server and Redis Ready; AppProject spacefleet-e2e, repository $REGISTRY_HOST/charts)"
}

flux() {
  local sv=${FLUX_SOURCE_VERSION:-v1.9.6} hv=${FLUX_HELM_VERSION:-v1.6.4} simage himage src helm s
  simage=spacefleet/flux-source-controller:$sv himage=spacefleet/flux-helm-controller:$hv
  "$ROOT/images/flux/build.sh" ensure
  src=$("$ROOT/images/flux/build.sh" module source-controller)
  helm=$("$ROOT/images/flux/build.sh" module helm-controller)
  load_image "$simage"; load_image "$himage"
  s=$(date +%s)
  apply_crds "$src"/config/crd/bases/*.yaml "$helm"/config/crd/bases/*.yaml
  wait_condition kc 120 Established crd/ocirepositories.source.toolkit.fluxcd.io crd/helmcharts.source.toolkit.fluxcd.io \
    crd/helmreleases.helm.toolkit.fluxcd.io
  mkdir -p "$TMP/flux/source-controller" "$TMP/flux/helm-controller"
  cp -r "$src/config" "$TMP/flux/source-controller/"; cp -r "$helm/config" "$TMP/flux/helm-controller/"
  cp "$ROOT/images/flux/install/"*.yaml "$TMP/flux/"
  chmod -R u+w "$TMP/flux"   # copied from the read-only module cache
  kc kustomize "$TMP/flux" > "$TMP/flux.yaml"
  only_images "$TMP/flux.yaml" "$simage" "$himage"
  apply < "$TMP/flux.yaml"
  wait_until 300 "the source-controller" workload flux-system deployment source-controller
  wait_until 300 "the helm-controller" workload flux-system deployment helm-controller
  log "flux ready in $(( $(date +%s) - s ))s (source-controller $sv, helm-controller $hv Ready)"
}

case $TOOL in
  argocd) argocd ;;
  flux) flux ;;
  *) usage ;;
esac
