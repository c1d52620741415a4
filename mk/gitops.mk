# mk/gitops.mk — the GitOps controllers the e2e suites reconcile the chart with: Argo CD (core mode: application
# controller, repo server, Redis) and Flux (source-controller, helm-controller). Built offline like the add-ons
# (images/argocd, images/redis, images/flux: Go modules and Debian packages), cached as zstd tars under
# $(CACHE)/images keyed by their inputs. Pinned in the root Makefile: ARGOCD_VERSION, ARGOCD_GO, FLUX_SOURCE_VERSION,
# FLUX_HELM_VERSION. The suites install them on demand through scripts/gitops.sh (the e2e harness calls it once per
# run), so `make e2e E2E_FLAGS='-run TestBundled'` neither builds nor installs them.

GITOPS_ENV  = CACHE=$(CACHE) ARGOCD_VERSION=$(ARGOCD_VERSION) ARGOCD_GO=$(ARGOCD_GO) \
              FLUX_SOURCE_VERSION=$(FLUX_SOURCE_VERSION) FLUX_HELM_VERSION=$(FLUX_HELM_VERSION) \
              HELM4_VERSION=$(HELM4_VERSION) KIND=$(KIND_BIN) KUBECTL=$(KUBECTL_BIN)

.PHONY: images-gitops images-argocd images-flux gitops-argocd gitops-flux

images-gitops: images-argocd images-flux ## build the GitOps controller images (Argo CD + Redis, Flux), cached (warm run: no-op)

images-argocd: docker ## build spacefleet/argocd:$(ARGOCD_VERSION) and spacefleet/redis offline, cached
	@$(GITOPS_ENV) images/argocd/build.sh
	@$(GITOPS_ENV) images/redis/build.sh

images-flux: docker ## build spacefleet/flux-{source,helm}-controller offline, cached
	@$(GITOPS_ENV) images/flux/build.sh

gitops-argocd: docker tools-kind ## install Argo CD (core mode) into KIND_CLUSTER, with the AppProject and repository of its registry (idempotent)
	@$(GITOPS_ENV) REGISTRY_HOST=$(REGISTRY_NAME):5000 scripts/gitops.sh argocd $(KIND_CLUSTER)

gitops-flux: docker tools-kind ## install Flux (source-controller, helm-controller) into KIND_CLUSTER (idempotent)
	@$(GITOPS_ENV) scripts/gitops.sh flux $(KIND_CLUSTER)
