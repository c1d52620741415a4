# mk/kind.mk — offline images, the kind cluster, the demo and the e2e harness.
# Nothing is pulled from a container registry: the kind node image, PostgreSQL, busybox and the NetworkPolicy
# controller are built from Debian packages and Go modules (images/*/build.sh), cached as zstd tars under
# $(CACHE)/images. Pinned in the root Makefile: KIND_VERSION, K8S_VERSION, HELM3_VERSION, NETPOL_VERSION. Set
# KIND_NODE_IMAGE (e.g. kindest/node:v1.33.x on a machine that can pull) to use that node image instead of building
# one: the cluster code path is the same.

KIND_CLUSTER        ?= spacefleet-e2e
KIND_DEMO_CLUSTER   ?= spacefleet-demo
KIND_NODE_IMAGE     ?=
KIND_BUILT_NODE     := spacefleet/kind-node:$(K8S_VERSION)
KIND_NODE           = $(if $(KIND_NODE_IMAGE),$(KIND_NODE_IMAGE),$(KIND_BUILT_NODE))
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
KIND_IMAGES_ENV     := CACHE=$(CACHE) K8S_VERSION=$(K8S_VERSION) KIND_VERSION=$(KIND_VERSION)
KIND_CLUSTER_SH     := CACHE=$(CACHE) KIND=$(BIN)/kind KUBECTL=$(BIN)/kubectl scripts/kind-cluster.sh
KIND_STAMPS         := $(CACHE)/stamps
# Debian packages the image builds need besides docker.io
KIND_HOST_PACKAGES  := debootstrap busybox-static zstd jq
DEMO_RELEASE        ?= spacefleet
DEMO_NAMESPACE      ?= spacefleet

.PHONY: docker tools-kind images images-node images-postgres images-busybox images-app images-netpol \
        cluster cluster-delete demo demo-check demo-delete e2e

docker: ## ensure a running dockerd (installs docker.io; runc-capfix when the VM lacks capabilities)
	@scripts/ensure-docker.sh $(KIND_HOST_PACKAGES)

# ---- tools: kind, kubectl (same Kubernetes as the node image), helm v3 (tools-helm3 in mk/gates.mk) ----
tools-kind: tools-helm3 ## install kind, kubectl and helm v3 into the cache bin dir (warm run: no-op)
	@if [ -x "$(BIN)/kind" ] && [ -f "$(KIND_STAMPS)/kind@$(KIND_VERSION)" ]; then :; else \
	  set -e; $(call cache_lock,kind); \
	  if [ -x "$(BIN)/kind" ] && [ -f "$(KIND_STAMPS)/kind@$(KIND_VERSION)" ]; then echo ">> kind: built meanwhile by another run"; else \
	  echo ">> installing kind $(KIND_VERSION)"; mkdir -p "$(BIN)" "$(KIND_STAMPS)"; \
	  tmp=$$(mktemp -d "$(BIN)/.kind.XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	  GOFLAGS= GOWORK=off CGO_ENABLED=0 GOBIN="$$tmp" go install -trimpath -ldflags="-s -w" sigs.k8s.io/kind@$(KIND_VERSION); \
	  mv -f "$$tmp/kind" "$(BIN)/kind"; rm -f "$(KIND_STAMPS)/kind@"*; touch "$(KIND_STAMPS)/kind@$(KIND_VERSION)"; fi; fi
	@if [ -x "$(BIN)/kubectl" ] && [ -f "$(KIND_STAMPS)/kubectl@$(K8S_VERSION)" ]; then :; else \
	  set -e; $(call cache_lock,kubectl); \
	  if [ -x "$(BIN)/kubectl" ] && [ -f "$(KIND_STAMPS)/kubectl@$(K8S_VERSION)" ]; then echo ">> kubectl: built meanwhile by another run"; else \
	  echo ">> building kubectl $(K8S_VERSION)"; mkdir -p "$(BIN)" "$(KIND_STAMPS)"; \
	  $(KIND_IMAGES_ENV) images/kind-node/build.sh kubectl "$(BIN)/.kubectl.$$$$"; mv -f "$(BIN)/.kubectl.$$$$" "$(BIN)/kubectl"; \
	  rm -f "$(KIND_STAMPS)/kubectl@"*; touch "$(KIND_STAMPS)/kubectl@$(K8S_VERSION)"; fi; fi

# ---- images ----
images: images-node images-postgres images-busybox images-app images-registry images-netpol ## build all images offline, cached (warm run: no-op)

images-node: docker
ifeq ($(KIND_NODE_IMAGE),)
	@$(KIND_IMAGES_ENV) NODE_IMAGE=$(KIND_BUILT_NODE) images/kind-node/build.sh
else
	@docker image inspect $(KIND_NODE_IMAGE) >/dev/null 2>&1 || docker pull $(KIND_NODE_IMAGE)
endif

images-postgres: docker
	@CACHE=$(CACHE) PG_IMAGE=$(E2E_PG_IMAGE_REPO) images/postgres/build.sh

images-busybox: docker
	@CACHE=$(CACHE) BUSYBOX_IMAGE=$(E2E_BUSYBOX_IMAGE) images/busybox/build.sh

# the NetworkPolicy controller: not loaded by `make cluster`; the suites that need it install it (images/netpol/install.sh)
images-netpol: docker
	@CACHE=$(CACHE) NETPOL_VERSION=$(NETPOL_VERSION) NETPOL_IMAGE=$(E2E_NETPOL_IMAGE_REPO) images/netpol/build.sh

# the app image is `make image` (mk/app.mk); skipped with a note while that target does not exist
images-app: docker
	@if $(MAKE) --no-print-directory -n image >/dev/null 2>&1; then $(MAKE) --no-print-directory image; \
	else echo ">> no 'make image' target yet: app image $(E2E_APP_IMAGE) not built"; fi

# images loaded into a cluster: those present locally (the app image may not exist yet)
kind_load_list = $(E2E_PG_IMAGE) $(E2E_BUSYBOX_IMAGE) $(shell docker image inspect $(E2E_APP_IMAGE) >/dev/null 2>&1 && echo $(E2E_APP_IMAGE))

# ---- clusters ----
cluster: docker tools-kind images ## create or reuse the kind cluster spacefleet-e2e and load the images
	@$(KIND_CLUSTER_SH) up $(KIND_CLUSTER) $(KIND_NODE) $(kind_load_list)
	@echo "export KUBECONFIG=$$($(KIND_CLUSTER_SH) kubeconfig $(KIND_CLUSTER))"

cluster-delete: ## delete the kind cluster spacefleet-e2e (and its local registry)
	@if [ -x "$(BIN)/kind" ]; then $(KIND_CLUSTER_SH) down $(KIND_CLUSTER); fi
	@scripts/registry.sh down $(REGISTRY_NAME)

DEMO_PORT           ?= 8080
demo: docker tools-kind images ## kind cluster spacefleet-demo with charts/spacefleet on the bundled database (dev values); prints how to reach the app
	@test -f charts/spacefleet/Chart.yaml || { echo "charts/spacefleet does not exist yet"; exit 1; }
	@docker image inspect $(E2E_APP_IMAGE) >/dev/null 2>&1 || { echo "app image $(E2E_APP_IMAGE) missing (make image)"; exit 1; }
	@$(KIND_CLUSTER_SH) up $(KIND_DEMO_CLUSTER) $(KIND_NODE) $(kind_load_list)
	@HELM=$(BIN)/helm KUBECTL=$(BIN)/kubectl BIN=$(BIN) scripts/demo.sh "$$($(KIND_CLUSTER_SH) kubeconfig $(KIND_DEMO_CLUSTER))" \
	  $(DEMO_RELEASE) $(DEMO_NAMESPACE) $(E2E_APP_IMAGE) $(E2E_PG_IMAGE_REPO) $(E2E_PG_IMAGE_TAG) $(DEMO_PORT)

# The README's promise, checked the way a newcomer meets it: `make demo` on its own cluster, then every command it
# printed, run as printed (PATH without the cache's bin dir), the answers compared with what it said they would be,
# then `make demo-delete`. Part of .ci/run.
demo-check: ## run `make demo` and the commands it prints, assert the answers, delete the demo cluster
	@scripts/demo-check.sh

demo-delete: ## delete the demo cluster spacefleet-demo
	@if [ -x "$(BIN)/kind" ]; then $(KIND_CLUSTER_SH) down $(KIND_DEMO_CLUSTER); fi

# ---- e2e ----
# The cluster also gets its local OCI registry (mk/release.mk): the harness images are pushed there (the OCI suites
# pull them by digest; the others still use the `kind load`ed copies) with the signed current and previous packages.
# A full run (no E2E_FLAGS: CI) builds the add-on and GitOps images up front, before the suites load the cluster; a
# filtered run leaves that to the suites that need them (scripts/addons.sh, scripts/gitops.sh, called by the harness).
# Pods reach the registry as $(REGISTRY_NAME):5000 (SPACEFLEET_E2E_REGISTRY_HOST: Argo CD and Flux pull the chart).
E2E_SHIP_OUT        := .build/e2e
e2e: docker tools-kind tools-helm4 images images-registry $(if $(strip $(E2E_FLAGS)),,images-addons images-gitops) ## e2e suites against a kind cluster (deleted afterwards unless E2E_KEEP=1 or it pre-existed)
	@set -e; existed=0; $(BIN)/kind get clusters 2>/dev/null | grep -x $(KIND_CLUSTER) >/dev/null && existed=1; \
	  $(KIND_CLUSTER_SH) up $(KIND_CLUSTER) $(KIND_NODE) $(kind_load_list); \
	  kcfg=$$($(KIND_CLUSTER_SH) kubeconfig $(KIND_CLUSTER)); rc=0; \
	  gwdir=$$(cd / && GOFLAGS= GOWORK=off go mod download -json sigs.k8s.io/gateway-api@$(GATEWAY_API_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -d "$$gwdir/config/crd/standard" ] || { echo "e2e: no config/crd/standard in sigs.k8s.io/gateway-api@$(GATEWAY_API_VERSION)" >&2; exit 1; }; \
	  mkdir -p $(E2E_SHIP_OUT); \
	  reg=$$($(REGISTRY_SH) up $(REGISTRY_NAME) $(REGISTRY_IMAGE)); $(REGISTRY_SH) connect $(REGISTRY_NAME) $(KIND_CLUSTER); \
	  $(REGISTRY_SH) push $(REGISTRY_NAME) $(kind_load_list) > $(E2E_SHIP_OUT)/registry-images.txt; \
	  $(MAKE) --no-print-directory package-push KIND_CLUSTER=$(KIND_CLUSTER); \
	  promop=$$(cd / && GOFLAGS= GOWORK=off go mod download -json github.com/prometheus-operator/prometheus-operator@$(PROM_OPERATOR_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -n "$$promop" ] || { echo "e2e: go mod download prometheus-operator@$(PROM_OPERATOR_VERSION) gave no module dir" >&2; exit 1; }; \
	  SPACEFLEET_E2E_REGISTRY=$$reg SPACEFLEET_E2E_REGISTRY_IMAGES=$(CURDIR)/$(E2E_SHIP_OUT)/registry-images.txt \
	  SPACEFLEET_E2E_PACKAGES=$(CURDIR)/$(PACKAGE_DIR) SPACEFLEET_E2E_KEYRING=$(CURDIR)/$(SIGNING_DIR)/pubring.gpg \
	  SPACEFLEET_E2E_CHART_VERSION=$(call chart_version,$(GATES_CHART)) SPACEFLEET_E2E_PREV_CHART_VERSION=$(RELEASED_VERSION) \
	  SPACEFLEET_E2E_PREV_VALUES=$(CURDIR)/.build/previous/$(RELEASED_VERSION)/examples/values \
	  SPACEFLEET_E2E_PROM_CRDS="$$promop/example/prometheus-operator-crd" \
	  SPACEFLEET_E2E_CLUSTER=$(KIND_CLUSTER) SPACEFLEET_E2E_KUBECONFIG="$$kcfg" SPACEFLEET_E2E_KUBE_CONTEXT=kind-$(KIND_CLUSTER) \
	  SPACEFLEET_E2E_APP_IMAGE=$(E2E_APP_IMAGE) SPACEFLEET_E2E_PG_IMAGE=$(E2E_PG_IMAGE) \
	  SPACEFLEET_E2E_BUSYBOX_IMAGE=$(E2E_BUSYBOX_IMAGE) SPACEFLEET_E2E_NETPOL_IMAGE=$(E2E_NETPOL_IMAGE) SPACEFLEET_E2E_CHART=$(CURDIR)/charts/spacefleet \
	  SPACEFLEET_E2E_HELM=$(BIN)/helm SPACEFLEET_E2E_HELM4=$(BIN)/helm4 SPACEFLEET_E2E_KIND=$(BIN)/kind SPACEFLEET_E2E_KUBECTL=$(BIN)/kubectl \
	  SPACEFLEET_E2E_ADDONS=$(CURDIR)/scripts/addons.sh $(ADDONS_ENV) \
	  SPACEFLEET_E2E_GITOPS=$(CURDIR)/scripts/gitops.sh SPACEFLEET_E2E_REGISTRY_HOST=$(REGISTRY_NAME):5000 $(GITOPS_ENV) \
	  SPACEFLEET_E2E_GATEWAY_API_CRDS="$$gwdir/config/crd/standard" \
	  go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) $(E2E_FLAGS) ./tests/e2e/... || rc=$$?; \
	  if [ "$$existed" = 0 ] && [ "$(E2E_KEEP)" != 1 ]; then $(KIND_CLUSTER_SH) down $(KIND_CLUSTER); scripts/registry.sh down $(REGISTRY_NAME); \
	  else echo ">> keeping cluster $(KIND_CLUSTER): export KUBECONFIG=$$kcfg"; fi; \
	  exit $$rc
