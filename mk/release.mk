# mk/release.mk — shipping the chart the way operators consume it: a local OCI registry for the harness, signed
# packages pushed there, the released versions (ci/chart-releases.txt), and the release gates (metadata, version
# increment). Pins: the registry's distribution version is the one tools/registry/go.mod requires.

REGISTRY_VERSION := $(shell sed -n 's/^require github.com\/distribution\/distribution\/v3 \(v[^ ]*\)$$/\1/p' tools/registry/go.mod)
REGISTRY_HASH    := $(shell cat tools/registry/go.mod tools/registry/go.sum tools/registry/main.go images/registry/Dockerfile images/registry/config.yml 2>/dev/null | sha256sum | cut -c1-12)
REGISTRY_IMAGE   := spacefleet/registry:$(REGISTRY_VERSION)-$(REGISTRY_HASH)
# One registry per kind cluster (kind's local-registry pattern), so parallel clusters never share one.
REGISTRY_NAME    ?= $(KIND_CLUSTER)-registry
REGISTRY_SH       = KIND=$(KIND_BIN) scripts/registry.sh

PACKAGE_DIR      := .build/package
# package-previous extracts the released chart under PREVIOUS_DIR/<version>
PREVIOUS_DIR     := .build/previous
SIGNING_DIR      := .build/signing
RELEASES         := ci/chart-releases.txt
# The newest released version and its commit (last line of ci/chart-releases.txt).
RELEASED_VERSION := $(shell awk '!/^\#/ && NF == 2 {v = $$1} END {print v}' $(RELEASES))
RELEASED_COMMIT  := $(shell awk '!/^\#/ && NF == 2 {c = $$2} END {print c}' $(RELEASES))
chart_version     = $(shell sed -n 's/^version: *//p' $(1)/Chart.yaml)

.PHONY: tools-registry images-registry registry registry-delete signing-key package package-previous package-push

tools-registry: ## build the harness's OCI registry (tools/registry: distribution with the filesystem driver only)
	@if [ -x "$(BIN)/registry" ] && [ -f "$(GATES_STAMPS)/registry@$(REGISTRY_HASH)" ]; then :; else \
	  set -e; $(call cache_lock,registry); \
	  if [ -x "$(BIN)/registry" ] && [ -f "$(GATES_STAMPS)/registry@$(REGISTRY_HASH)" ]; then echo ">> registry: built meanwhile by another run"; else \
	  echo ">> building tools/registry (distribution $(REGISTRY_VERSION))"; mkdir -p "$(BIN)" "$(GATES_STAMPS)"; t0=$$(date +%s); \
	  (cd tools/registry && $(GATES_GOENV) CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags='-s -w' -o "$(BIN)/.registry.$$$$" .); \
	  mv -f "$(BIN)/.registry.$$$$" "$(BIN)/registry"; rm -f "$(GATES_STAMPS)/registry@"*; touch "$(GATES_STAMPS)/registry@$(REGISTRY_HASH)"; \
	  echo ">> registry built in $$(( $$(date +%s) - t0 ))s"; fi; fi

images-registry: docker tools-registry ## the registry image (FROM scratch: the binary and its config), rebuilt when its inputs change
	@if docker image inspect $(REGISTRY_IMAGE) >/dev/null 2>&1; then :; else \
	  set -e; stage=.build/registry-image; rm -rf $$stage; mkdir -p $$stage/rootfs/etc/registry $$stage/rootfs/var/lib/registry; \
	  cp "$(BIN)/registry" $$stage/rootfs/registry; cp images/registry/config.yml $$stage/rootfs/etc/registry/; \
	  docker build -q -f images/registry/Dockerfile --build-arg REGISTRY_VERSION=$(REGISTRY_VERSION) -t $(REGISTRY_IMAGE) $$stage >/dev/null; \
	  echo ">> built $(REGISTRY_IMAGE)"; fi

registry: images-registry ## start (or reuse) the local OCI registry of KIND_CLUSTER on a loopback port; prints localhost:PORT
	@$(REGISTRY_SH) up $(REGISTRY_NAME) $(REGISTRY_IMAGE)

registry-delete: ## remove the registry of KIND_CLUSTER
	@scripts/registry.sh down $(REGISTRY_NAME)

signing-key: ## a throwaway chart-signing key in .build/signing (secring.gpg, pubring.gpg); never committed
	@scripts/signing-key.sh $(SIGNING_DIR) >/dev/null

# helm package --sign, then helm verify (a package that does not verify here never leaves the machine).
# $(1) = chart directory.
define release_package
	set -e; mkdir -p $(PACKAGE_DIR); v=$$(sed -n 's/^version: *//p' $(1)/Chart.yaml); \
	rm -f $(PACKAGE_DIR)/spacefleet-$$v.tgz $(PACKAGE_DIR)/spacefleet-$$v.tgz.prov; \
	$(GATES_HELM3) package --sign --key 'charts@spacefleet.example.com' --keyring $(SIGNING_DIR)/secring.gpg -d $(PACKAGE_DIR) $(1) >/dev/null; \
	$(GATES_HELM3) verify --keyring $(SIGNING_DIR)/pubring.gpg $(PACKAGE_DIR)/spacefleet-$$v.tgz >/dev/null; \
	echo ">> $(PACKAGE_DIR)/spacefleet-$$v.tgz (+ .prov), signed and verified"
endef

package: tools-helm3 signing-key ## helm package --sign the chart into .build/package (spacefleet-<version>.tgz + .prov) and verify it
	@t0=$$(date +%s%N); $(call release_package,$(GATES_CHART)); echo ">> package+sign in $$(( ($$(date +%s%N) - t0) / 1000000 ))ms"

package-previous: tools-helm3 signing-key ## package (signed) the newest released version, from its commit in ci/chart-releases.txt
	@set -e; [ -n "$(RELEASED_COMMIT)" ] || { echo "package-previous: no release in $(RELEASES)" >&2; exit 1; }; \
	src=$(PREVIOUS_DIR)/$(RELEASED_VERSION); rm -rf $$src; mkdir -p $$src; \
	git archive $(RELEASED_COMMIT) charts/spacefleet examples/values | tar -x -C $$src; \
	v=$$(sed -n 's/^version: *//p' $$src/charts/spacefleet/Chart.yaml); \
	[ "$$v" = "$(RELEASED_VERSION)" ] || { echo "package-previous: commit $(RELEASED_COMMIT) holds chart version $$v, not $(RELEASED_VERSION) ($(RELEASES))" >&2; exit 1; }; \
	$(call release_package,$$src/charts/spacefleet)

# Push the current and the previous package to the registry of KIND_CLUSTER (oci://localhost:PORT/charts).
package-push: registry package package-previous ## helm push both signed packages (with their .prov) to the local registry
	@set -e; addr=$$($(REGISTRY_SH) addr $(REGISTRY_NAME)); t0=$$(date +%s%N); \
	for v in $(RELEASED_VERSION) $(call chart_version,$(GATES_CHART)); do \
	  $(GATES_HELM3) push --plain-http $(PACKAGE_DIR)/spacefleet-$$v.tgz oci://$$addr/charts >/dev/null 2>$(PACKAGE_DIR)/push.log \
	    || { cat $(PACKAGE_DIR)/push.log >&2; exit 1; }; \
	  echo ">> pushed oci://$$addr/charts/spacefleet:$$v"; done; \
	echo ">> push in $$(( ($$(date +%s%N) - t0) / 1000000 ))ms"

# ---- the linters operators run in their CI, pinned and built offline from their Go modules ----
CT_VERSION    := v3.14.0
# Trivy's misconfiguration engine and embedded checks, used as a library by tools/misconf (pinned in its go.mod).
TRIVY_VERSION := $(shell awk '$$1 == "github.com/aquasecurity/trivy" {print $$2}' tools/misconf/go.mod)
MISCONF_HASH  := $(shell cat tools/misconf/go.mod tools/misconf/go.sum tools/misconf/*.go 2>/dev/null | sha256sum | cut -c1-12)
# Kubernetes minors the deprecated-API scan renders for: every minor from the floor to the newest (K8S_FLOOR_VERSION,
# K8S_VERSION; the facts come from the root module's k8s.io/api, which must be at least the newest minor)
k8s_minor      = $(word 2,$(subst ., ,$(1)))
APICHECK_K8S  := $(foreach m,$(shell seq $(call k8s_minor,$(K8S_FLOOR_VERSION)) $(call k8s_minor,$(K8S_VERSION))),1.$(m))
GATES_CT_DIR  := $(CACHE)/ct/$(CT_VERSION)

.PHONY: tools-ct tools-misconf tools-apicheck ct-lint trivy api-deprecations release-metadata changelog version-increment

# Like gates_go_install, for a module whose version list the proxy refuses (`go install pkg@version` then fails
# reading @v/list): download that version and build its main package inside the module directory, with its go.sum.
# $(1)=binary name in $(BIN), $(2)=module@version, $(3)=package inside the module, $(4)=extra -ldflags, $(5)=stamp suffix.
define gates_go_build_module
	@if [ -x "$(BIN)/$(1)" ] && [ -f "$(GATES_STAMPS)/$(1)@$(lastword $(subst @, ,$(2)))$(5)" ]; then :; else \
	  set -e; $(call cache_lock,$(1)); \
	  if [ -x "$(BIN)/$(1)" ] && [ -f "$(GATES_STAMPS)/$(1)@$(lastword $(subst @, ,$(2)))$(5)" ]; then echo ">> $(1): built meanwhile by another run"; else \
	  echo ">> building $(1) from $(2)"; mkdir -p "$(BIN)" "$(GATES_STAMPS)"; t0=$$(date +%s); \
	  dir=$$(cd / && $(GATES_GOENV) go mod download -json "$(2)" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -n "$$dir" ] || { echo "go mod download $(2) gave no module directory" >&2; exit 1; }; \
	  (cd "$$dir" && $(GATES_GOENV) go build -mod=readonly -trimpath -ldflags="-s -w $(4)" -o "$(BIN)/.$(1).$$$$" $(3)); \
	  mv -f "$(BIN)/.$(1).$$$$" "$(BIN)/$(1)"; rm -f "$(GATES_STAMPS)/$(1)@"*; touch "$(GATES_STAMPS)/$(1)@$(lastword $(subst @, ,$(2)))$(5)"; \
	  echo ">> $(1) built in $$(( $$(date +%s) - t0 ))s"; \
	fi; fi
endef

# ct's yamllint rules (etc/lintconf.yaml) come with the module: copied next to the binary, never into this repo.
tools-ct:
	$(call gates_go_build_module,ct,github.com/helm/chart-testing/v3@$(CT_VERSION),./ct,-X github.com/helm/chart-testing/v3/ct/cmd.Version=$(CT_VERSION))
	@if [ -f "$(GATES_CT_DIR)/lintconf.yaml" ]; then :; else set -e; mkdir -p "$(GATES_CT_DIR)"; $(call cache_lock,ct-lintconf); \
	  dir=$$(cd / && $(GATES_GOENV) go mod download -json github.com/helm/chart-testing/v3@$(CT_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -f "$$dir/etc/lintconf.yaml" ] || { echo "tools-ct: no etc/lintconf.yaml in chart-testing $(CT_VERSION)" >&2; exit 1; }; \
	  cp "$$dir/etc/lintconf.yaml" "$(GATES_CT_DIR)/.lintconf.yaml.$$$$"; mv -f "$(GATES_CT_DIR)/.lintconf.yaml.$$$$" "$(GATES_CT_DIR)/lintconf.yaml"; fi
# tools/misconf: Trivy's Kubernetes misconfiguration scanner and embedded checks without the rest of the trivy CLI
# (~530 packages instead of ~2,800). Its own module: Trivy needs GOEXPERIMENT=jsonv2, which gives every package,
# the standard library included, another build-cache key than the render tests', so nothing could be shared anyway.
tools-misconf:
	@if [ -x "$(BIN)/misconf" ] && [ -f "$(GATES_STAMPS)/misconf@$(TRIVY_VERSION)-$(MISCONF_HASH)" ]; then :; else \
	  set -e; $(call cache_lock,misconf); \
	  if [ -x "$(BIN)/misconf" ] && [ -f "$(GATES_STAMPS)/misconf@$(TRIVY_VERSION)-$(MISCONF_HASH)" ]; then echo ">> misconf: built meanwhile by another run"; else \
	  echo ">> building tools/misconf (Trivy $(TRIVY_VERSION) misconfiguration engine, embedded checks)"; \
	  mkdir -p "$(BIN)" "$(GATES_STAMPS)"; t0=$$(date +%s); \
	  want=$$(cd tools/misconf && $(GATES_GOENV) go mod graph | awk '$$1 == "github.com/aquasecurity/trivy@$(TRIVY_VERSION)" && $$2 ~ /^github.com\/aquasecurity\/trivy-checks@/ {sub(/.*@/, "", $$2); print $$2}'); \
	  have=$$(cd tools/misconf && $(GATES_GOENV) go list -m -f '{{.Version}}' github.com/aquasecurity/trivy-checks); \
	  [ -n "$$want" ] && [ "$$want" = "$$have" ] || { echo "tools/misconf/go.mod selects trivy-checks $$have, trivy $(TRIVY_VERSION) requires $$want: scan with the checks that trivy version embeds (go get github.com/aquasecurity/trivy-checks@$$want)" >&2; exit 1; }; \
	  (cd tools/misconf && $(GATES_GOENV) GOEXPERIMENT=jsonv2 CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags='-s -w' -o "$(BIN)/.misconf.$$$$" .); \
	  mv -f "$(BIN)/.misconf.$$$$" "$(BIN)/misconf"; rm -f "$(GATES_STAMPS)/misconf@"*; touch "$(GATES_STAMPS)/misconf@$(TRIVY_VERSION)-$(MISCONF_HASH)"; \
	  echo ">> misconf built in $$(( $$(date +%s) - t0 ))s"; fi; fi
# Built in the root module without -trimpath: it shares the compiled k8s.io packages with the render tests.
tools-apicheck:
	@mkdir -p "$(BIN)"; go build -o "$(BIN)/.apicheck.$$$$" ./tools/apicheck && mv -f "$(BIN)/.apicheck.$$$$" "$(BIN)/apicheck"

# render_examples DIR KUBE-VERSION: every example, layered stack and the defaults rendered into DIR/NAME.yaml, Helm 3.
define render_examples
	mkdir -p $(1); for f in $(GATES_ALL_VALUES); do \
	  args=$(GATES_ARGS); name=$(GATES_NAME); \
	  $(GATES_HELM3) template $(GATES_RELEASE) $(GATES_CHART) -n $(GATES_NAMESPACE) --kube-version $(2) $$args \
	    > $(1)/$$name.yaml 2> $(1)/$$name.err \
	    || { echo "render $$f for Kubernetes $(2): FAIL"; sed 's/^/    /' $(1)/$$name.err; exit 1; }; \
	done
endef

ct-lint: tools-helm3 tools-yamllint tools-ct ## chart-testing `ct lint` with every example as a ci/ values file (disabled checks and why: ci/ct.yaml)
	@set -e; stage=$(abspath $(GATES_OUT))/ct; rm -rf $$stage; mkdir -p $$stage/charts; \
	cp -r $(GATES_CHART) $$stage/charts/spacefleet; mkdir -p $$stage/charts/spacefleet/ci; \
	for f in $(GATES_EXAMPLES); do cp $$f $$stage/charts/spacefleet/ci/$$(basename $$f .yaml)-values.yaml; done; \
	if ct lint --config ci/ct.yaml --lint-conf $(GATES_CT_DIR)/lintconf.yaml --chart-dirs $$stage/charts \
	     --charts $$stage/charts/spacefleet > $(GATES_OUT)/ct-lint.log 2>&1; then \
	  echo "ct lint $(CT_VERSION): ok (Chart.yaml, values.yaml and $(words $(GATES_EXAMPLES)) examples: yamllint + helm lint --strict)"; \
	else sed 's/^/    /' $(GATES_OUT)/ct-lint.log; echo "ct lint: FAIL" >&2; exit 1; fi

TRIVY_WAIVERS := ci/trivy-waivers.txt
trivy: tools-helm3 tools-misconf tools-repo ## Trivy's misconfiguration checks (trivy config engine, embedded checks, offline) via tools/misconf over every example's render; waivers: ci/trivy-waivers.txt
	@set -e; out=$(GATES_OUT)/trivy; rm -rf $$out $$out.json; $(call render_examples,$$out,$(K8S_VERSION)); rm -f $$out/*.err; \
	misconf -o $$out.json $$out > $$out.log 2>&1 \
	  || { sed 's/^/    /' $$out.log; echo "trivy misconf: FAIL (tools/misconf exited non-zero)" >&2; exit 1; }; \
	chartgate trivy $(TRIVY_WAIVERS) $$out $$out.json

api-deprecations: tools-helm3 tools-apicheck ## no removed, deprecated or not-yet-served built-in API in any example, rendered for every Kubernetes minor from the floor to the newest
	@set -e; fail=0; for v in $(APICHECK_K8S); do \
	  out=$(GATES_OUT)/apicheck/$$v; rm -rf $$out; $(call render_examples,$$out,$$v.0); \
	  if res=$$(apicheck -kube-version $$v $$out/*.yaml); then echo "api-deprecations $$v: $$(echo "$$res" | tail -1)"; \
	  else echo "api-deprecations $$v: FAIL"; echo "$$res"; fail=1; fi; \
	done; exit $$fail

# The licence: the repository's LICENSE (GATES_LICENSE; tests/gates-red passes a broken copy), the chart's LICENSE and
# the one in an unsigned `helm package` of GATES_CHART must be the same bytes, a licence text chartgate knows,
# unmodified, and artifacthub.io/license must name it.
GATES_LICENSE := LICENSE
release-metadata: tools-helm3 tools-repo ## Chart.yaml metadata and Artifact Hub annotations complete; artifacthub.io/images = the images rendered; CHANGELOG/UPGRADING sections for the version; LICENSE = chart LICENSE = packaged LICENSE, named by artifacthub.io/license
	@set -e; mkdir -p $(GATES_OUT); pkg=$(GATES_OUT)/release-package; rm -rf $$pkg; \
	$(GATES_HELM3) template $(GATES_RELEASE) $(GATES_CHART) -n $(GATES_NAMESPACE) --kube-version $(K8S_VERSION) > $(GATES_OUT)/release-default.yaml; \
	$(GATES_HELM3) package -d $$pkg $(GATES_CHART) >/dev/null; \
	chartgate release $(GATES_CHART) $(GATES_OUT)/release-default.yaml $(GATES_LICENSE) $$pkg/spacefleet-$$(sed -n 's/^version: *//p' $(GATES_CHART)/Chart.yaml).tgz

# The previous release's chart (git archive of its commit) and both default renders, compared by tools/chartgate.
changelog: tools-helm3 tools-repo ## every values key added, removed or re-defaulted since the newest release, and every new default object, is named in CHANGELOG.md (removed and re-defaulted keys in UPGRADING.md too)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git archive $(RELEASED_COMMIT) charts/spacefleet | tar -x -C $$tmp \
	  || { echo "changelog: cannot read commit $(RELEASED_COMMIT) of release $(RELEASED_VERSION) (a shallow clone? fetch the history)" >&2; exit 1; }; \
	$(GATES_HELM3) template $(GATES_RELEASE) $$tmp/charts/spacefleet -n $(GATES_NAMESPACE) --kube-version $(K8S_VERSION) > $$tmp/previous.yaml; \
	$(GATES_HELM3) template $(GATES_RELEASE) $(GATES_CHART) -n $(GATES_NAMESPACE) --kube-version $(K8S_VERSION) > $$tmp/current.yaml; \
	chartgate changes $$tmp/charts/spacefleet $(RELEASED_VERSION) $$tmp/previous.yaml $(GATES_CHART) $$tmp/current.yaml $(CHANGELOG_FLAGS)

version-increment: tools-repo ## fail when the chart differs from its newest release (ci/chart-releases.txt) but Chart.yaml's version is not greater
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git archive $(RELEASED_COMMIT) charts/spacefleet | tar -x -C $$tmp \
	  || { echo "version-increment: cannot read commit $(RELEASED_COMMIT) of release $(RELEASED_VERSION) (a shallow clone? fetch the history)" >&2; exit 1; }; \
	chartgate version-increment $$tmp/charts/spacefleet $(RELEASED_VERSION) $(GATES_CHART)

