# Spacefleet: the chart, the server it installs, and the harness that proves both.
# Every tool version is pinned here; `make` installs what it needs into $(CACHE) (kept across clones).
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE   ?= $(HOME)/.cache/spacefleet
BIN     := $(CACHE)/bin
export PATH := $(BIN):$(PATH)
export GOFLAGS ?= -mod=mod

# Pinned tool versions (one place).
HELM3_VERSION       := v3.22.0
HELM4_VERSION       := v4.3.1
# kind drives every Kubernetes version below (it writes kubeadm v1beta4 from 1.36, v1beta3 before).
KIND_VERSION        := v0.33.0
# Kubernetes, one variable each (images/kind-node/build.sh derives etcd and CoreDNS from it):
# the newest (the main e2e cluster: a control plane and two workers; kubectl; the values schema's definitions) and
# the floor (Chart.yaml kubeVersion: the floor suite's cluster; kubeconform's oldest schemas).
K8S_VERSION         := v1.37.2
K8S_FLOOR_VERSION   := v1.30.14
CERT_MANAGER_VERSION := v1.21.2
CNPG_VERSION        := 1.27.1
# sigs.k8s.io/kube-network-policies: the NetworkPolicy controller the e2e NetworkPolicy suite installs (images/netpol)
NETPOL_VERSION      := v1.1.1
# Gateway API CRDs the e2e suites apply (HTTPRoute), from the module's config/crd/standard/.
GATEWAY_API_VERSION := v1.6.3
# The GitOps controllers the e2e suites reconcile the chart with (images/argocd, images/flux; mk/gitops.mk). Argo CD
# v3.6 needs Go 1.27 (its go directive): that toolchain comes from the module proxy for that build only.
ARGOCD_VERSION      := v3.6.2
ARGOCD_GO           := go1.27.3
FLUX_SOURCE_VERSION := v1.9.6
FLUX_HELM_VERSION   := v1.6.4

include mk/*.mk

.PHONY: test
test: ## everything CI runs before e2e: render tests, server tests on a real PostgreSQL, chart gates, proof each gate can fail, mutation check
	@$(MAKE) --no-print-directory test-render
	@$(MAKE) --no-print-directory test-scripts
	@$(MAKE) --no-print-directory test-app
	@$(MAKE) --no-print-directory gates
	@$(MAKE) --no-print-directory gates-red
	@$(MAKE) --no-print-directory mutation

.PHONY: test-scripts
test-scripts: tools-jq ## the harness scripts' own tests (tests/scripts/*_test.sh: the wait helper, the shared-cache lock, the image cache)
	@set -e; for t in tests/scripts/*_test.sh; do echo "== $$t"; "$$t"; done

.PHONY: help
help: ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'
