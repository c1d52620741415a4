# mk/addons.mk — the add-ons some e2e suites need: cert-manager (our controller main over the pinned module) and the
# CloudNativePG operator. Built offline like the other images (images/cert-manager, images/cloudnative-pg), cached
# as zstd tars under $(CACHE)/images keyed by their inputs. Pinned in the root Makefile: CERT_MANAGER_VERSION,
# CNPG_VERSION. The suites install them on demand through scripts/addons.sh (the e2e harness calls it once per run),
# so `make e2e E2E_FLAGS='-run TestBundled'` neither builds nor installs them.

ADDONS_ENV  = CACHE=$(CACHE) CERT_MANAGER_VERSION=$(CERT_MANAGER_VERSION) CNPG_VERSION=$(CNPG_VERSION) \
              KIND=$(KIND_BIN) KUBECTL=$(KUBECTL_BIN)

.PHONY: images-addons images-cert-manager images-cnpg addon-cert-manager addon-cnpg

images-addons: images-cert-manager images-cnpg ## build the add-on images (cert-manager, CloudNativePG), cached (warm run: no-op)

images-cert-manager: docker ## build spacefleet/cert-manager-controller:$(CERT_MANAGER_VERSION) offline, cached
	@$(ADDONS_ENV) images/cert-manager/build.sh

images-cnpg: docker ## build spacefleet/cloudnative-pg:$(CNPG_VERSION) offline, cached
	@$(ADDONS_ENV) images/cloudnative-pg/build.sh

addon-cert-manager: docker tools-kind ## install cert-manager and the CA ClusterIssuer spacefleet-ca into KIND_CLUSTER (idempotent)
	@$(ADDONS_ENV) scripts/addons.sh cert-manager $(KIND_CLUSTER)

addon-cnpg: docker tools-kind ## install the CloudNativePG operator into KIND_CLUSTER (idempotent)
	@$(ADDONS_ENV) scripts/addons.sh cnpg $(KIND_CLUSTER)
