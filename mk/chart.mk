# mk/chart.mk — the chart's own tests: in-process render tests, the values property test, the values schema,
# the render benchmark, coverage-guided fuzzing and the mutation check.

CHART_K8S_SCHEMAS := $(CACHE)/schemas/$(K8S_VERSION)-standalone-strict
CHART_TEST_ENV     = SPACEFLEET_KUBECONFORM=$(BIN)/kubeconform SPACEFLEET_KUBECONFORM_SCHEMAS='$(GATES_SCHEMA_LOCATION)' \
                     SPACEFLEET_PROMTOOL=$(BIN)/promtool

.PHONY: test-render values-schema values-schema-check bench fuzz mutation
test-render: tools-kubeconform tools-promtool schemas ## render tests: every rule, every example, NOTES, the values property test, the alert rules under promtool (Helm SDK, in-process)
	$(CHART_TEST_ENV) go test -count=1 ./tests/render/...

values-schema: schemas ## refresh the Kubernetes definitions inside charts/spacefleet/values.schema.json
	cd tools/valuesschema && GOFLAGS= GOWORK=off go run . -k8s-schemas '$(CHART_K8S_SCHEMAS)' -schema '$(abspath $(GATES_CHART))/values.schema.json'

values-schema-check: schemas ## fail when values.schema.json's Kubernetes definitions are stale
	cd tools/valuesschema && GOFLAGS= GOWORK=off go run . -check -k8s-schemas '$(CHART_K8S_SCHEMAS)' -schema '$(abspath $(GATES_CHART))/values.schema.json'

bench: ## time one in-process render of the chart (Go benchmark)
	go test -run '^$$' -bench 'BenchmarkRender(NoSchema)?$$' -benchmem -count 5 ./tests/render/

FUZZTIME ?= 60s
fuzz: ## coverage-guided values fuzzing (FUZZTIME=60s)
	go test -run '^$$' -fuzz FuzzValues -fuzztime $(FUZZTIME) ./tests/render/

mutation: tools-promtool ## break each chart rule on purpose in a copy of the chart and require a red test (a test must be able to fail)
	SPACEFLEET_PROMTOOL=$(BIN)/promtool tests/mutation/run.sh
