# mk/kind.mk — offline images, the kind clusters, the demo and the e2e harness.
# Nothing is pulled from a container registry: the kind node images, PostgreSQL, busybox and the NetworkPolicy
# controller are built from Debian packages and Go modules (images/*/build.sh), cached as zstd tars under
# $(CACHE)/images. Pinned in the root Makefile: KIND_VERSION, K8S_VERSION (the newest), K8S_FLOOR_VERSION (the floor),
# HELM3_VERSION, NETPOL_VERSION. Set KIND_NODE_IMAGE / KIND_FLOOR_NODE_IMAGE (e.g. kindest/node:v1.37.x on a machine
# that can pull) to use that node image instead of building one: the cluster code path is the same.
#
# Two e2e clusters: KIND_CLUSTER (the newest Kubernetes, KIND_NODES nodes: a control plane and two workers) runs every
# suite; KIND_FLOOR_CLUSTER (the floor, one node) runs the floor suite (E2E_FLOOR_RUN). The demo is one node.

KIND_CLUSTER        ?= spacefleet-e2e
KIND_FLOOR_CLUSTER  ?= $(KIND_CLUSTER)-floor
KIND_DEMO_CLUSTER   ?= spacefleet-demo
KIND_NODES          ?= 3
KIND_DEMO_NODES     ?= 1
KIND_NODE_IMAGE     ?=
KIND_FLOOR_NODE_IMAGE ?=
KIND_BUILT_NODE     := spacefleet/kind-node:$(K8S_VERSION)
KIND_BUILT_FLOOR_NODE := spacefleet/kind-node:$(K8S_FLOOR_VERSION)
KIND_NODE           = $(if $(KIND_NODE_IMAGE),$(KIND_NODE_IMAGE),$(KIND_BUILT_NODE))
KIND_FLOOR_NODE     = $(if $(KIND_FLOOR_NODE_IMAGE),$(KIND_FLOOR_NODE_IMAGE),$(KIND_BUILT_FLOOR_NODE))
# kind and kubectl by version (the cache is shared with clones pinning other versions): kubectl VERSION lives in
# $(CACHE)/kubectl/VERSION/ (the directory the demo's printed PATH adds), the same Kubernetes as the node image
KIND_BIN            := $(BIN)/kind-$(KIND_VERSION)
kubectl_bin          = $(CACHE)/kubectl/$(1)/kubectl
KUBECTL_BIN         := $(call kubectl_bin,$(K8S_VERSION))
KUBECTL_FLOOR_BIN   := $(call kubectl_bin,$(K8S_FLOOR_VERSION))
E2E_APP_IMAGE       ?= $(if $(APP_IMAGE),$(APP_IMAGE),spacefleet/spacefleet:0.1.0)
E2E_PG_IMAGE_REPO   ?= spacefleet/postgres
E2E_PG_IMAGE_TAG    ?= 15
E2E_PG_IMAGE        ?= $(E2E_PG_IMAGE_REPO):$(E2E_PG_IMAGE_TAG)
E2E_BUSYBOX_IMAGE   ?= spacefleet/busybox:1.35
E2E_NETPOL_IMAGE_REPO ?= spacefleet/kube-network-policies
E2E_NETPOL_IMAGE    ?= $(E2E_NETPOL_IMAGE_REPO):$(NETPOL_VERSION)
E2E_KEEP            ?= 0
E2E_TIMEOUT         ?= 60m
# The Prometheus Operator CRDs (ServiceMonitor, PrometheusRule) the zero-downtime suite applies, from this module's
# example/prometheus-operator-crd/ (the API server validates what the chart renders against them).
PROM_OPERATOR_VERSION := v0.94.1
# extra `go test` flags, e.g. E2E_FLAGS="-run TestBundled -v"
E2E_FLAGS           ?=
# The floor suite: every render stored as sent (every example, every optional feature), one real install on the
# bundled database with `helm test`, native sidecars on the migrate Job, the N-1 -> N upgrade. A full `make e2e` runs
# it after the main suites; a filtered one (E2E_FLAGS set) skips it unless E2E_FLOOR=1. `make e2e-floor` runs it alone.
E2E_FLOOR_RUN       := ^(TestEveryRenderIsStoredAsSent|TestBundled|TestNativeSidecarLetsTheMigrateJobComplete|TestUpgradeFromPrevious)$$/^bundled$$
E2E_FLOOR           ?= $(if $(strip $(E2E_FLAGS)),0,1)
KIND_IMAGES_ENV     := CACHE=$(CACHE) KIND_VERSION=$(KIND_VERSION)
# kind_cluster_sh KUBECTL NODES
kind_cluster_sh      = CACHE=$(CACHE) KIND=$(KIND_BIN) KUBECTL=$(1) NODES=$(2) scripts/kind-cluster.sh
KIND_STAMPS         := $(CACHE)/stamps
# Debian packages the image builds need besides docker.io
KIND_HOST_PACKAGES  := debootstrap busybox-static zstd jq
DEMO_RELEASE        ?= spacefleet
DEMO_NAMESPACE      ?= spacefleet

.PHONY: docker tools-kind tools-kubectl-floor images images-main images-later images-node images-node-floor images-postgres images-busybox images-app images-netpol \
        cluster cluster-floor cluster-delete demo demo-check demo-delete e2e e2e-floor

docker: ## ensure a running dockerd (installs docker.io; runc-capfix when the VM lacks capabilities)
	@scripts/ensure-docker.sh $(KIND_HOST_PACKAGES)

# ---- tools: kind, kubectl (same Kubernetes as the node image), helm v3 (tools-helm3 in mk/gates.mk) ----
# kubectl_install VERSION: the node recipe's kubectl of that version (copied when its node image was built here)
define kubectl_install
	@if [ -x "$(call kubectl_bin,$(1))" ]; then :; else \
	  set -e; $(call cache_lock,kubectl-$(1)); \
	  if [ -x "$(call kubectl_bin,$(1))" ]; then echo ">> kubectl $(1): built meanwhile by another run"; else \
	  echo ">> kubectl $(1)"; d=$$(dirname "$(call kubectl_bin,$(1))"); mkdir -p "$$d"; \
	  $(KIND_IMAGES_ENV) K8S_VERSION=$(1) images/kind-node/build.sh kubectl "$$d/.kubectl.$$$$"; mv -f "$$d/.kubectl.$$$$" "$$d/kubectl"; fi; fi
endef

tools-kind: tools-helm3 ## install kind, kubectl (the newest Kubernetes) and helm v3 into the cache (warm run: no-op)
	@if [ -x "$(KIND_BIN)" ]; then :; else \
	  set -e; $(call cache_lock,kind-$(KIND_VERSION)); \
	  if [ -x "$(KIND_BIN)" ]; then echo ">> kind: built meanwhile by another run"; else \
	  echo ">> installing kind $(KIND_VERSION)"; mkdir -p "$(BIN)"; \
	  tmp=$$(mktemp -d "$(BIN)/.kind.XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	  GOFLAGS= GOWORK=off CGO_ENABLED=0 GOBIN="$$tmp" go install -trimpath -ldflags="-s -w" sigs.k8s.io/kind@$(KIND_VERSION); \
	  mv -f "$$tmp/kind" "$(KIND_BIN)"; fi; fi
	$(call kubectl_install,$(K8S_VERSION))

tools-kubectl-floor: ## kubectl of the floor Kubernetes (K8S_FLOOR_VERSION), for the floor cluster
	$(call kubectl_install,$(K8S_FLOOR_VERSION))

# ---- images ----
# what the main e2e cluster needs; `images` adds the NetworkPolicy controller (two suites) and the floor node image
IMAGES_MAIN := images-node images-postgres images-busybox images-app images-registry
images: $(IMAGES_MAIN) images-netpol images-node-floor ## build all images offline, cached (warm run: no-op)
images-main: $(IMAGES_MAIN) ## the images every main e2e suite needs (.ci/run builds these before `make e2e`)
# what only some suites need, built while the others run (.ci/run): Argo CD first (the first suite in the file order
# that counts failed requests uses it), then the Go controllers of images/controllers one after another, in the order
# the suites need them - the NetworkPolicy controller, cert-manager (the TLS suites run alone), Flux - so each finds
# the libraries they share compiled by the one before instead of compiling them at the same time; then CloudNativePG
# and the floor node image (the floor suite, after the exclusive main suites)
images-later: images-argocd images-netpol images-cert-manager images-flux images-cnpg images-node-floor tools-kubectl-floor ## the GitOps, add-on, NetworkPolicy-controller and floor images (what `images-main` leaves out)

# node_image BUILT-NAME OVERRIDE VERSION: build (cached) or, with an override, use/pull that image
define node_image
	@if [ -z "$(2)" ]; then $(KIND_IMAGES_ENV) K8S_VERSION=$(3) NODE_IMAGE=$(1) images/kind-node/build.sh; \
	else docker image inspect $(2) >/dev/null 2>&1 || docker pull $(2); fi
endef
images-node: docker ## the kind node image of the newest Kubernetes (K8S_VERSION)
	$(call node_image,$(KIND_BUILT_NODE),$(KIND_NODE_IMAGE),$(K8S_VERSION))

images-node-floor: docker ## the kind node image of the floor Kubernetes (K8S_FLOOR_VERSION)
	$(call node_image,$(KIND_BUILT_FLOOR_NODE),$(KIND_FLOOR_NODE_IMAGE),$(K8S_FLOOR_VERSION))

images-postgres: docker
	@CACHE=$(CACHE) PG_IMAGE=$(E2E_PG_IMAGE_REPO) images/postgres/build.sh

images-busybox: docker
	@CACHE=$(CACHE) BUSYBOX_IMAGE=$(E2E_BUSYBOX_IMAGE) images/busybox/build.sh

# the NetworkPolicy controller: not loaded by `make cluster`; the suites that need it install it (images/netpol/install.sh,
# which builds it first when a filtered run or .ci/run has not yet)
images-netpol: docker
	@CACHE=$(CACHE) NETPOL_VERSION=$(NETPOL_VERSION) NETPOL_IMAGE=$(E2E_NETPOL_IMAGE_REPO) images/netpol/build.sh

# the app image is `make image` (mk/app.mk); skipped with a note while that target does not exist
images-app: docker
	@if $(MAKE) --no-print-directory -n image >/dev/null 2>&1; then $(MAKE) --no-print-directory image; \
	else echo ">> no 'make image' target yet: app image $(E2E_APP_IMAGE) not built"; fi

# images loaded into a cluster: those present locally (the app image may not exist yet)
kind_load_list = $(E2E_PG_IMAGE) $(E2E_BUSYBOX_IMAGE) $(shell docker image inspect $(E2E_APP_IMAGE) >/dev/null 2>&1 && echo $(E2E_APP_IMAGE))

# ---- clusters ----
cluster: docker images-node images-postgres images-busybox images-app tools-kind ## create or reuse the main e2e cluster (KIND_CLUSTER, KIND_NODES nodes) and load the images
	@$(call kind_cluster_sh,$(KUBECTL_BIN),$(KIND_NODES)) up $(KIND_CLUSTER) $(KIND_NODE) $(kind_load_list)
	@echo "export KUBECONFIG=$$(CACHE=$(CACHE) scripts/kind-cluster.sh kubeconfig $(KIND_CLUSTER))"

cluster-floor: docker images-node-floor images-postgres images-busybox images-app tools-kind tools-kubectl-floor ## create or reuse the floor cluster (KIND_FLOOR_CLUSTER, one node, K8S_FLOOR_VERSION)
	@$(call kind_cluster_sh,$(KUBECTL_FLOOR_BIN),1) up $(KIND_FLOOR_CLUSTER) $(KIND_FLOOR_NODE) $(kind_load_list)
	@echo "export KUBECONFIG=$$(CACHE=$(CACHE) scripts/kind-cluster.sh kubeconfig $(KIND_FLOOR_CLUSTER))"

cluster-delete: ## delete the e2e clusters (KIND_CLUSTER, KIND_FLOOR_CLUSTER) and their local registries
	@for c in $(KIND_CLUSTER) $(KIND_FLOOR_CLUSTER); do \
	  if [ -x "$(KIND_BIN)" ]; then $(call kind_cluster_sh,$(KUBECTL_BIN),1) down $$c; fi; scripts/registry.sh down $$c-registry; done

DEMO_PORT           ?= 8080
# images before tools-kind: kubectl is then the node image's own (copied, not compiled again)
demo: docker images-node images-postgres images-busybox images-app tools-kind ## kind cluster spacefleet-demo (one node) with charts/spacefleet on the bundled database (dev values); prints how to reach the app
	@test -f charts/spacefleet/Chart.yaml || { echo "charts/spacefleet does not exist yet"; exit 1; }
	@docker image inspect $(E2E_APP_IMAGE) >/dev/null 2>&1 || { echo "app image $(E2E_APP_IMAGE) missing (make image)"; exit 1; }
	@$(call kind_cluster_sh,$(KUBECTL_BIN),$(KIND_DEMO_NODES)) up $(KIND_DEMO_CLUSTER) $(KIND_NODE) $(kind_load_list)
	@HELM=$(BIN)/helm KUBECTL=$(KUBECTL_BIN) BIN=$(patsubst %/,%,$(dir $(KUBECTL_BIN))) scripts/demo.sh "$$(CACHE=$(CACHE) scripts/kind-cluster.sh kubeconfig $(KIND_DEMO_CLUSTER))" \
	  $(DEMO_RELEASE) $(DEMO_NAMESPACE) $(E2E_APP_IMAGE) $(E2E_PG_IMAGE_REPO) $(E2E_PG_IMAGE_TAG) $(DEMO_PORT)

# The README's promise, checked the way a newcomer meets it: `make demo` on its own cluster, then every command it
# printed, run as printed (PATH without the cache's bin dir), the answers compared with what it said they would be,
# then `make demo-delete`. Part of .ci/run.
demo-check: ## run `make demo` and the commands it prints, assert the answers, delete the demo cluster
	@scripts/demo-check.sh

demo-delete: ## delete the demo cluster spacefleet-demo
	@if [ -x "$(KIND_BIN)" ]; then $(call kind_cluster_sh,$(KUBECTL_BIN),1) down $(KIND_DEMO_CLUSTER); fi

# ---- e2e ----
# Each cluster also gets its local OCI registry (mk/release.mk): the harness images are pushed there (the OCI suites
# pull them by digest; the others still use the `kind load`ed copies) with the signed current and previous packages.
# A full run (no E2E_FLAGS) builds the add-on, GitOps and floor images up front, before the suites load the cluster
# (E2E_PREBUILD=1); a filtered run, and .ci/run (E2E_PREBUILD=0, it builds them in the background meanwhile), leave
# that to the suites that need them (scripts/addons.sh, scripts/gitops.sh, called by the harness; the floor image to
# `make e2e-floor`). Each image build holds its lock (images/cache.sh): a suite that needs one being built waits for it.
# Pods reach the registry as $(REGISTRY_NAME):5000 (SPACEFLEET_E2E_REGISTRY_HOST: Argo CD and Flux pull the chart).
E2E_SHIP_OUT        := .build/e2e

# E2E_EXCLUSIVE_DONE: a file the main suites write when their exclusive part (the suites that count failed requests
# or drain a node, run one at a time) is over (.ci/run starts the floor suite and the demo then).
E2E_EXCLUSIVE_DONE  ?=

# e2e_run CLUSTER NODE_IMAGE NODES KUBECTL GO-TEST-ARGS: create (or reuse) the cluster and its registry, push the
# harness images and the signed packages, run the suites, then delete the cluster unless E2E_KEEP=1 or it pre-existed.
# The signed packages (current and previous) go to directories of the cluster's own: the main and the floor suites
# may run at the same time, and `package` deletes and rewrites its files.
define e2e_run
	set -e; existed=0; $(KIND_BIN) get clusters 2>/dev/null | grep -x $(1) >/dev/null && existed=1; \
	  $(call kind_cluster_sh,$(4),$(3)) up $(1) $(2) $(kind_load_list); \
	  kcfg=$$(CACHE=$(CACHE) scripts/kind-cluster.sh kubeconfig $(1)); rc=0; \
	  gwdir=$$(cd / && GOFLAGS= GOWORK=off go mod download -json sigs.k8s.io/gateway-api@$(GATEWAY_API_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -d "$$gwdir/config/crd/standard" ] || { echo "e2e: no config/crd/standard in sigs.k8s.io/gateway-api@$(GATEWAY_API_VERSION)" >&2; exit 1; }; \
	  mkdir -p $(E2E_SHIP_OUT); \
	  reg=$$($(REGISTRY_SH) up $(1)-registry $(REGISTRY_IMAGE)); $(REGISTRY_SH) connect $(1)-registry $(1); \
	  $(REGISTRY_SH) push $(1)-registry $(kind_load_list) > $(E2E_SHIP_OUT)/$(1)-registry-images.txt; \
	  $(MAKE) --no-print-directory package-push KIND_CLUSTER=$(1) PACKAGE_DIR=$(PACKAGE_DIR)/$(1) PREVIOUS_DIR=$(PREVIOUS_DIR)/$(1); \
	  promop=$$(cd / && GOFLAGS= GOWORK=off go mod download -json github.com/prometheus-operator/prometheus-operator@$(PROM_OPERATOR_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -n "$$promop" ] || { echo "e2e: go mod download prometheus-operator@$(PROM_OPERATOR_VERSION) gave no module dir" >&2; exit 1; }; \
	  SPACEFLEET_E2E_REGISTRY=$$reg SPACEFLEET_E2E_REGISTRY_IMAGES=$(CURDIR)/$(E2E_SHIP_OUT)/$(1)-registry-images.txt \
	  SPACEFLEET_E2E_PACKAGES=$(CURDIR)/$(PACKAGE_DIR)/$(1) SPACEFLEET_E2E_KEYRING=$(CURDIR)/$(SIGNING_DIR)/pubring.gpg \
	  SPACEFLEET_E2E_CHART_VERSION=$(call chart_version,$(GATES_CHART)) SPACEFLEET_E2E_PREV_CHART_VERSION=$(RELEASED_VERSION) \
	  SPACEFLEET_E2E_PREV_VALUES=$(CURDIR)/$(PREVIOUS_DIR)/$(1)/$(RELEASED_VERSION)/examples/values \
	  $(if $(E2E_EXCLUSIVE_DONE),SPACEFLEET_E2E_EXCLUSIVE_DONE=$(abspath $(E2E_EXCLUSIVE_DONE))) \
	  SPACEFLEET_E2E_PROM_CRDS="$$promop/example/prometheus-operator-crd" \
	  SPACEFLEET_E2E_CLUSTER=$(1) SPACEFLEET_E2E_KUBECONFIG="$$kcfg" SPACEFLEET_E2E_KUBE_CONTEXT=kind-$(1) \
	  SPACEFLEET_E2E_APP_IMAGE=$(E2E_APP_IMAGE) SPACEFLEET_E2E_PG_IMAGE=$(E2E_PG_IMAGE) \
	  SPACEFLEET_E2E_BUSYBOX_IMAGE=$(E2E_BUSYBOX_IMAGE) SPACEFLEET_E2E_NETPOL_IMAGE=$(E2E_NETPOL_IMAGE) SPACEFLEET_E2E_CHART=$(CURDIR)/charts/spacefleet \
	  SPACEFLEET_E2E_HELM=$(BIN)/helm SPACEFLEET_E2E_HELM4=$(BIN)/helm4 SPACEFLEET_E2E_KIND=$(KIND_BIN) SPACEFLEET_E2E_KUBECTL=$(4) \
	  SPACEFLEET_E2E_ADDONS=$(CURDIR)/scripts/addons.sh $(ADDONS_ENV) KUBECTL=$(4) \
	  SPACEFLEET_E2E_GITOPS=$(CURDIR)/scripts/gitops.sh SPACEFLEET_E2E_REGISTRY_HOST=$(1)-registry:5000 $(GITOPS_ENV) KUBECTL=$(4) \
	  SPACEFLEET_E2E_GATEWAY_API_CRDS="$$gwdir/config/crd/standard" \
	  go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) $(5) || rc=$$?; \
	  if [ "$$existed" = 0 ] && [ "$(E2E_KEEP)" != 1 ]; then $(call kind_cluster_sh,$(4),$(3)) down $(1); scripts/registry.sh down $(1)-registry; \
	  else echo ">> keeping cluster $(1): export KUBECONFIG=$$kcfg"; fi; \
	  exit $$rc
endef

E2E_PREBUILD        ?= $(if $(strip $(E2E_FLAGS)),0,1)
E2E_FLOOR_DEPS := $(if $(filter 1,$(E2E_FLOOR)),$(if $(filter 1,$(E2E_PREBUILD)),images-node-floor tools-kubectl-floor))
e2e: docker $(IMAGES_MAIN) $(E2E_FLOOR_DEPS) tools-kind tools-helm4 images-registry $(if $(filter 1,$(E2E_PREBUILD)),images-netpol images-addons images-gitops) ## e2e suites on the newest Kubernetes (KIND_NODES nodes), then the floor suite on the floor Kubernetes (clusters deleted afterwards unless E2E_KEEP=1 or they pre-existed)
	@rc=0; ( $(call e2e_run,$(KIND_CLUSTER),$(KIND_NODE),$(KIND_NODES),$(KUBECTL_BIN),$(E2E_FLAGS) ./tests/e2e/...) ) || rc=1; \
	if [ "$(E2E_FLOOR)" = 1 ]; then $(MAKE) --no-print-directory e2e-floor || rc=1; fi; exit $$rc

e2e-floor: docker images-node-floor images-postgres images-busybox images-app images-registry tools-kind tools-kubectl-floor tools-helm4 ## the floor suite (E2E_FLOOR_RUN) on K8S_FLOOR_VERSION, one node
	@$(call e2e_run,$(KIND_FLOOR_CLUSTER),$(KIND_FLOOR_NODE),1,$(KUBECTL_FLOOR_BIN),-run '$(E2E_FLOOR_RUN)' $(E2E_FLOOR_FLAGS) ./tests/e2e/)
