# mk/gates.mk — chart quality gates: schema validation, linting, scoring, docs, Helm 3/4 parity, CI guards.
# Everything is installed from Debian packages or Go modules (no container registry, no GitHub downloads),
# pinned here, into $(BIN); a version stamp per tool makes a warm `make tools` a no-op.

# ---- pins (HELM3_VERSION, HELM4_VERSION and K8S_VERSION are pinned in the root Makefile) ----
KUBECONFORM_VERSION := v0.7.0
KUBE_SCORE_VERSION  := v1.20.0
HELM_DOCS_VERSION   := v1.14.2
YAMLLINT_VERSION    := 1.29.0-1
SHELLCHECK_VERSION  := 0.9.0-1
# promtool (cmd/promtool of the Prometheus module): `check rules` and `test rules` on the rendered PrometheusRule.
# Built with remove_all_sd: rule checks need no service-discovery plugins (their cloud SDKs are most of the build).
PROMTOOL_VERSION    := v0.316.0

# ---- layout (GATES_CHART may be overridden on the command line to prove a gate red on a broken copy) ----
GATES_CHART      := charts/spacefleet
GATES_EXAMPLES   := $(sort $(wildcard examples/values/*.yaml))
GATES_STAMPS     := $(CACHE)/stamps
GATES_SCHEMAS    := $(CACHE)/schemas
GATES_K8S        := $(K8S_FLOOR_VERSION) $(K8S_VERSION)
GATES_RELEASE    := spacefleet
GATES_NAMESPACE  := spacefleet
# Examples scored by kube-score: the default values and the production examples.
GATES_SCORED     := default examples/values/external-secret.yaml examples/values/prod-ha.yaml examples/values/production.yaml
# Go tools of this repo are built from their own modules whenever their sources change.
GATES_TOOLS_HASH := $(shell cat tools/k8sschema/go.mod tools/k8sschema/*.go tools/chartgate/go.mod tools/chartgate/go.sum tools/chartgate/*.go 2>/dev/null | sha256sum | cut -c1-16)
# Schemas are regenerated only when the generator changes.
GATES_SCHEMA_HASH := $(shell cat tools/k8sschema/go.mod tools/k8sschema/*.go 2>/dev/null | sha256sum | cut -c1-16)
GATES_GOENV      := GOFLAGS= GOWORK=off

# The cache ($(CACHE)) serves every clone on the machine, sometimes at the same moment (a second worktree, a CI run
# while a developer works): each tool is built under its own lock, held until the recipe's shell exits, its stamp
# checked again once the lock is held (another run may have built it meanwhile), and written under a name of its own
# in the destination directory, then renamed (atomic). $(1) = lock name. tests/scripts/cache_test.sh proves it.
cache_lock = mkdir -p "$(CACHE)/locks"; exec 9>"$(CACHE)/locks/$(1).lock"; flock 9

# `go install pkg@version` into $(BIN)/NAME, skipped when the stamp for that version exists and the binary runs.
# $(1)=binary name in $(BIN), $(2)=package@version, $(3)=name the module's main package builds,
# $(4)=extra -ldflags (shell words, evaluated in the recipe), $(5)=stamp suffix (bump when $(4) or $(6) changes),
# $(6)=extra `go install` flags (e.g. -tags), $(7)=extra environment (e.g. CGO_ENABLED=0).
define gates_go_install
	@if [ -x "$(BIN)/$(1)" ] && [ -f "$(GATES_STAMPS)/$(1)@$(lastword $(subst @, ,$(2)))$(5)" ]; then :; else \
	  set -e; $(call cache_lock,$(1)); \
	  if [ -x "$(BIN)/$(1)" ] && [ -f "$(GATES_STAMPS)/$(1)@$(lastword $(subst @, ,$(2)))$(5)" ]; then echo ">> $(1): built meanwhile by another run"; else \
	  echo ">> installing $(1) from $(2)"; mkdir -p "$(BIN)" "$(GATES_STAMPS)"; \
	  tmp=$$(mktemp -d "$(BIN)/.$(1).XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	  t0=$$(date +%s); $(GATES_GOENV) $(7) GOBIN="$$tmp" go install -trimpath $(6) -ldflags="-s -w $(4)" "$(2)"; \
	  mv -f "$$tmp/$(3)" "$(BIN)/$(1)"; rm -f "$(GATES_STAMPS)/$(1)@"*; touch "$(GATES_STAMPS)/$(1)@$(lastword $(subst @, ,$(2)))$(5)"; \
	  echo ">> $(1) installed in $$(( $$(date +%s) - t0 ))s"; \
	fi; fi
endef

# Helm's Makefile stamps its version and the Kubernetes version that `helm template`/`helm lint` assume (from the
# k8s.io/client-go it builds with; without it, a `go build`-built helm 3 claims Kubernetes v1.20 and our kubeVersion
# ">=1.30.0-0" refuses to render): tools-helm3 does the same from the module's client-go.
GATES_HELM4_LDFLAGS = -X helm.sh/helm/v4/internal/version.version=$(HELM4_VERSION) -X helm.sh/helm/v4/internal/version.gitTreeState=clean

.PHONY: tools tools-helm3 tools-helm4 tools-kubeconform tools-kube-score tools-helm-docs tools-yamllint tools-shellcheck tools-jq tools-repo tools-promtool
tools: tools-yamllint tools-shellcheck tools-helm3 tools-helm4 tools-kubeconform tools-kube-score tools-helm-docs tools-repo tools-ct tools-misconf tools-apicheck ## install every gate tool, pinned, into $(BIN) (warm run: no-op)

# Helm 3 is built from this module's own dependency graph (go.mod: `tool helm.sh/helm/v3/cmd/helm`, the Helm SDK the
# render tests import), without -trimpath like `go test`: the CLI and the tests share compiled packages, so on a cold
# machine the CLI costs seconds on top of the render tests instead of minutes on its own.
GATES_GOSUM_HASH := $(shell cat go.sum 2>/dev/null | sha256sum | cut -c1-12)
tools-helm3:
	@want=$$(go list -m -f '{{.Version}}' helm.sh/helm/v3); [ "$$want" = "$(HELM3_VERSION)" ] || { \
	  echo "go.mod requires helm.sh/helm/v3 $$want but HELM3_VERSION is $(HELM3_VERSION): keep them equal (go get -tool helm.sh/helm/v3/cmd/helm@$(HELM3_VERSION))" >&2; exit 1; }
	@if [ -x "$(BIN)/helm" ] && [ -f "$(GATES_STAMPS)/helm@$(HELM3_VERSION)+module-$(GATES_GOSUM_HASH)" ]; then :; else \
	  set -e; $(call cache_lock,helm); \
	  if [ -x "$(BIN)/helm" ] && [ -f "$(GATES_STAMPS)/helm@$(HELM3_VERSION)+module-$(GATES_GOSUM_HASH)" ]; then echo ">> helm: built meanwhile by another run"; else \
	  echo ">> building helm $(HELM3_VERSION) from the module's dependency graph"; mkdir -p "$(BIN)" "$(GATES_STAMPS)"; \
	  t0=$$(date +%s); minor=$$(go list -m -f '{{.Version}}' k8s.io/client-go | sed -n 's/^v0\.\([0-9]*\)\..*/\1/p'); \
	  [ -n "$$minor" ] || { echo "cannot read the module's k8s.io/client-go minor" >&2; exit 1; }; \
	  tmp="$(BIN)/.helm.$$$$"; trap 'rm -f "$$tmp"' EXIT; \
	  go build -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM3_VERSION) -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
	    $$(for p in pkg/lint/rules pkg/chartutil; do printf -- '-X helm.sh/helm/v3/%s.k8sVersionMajor=1 -X helm.sh/helm/v3/%s.k8sVersionMinor=%s ' $$p $$p $$minor; done)" \
	    -o "$$tmp" helm.sh/helm/v3/cmd/helm; \
	  mv -f "$$tmp" "$(BIN)/helm"; rm -f "$(GATES_STAMPS)/helm@"*; touch "$(GATES_STAMPS)/helm@$(HELM3_VERSION)+module-$(GATES_GOSUM_HASH)"; \
	  echo ">> helm built in $$(( $$(date +%s) - t0 ))s"; \
	fi; fi
# static (CGO_ENABLED=0), with the flags images/argocd/build.sh builds the Argo CD repo server's helm with: that build
# then finds every package compiled here in the Go build cache and only links (cold, ~200 s of CPU saved)
tools-helm4:
	$(call gates_go_install,helm4,helm.sh/helm/v4/cmd/helm@$(HELM4_VERSION),helm,$(GATES_HELM4_LDFLAGS),+ldflags,,CGO_ENABLED=0)
tools-kubeconform:
	$(call gates_go_install,kubeconform,github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION),kubeconform)
tools-kube-score:
	$(call gates_go_install,kube-score,github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION),kube-score)
tools-helm-docs:
	$(call gates_go_install,helm-docs,github.com/norwoodj/helm-docs/cmd/helm-docs@$(HELM_DOCS_VERSION),helm-docs)
tools-promtool:
	$(call gates_go_install,promtool,github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION),promtool,,+nosd,-tags=remove_all_sd)

tools-yamllint:
	@command -v yamllint >/dev/null 2>&1 || CACHE=$(CACHE) scripts/apt-install.sh yamllint=$(YAMLLINT_VERSION)

tools-jq:
	@command -v jq >/dev/null 2>&1 || CACHE=$(CACHE) scripts/apt-install.sh jq

tools-shellcheck:
	@command -v shellcheck >/dev/null 2>&1 || CACHE=$(CACHE) scripts/apt-install.sh shellcheck=$(SHELLCHECK_VERSION)

# The repo's own Go tools (tools/k8sschema: stdlib only; tools/chartgate: sigs.k8s.io/yaml), each its own module.
tools-repo:
	@if [ -x "$(BIN)/k8sschema" ] && [ -x "$(BIN)/chartgate" ] && [ -f "$(GATES_STAMPS)/repo-tools@$(GATES_TOOLS_HASH)" ]; then :; else \
	  set -e; $(call cache_lock,repo-tools); \
	  if [ -x "$(BIN)/k8sschema" ] && [ -x "$(BIN)/chartgate" ] && [ -f "$(GATES_STAMPS)/repo-tools@$(GATES_TOOLS_HASH)" ]; then echo ">> tools/k8sschema, tools/chartgate: built meanwhile by another run"; else \
	  echo ">> building tools/k8sschema and tools/chartgate"; mkdir -p "$(BIN)" "$(GATES_STAMPS)"; \
	  (cd tools/k8sschema && $(GATES_GOENV) go build -trimpath -o "$(BIN)/.k8sschema.$$$$" .); \
	  (cd tools/chartgate && $(GATES_GOENV) go build -mod=readonly -trimpath -o "$(BIN)/.chartgate.$$$$" .); \
	  mv -f "$(BIN)/.k8sschema.$$$$" "$(BIN)/k8sschema"; mv -f "$(BIN)/.chartgate.$$$$" "$(BIN)/chartgate"; \
	  rm -f "$(GATES_STAMPS)/repo-tools@"*; touch "$(GATES_STAMPS)/repo-tools@$(GATES_TOOLS_HASH)"; \
	fi; fi

# ---- gates ----
GATES_OUT    := .build/gates
GATES_HELM3  := $(BIN)/helm
GATES_HELM4  := $(BIN)/helm4
GATES_SCHEMA_LOCATION := $(abspath $(GATES_SCHEMAS))/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json
# (tests/gates-red passes its own copies of the waiver files through GATES_WAIVERS and TRIVY_WAIVERS)
GATES_WAIVERS := ci/kube-score-waivers.txt

# The layered stacks of examples/values/layered/ (base.yaml + one overlay), written base+overlay: each is one more
# "values" entry of the gates below, rendered with -f base -f overlay (GATES_ARGS) and named by GATES_NAME.
GATES_STACKS     := $(foreach o,$(filter-out %/base.yaml,$(sort $(wildcard examples/values/layered/*.yaml))),examples/values/layered/base.yaml+$(o))
GATES_ALL_VALUES := default $(GATES_EXAMPLES) $(GATES_STACKS)
# shell snippets for a GATES_ALL_VALUES entry in $$f: its helm arguments, and a file name unique among the entries
GATES_ARGS = $$( [ "$$f" = default ] || echo "-f $$f" | sed 's/+/ -f /g' )
GATES_NAME = $$(echo "$$f" | sed 's|examples/values/||g; s|\.yaml||g; s|[/+]|-|g')

.PHONY: schemas lint kubeconform kube-score docs docs-check helm-compat guards gates shellcheck waits apt

schemas: tools-repo ## generate strict, standalone kubeconform JSON schemas for the oldest and newest supported Kubernetes into $(CACHE)/schemas
	@set -e; for v in $(GATES_K8S); do \
	  stamp="$(GATES_SCHEMAS)/$$v-standalone-strict/.generated-by-$(GATES_SCHEMA_HASH)"; \
	  [ -f "$$stamp" ] && continue; \
	  $(call cache_lock,schemas); [ -f "$$stamp" ] && continue; \
	  mkdir -p "$(GATES_SCHEMAS)"; \
	  dir=$$(cd "$(GATES_SCHEMAS)" && $(GATES_GOENV) go mod download -json "k8s.io/kubernetes@$$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  [ -n "$$dir" ] || { echo "schemas: go mod download k8s.io/kubernetes@$$v gave no module dir" >&2; exit 1; }; \
	  "$(BIN)/k8sschema" -module-dir "$$dir" -version "$$v" -out "$(GATES_SCHEMAS)"; \
	  touch "$$stamp"; \
	done

lint: tools-yamllint tools-helm3 tools-helm4 ## yamllint values + examples, and `helm lint --strict` under Helm 3 and Helm 4 with every example
	@set -e; yamllint -c .yamllint $(GATES_CHART)/values.yaml $(GATES_EXAMPLES) $(wildcard examples/values/layered/*.yaml) || { echo "lint: yamllint failed" >&2; exit 1; }; \
	echo "yamllint: ok ($(words $(GATES_EXAMPLES)) examples, $(words $(wildcard examples/values/layered/*.yaml)) layered files + values.yaml)"; \
	mkdir -p $(GATES_OUT); fail=0; \
	for h in $(GATES_HELM3) $(GATES_HELM4); do v=$$("$$h" version --template '{{ .Version }}'); for f in $(GATES_ALL_VALUES); do \
	  args=$(GATES_ARGS); \
	  if "$$h" lint --strict $(GATES_CHART) $$args > $(GATES_OUT)/lint.log 2>&1; then \
	    echo "helm $$v lint --strict $$f: ok"; \
	  else echo "helm $$v lint --strict $$f: FAIL"; sed 's/^/    /' $(GATES_OUT)/lint.log; fail=1; fi; \
	done; done; exit $$fail

# Certificates (cert-manager CRD), ServiceMonitors and PrometheusRules (Prometheus Operator CRDs) have no schema in the
# offline Kubernetes set: the e2e suites apply them to a real API server with those CRDs (TestCertManagerTLS,
# TestZeroDowntime, TestProductionExample), tests/render checks their fields and promtool checks the rules.
kubeconform: tools-helm3 tools-kubeconform schemas ## render every example for the oldest and newest Kubernetes and validate offline, strict
	@set -e; fail=0; mkdir -p $(GATES_OUT)/kubeconform; \
	for v in $(GATES_K8S); do for f in $(GATES_ALL_VALUES); do \
	  args=$(GATES_ARGS); \
	  out=$(GATES_OUT)/kubeconform/$$v-$(GATES_NAME).yaml; \
	  if ! $(GATES_HELM3) template $(GATES_RELEASE) $(GATES_CHART) -n $(GATES_NAMESPACE) --kube-version $$v $$args > $$out 2> $$out.err; then \
	    echo "kubeconform $$v $$f: FAIL (helm template)"; sed 's/^/    /' $$out.err; fail=1; continue; fi; \
	  if res=$$(kubeconform -strict -summary -output text -kubernetes-version "$${v#v}" -skip Certificate,ServiceMonitor,PrometheusRule \
	        -schema-location '$(GATES_SCHEMA_LOCATION)' $$out 2>&1); then \
	    echo "kubeconform $$v $$f: $$(echo "$$res" | tail -1)"; \
	  else echo "kubeconform $$v $$f: FAIL"; echo "$$res" | sed 's/^/    /'; fail=1; fi; \
	done; done; exit $$fail

kube-score: tools-helm3 tools-kube-score tools-repo ## kube-score the default and production renders: zero unwaived CRITICAL (waivers: ci/kube-score-waivers.txt)
	@set -e; mkdir -p $(GATES_OUT)/kube-score; rm -f $(GATES_OUT)/kube-score/*.json; \
	for f in $(GATES_SCORED); do \
	  args=$$( [ "$$f" = default ] || echo "-f $$f" ); \
	  out=$(GATES_OUT)/kube-score/$$(basename $$f .yaml); \
	  $(GATES_HELM3) template $(GATES_RELEASE) $(GATES_CHART) -n $(GATES_NAMESPACE) --kube-version $(K8S_VERSION) $$args > $$out.yaml; \
	  kube-score score --kubernetes-version $(basename $(K8S_VERSION)) -o json $$out.yaml > $$out.json || true; \
	  [ -s $$out.json ] || { echo "kube-score produced no output for $$f" >&2; exit 1; }; \
	done; \
	chartgate kube-score $(GATES_WAIVERS) $(foreach f,$(GATES_SCORED),$(GATES_OUT)/kube-score/$(basename $(notdir $(f))).json)

docs: tools-helm-docs ## regenerate charts/spacefleet/README.md from README.md.gotmpl and the `# --` comments in values.yaml
	@helm-docs --chart-search-root $(GATES_CHART) --template-files README.md.gotmpl --sort-values-order file --log-level warning
	@echo "docs: wrote $(GATES_CHART)/README.md"

docs-check: tools-helm-docs ## fail when the committed chart README is not what `make docs` generates
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cp -r $(GATES_CHART) "$$tmp/chart"; \
	helm-docs --chart-search-root "$$tmp/chart" --template-files README.md.gotmpl --sort-values-order file --log-level warning; \
	if [ ! -f $(GATES_CHART)/README.md ]; then echo "docs-check: $(GATES_CHART)/README.md is missing: run 'make docs' and commit it" >&2; exit 1; fi; \
	if diff -u $(GATES_CHART)/README.md "$$tmp/chart/README.md"; then echo "docs-check: README.md is up to date"; \
	else echo "docs-check: $(GATES_CHART)/README.md is out of date (diff above: committed vs generated): run 'make docs' and commit it" >&2; exit 1; fi

# One render for one set of values: nothing generated is ever rendered (templates/secrets/), so two renders by the
# same Helm are the same bytes (what Argo CD and Flux diff), and Helm 3 and Helm 4 render the same objects.
helm-compat: tools-helm3 tools-helm4 tools-repo ## every example: two renders by one Helm are byte-identical (Helm 3 and 4), and Helm 3 and 4 render the same objects
	@set -e; fail=0; mkdir -p $(GATES_OUT)/helm-compat; \
	for f in $(GATES_ALL_VALUES); do \
	  args=$(GATES_ARGS); \
	  out=$(GATES_OUT)/helm-compat/$(GATES_NAME); \
	  for h in helm3 helm4; do bin=$(GATES_HELM3); [ $$h = helm3 ] || bin=$(GATES_HELM4); \
	    for i in 1 2; do "$$bin" template $(GATES_RELEASE) $(GATES_CHART) -n $(GATES_NAMESPACE) --kube-version $(K8S_VERSION) $$args > $$out.$$h.$$i.yaml; done; \
	    if ! cmp -s $$out.$$h.1.yaml $$out.$$h.2.yaml; then echo "helm-compat $$f: FAIL: two $$h renders differ (a value generated at render time?)"; \
	      diff $$out.$$h.1.yaml $$out.$$h.2.yaml | sed -n '1,20s/^/    /p'; fail=1; fi; \
	  done; \
	  if res=$$(chartgate compare $$out.helm3.1.yaml $$out.helm4.1.yaml 2>&1); then echo "helm-compat $$f: byte-identical renders; $$res"; \
	  else echo "helm-compat $$f: FAIL"; echo "$$res" | sed 's/^/    /'; fail=1; fi; \
	done; exit $$fail

guards: tools-helm3 tools-helm4 tools-repo ## ci-guards/: one chart coherence rule per script, positive and negative case each (Helm 3 and Helm 4)
	@fail=0; for h in $(GATES_HELM3) $(GATES_HELM4); do CHART=$(abspath $(GATES_CHART)) HELM=$$h bash ci-guards/run.sh || fail=1; done; exit $$fail

# The tree whose shell scripts the shellcheck gate reads (a broken copy in make gates-red).
SHELLCHECK_ROOT ?= .

shellcheck: tools-shellcheck ## shellcheck every shell script of the repository (waivers, each with its reason: ci/shellcheck-waivers.txt)
	@scripts/shellcheck.sh '$(SHELLCHECK_ROOT)' '$(abspath $(SHELLCHECK_ROOT))/ci/shellcheck-waivers.txt'

# The tree whose code the waits gate reads (a broken copy in make gates-red).
WAITS_ROOT ?= .

waits: ## no bare `kubectl wait` on a condition anywhere (it fails at once while the status is unset): scripts/lib/wait.sh, harness.WaitCondition
	@scripts/check-waits.sh '$(WAITS_ROOT)'

# The tree whose scripts the apt gate reads (a broken copy in make gates-red).
APT_ROOT ?= .

apt: ## host packages only through scripts/apt-install.sh (a bare apt-get fails at once while another apt holds its lock)
	@scripts/check-apt.sh '$(APT_ROOT)'

GATES_LIST := lint schemas kubeconform kube-score docs-check helm-compat guards values-schema-check shellcheck waits apt \
              release-metadata changelog version-increment ct-lint api-deprecations trivy
gates: ## every chart gate (tools, lint, schemas, kubeconform, kube-score, docs-check, helm-compat, guards), timed; fails if any fails
	@t0=$$(date +%s%N); $(MAKE) --no-print-directory tools || exit 1; \
	printf '== %-12s %6.1fs\n' tools "$$(( ($$(date +%s%N) - t0) / 1000000 ))e-3"; \
	failed=""; summary=""; \
	for g in $(GATES_LIST); do \
	  echo "== gate $$g"; t=$$(date +%s%N); \
	  if $(MAKE) --no-print-directory $$g; then r=PASS; else r=FAIL; failed="$$failed $$g"; fi; \
	  line=$$(printf '%-4s %-12s %6.1fs' $$r $$g "$$(( ($$(date +%s%N) - t) / 1000000 ))e-3"); \
	  echo "== $$line"; summary="$$summary$$line"$$'\n'; \
	done; \
	echo "== gates summary (total $$(( ($$(date +%s%N) - t0) / 1000000000 ))s)"; printf '%s' "$$summary"; \
	if [ -n "$$failed" ]; then echo "gates FAILED:$$failed" >&2; exit 1; fi

.PHONY: gates-red
gates-red: tools schemas ## prove each gate can fail: break its rule in a copy of the chart and require the gate to go red
	@tests/gates-red/run.sh
