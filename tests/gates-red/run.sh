#!/usr/bin/env bash
# A gate must be able to fail: for each chart gate of mk/gates.mk, break the rule it guards in a throwaway copy of
# the chart and require `make <gate> GATES_CHART=<copy>` to exit non-zero. One line per gate; exits 1 when a gate
# stayed green on its broken copy (or went red on the unbroken one: the control). Run by `make gates-red`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$root"

# case NAME GATE BREAK: BREAK is a shell snippet run inside the copy's directory.
cases=(
  "yamllint: a duplicate key in values.yaml|lint|printf 'nameOverride: dup\n' >> values.yaml"
  "helm lint --strict: a template error|lint|printf '{{ .Values.nope.missing }}\n' > templates/broken.yaml"
  "kubeconform: an unknown field on the web Deployment|kubeconform|sed -i 's/^  replicas: {{ include \"spacefleet.int\" \$web.replicas }}$/&\n  replicaz: 1/' templates/web/deployment.yaml"
  "kubeconform: a string where an int belongs|kubeconform|sed -i 's/containerPort: {{ include \"spacefleet.int\" \$web.port }}/containerPort: \"{{ include \"spacefleet.int\" \$web.port }}\"/' templates/web/deployment.yaml"
  "kube-score: a writable root filesystem|kube-score|sed -i '0,/readOnlyRootFilesystem: true/s//readOnlyRootFilesystem: false/' values.yaml"
  "kube-score: the worker loses its PodDisruptionBudget|kube-score|: > templates/worker/pdb.yaml"
  "docs-check: a values comment changed without make docs|docs-check|sed -i 's/^# -- Override the chart name used in resource names.$/# -- Override the chart name (changed)./' values.yaml"
  "helm-compat: Helm 4 renders a different object|helm-compat|printf '{{- if hasPrefix \"v4\" .Capabilities.HelmVersion.Version }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: helm4-only\n{{- end }}\n' > templates/drift.yaml"
  "helm-compat: a value generated at render time (two renders differ)|helm-compat|printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: random\ndata:\n  x: {{ randAlphaNum 8 | quote }}\n' > templates/random.yaml"
  "guards: viaHook no longer reaches the pods|guards|sed -i 's/if .Values.migrations.viaHook -}}/if false -}}/' templates/migrate/_migrate.tpl"
  "values-schema-check: a hand-edited Kubernetes definition|values-schema-check|sed -i '0,/\"io.k8s.api.core.v1.Affinity\": {/s//\"io.k8s.api.core.v1.Affinity\": {\"description\": \"edited\",/' values.schema.json"
  "release-metadata: artifacthub.io/images misses the PostgreSQL image|release-metadata|sed -i '/^      image: postgres:/d' Chart.yaml"
  "release-metadata: no CHANGELOG section for the chart version|release-metadata|sed -i 's/^## \([0-9][^ ]*\) (unreleased)$/## next (unreleased)/' CHANGELOG.md"
  "release-metadata: artifacthub.io/license names MIT, the LICENSE is the Apache-2.0 text|release-metadata|sed -i 's#^  artifacthub.io/license: Apache-2.0\$#  artifacthub.io/license: MIT#' Chart.yaml"
  "release-metadata: the chart's LICENSE differs from the repository's (the root LICENSE is read from the repository)|release-metadata|printf 'Copyright 2026 someone else\n' >> LICENSE"
  "release-metadata: .helmignore drops LICENSE, so the package carries none|release-metadata|printf 'LICENSE\n' >> .helmignore"
  "release-metadata: the LICENSE is not the unmodified Apache-2.0 text (root and chart copies edited alike)|release-metadata|sed -i '0,/royalty-free, irrevocable$/s//royalty-free, revocable/' LICENSE && cp LICENSE gate-LICENSE"
  "changelog: a default changed silently (config.logLevel info -> warn, not in CHANGELOG/UPGRADING)|changelog|sed -i 's/^  logLevel: info$/  logLevel: warn/' values.yaml"
  "changelog: a new default object not named in CHANGELOG|changelog|printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-silent\n' > templates/silent.yaml"
  "version-increment: the chart changed but its version is the released one|version-increment|sed -i 's/^version: .*/version: 0.1.0/' Chart.yaml"
  "ct lint: trailing spaces in Chart.yaml (ct's yamllint rules)|ct-lint|sed -i 's/^type: application$/type: application   /' Chart.yaml"
  "trivy misconfiguration checks: a container may escalate privileges|trivy|sed -i '0,/allowPrivilegeEscalation: false/s//allowPrivilegeEscalation: true/' values.yaml"
  "trivy misconfiguration checks: a render holds a document that is not a Kubernetes object (it would go unscanned)|trivy|printf 'notAnObject: true\n' > templates/stray.yaml"
  "kube-score: a waiver that matches no finding (stale)|kube-score|cp \"\$root/ci/kube-score-waivers.txt\" gate-waivers.txt && printf 'pod-probes  Deployment/nothing-has-this-name  stale\\n' >> gate-waivers.txt"
  "trivy misconfiguration checks: a waiver that matches no finding (stale)|trivy|cp \"\$root/ci/trivy-waivers.txt\" gate-waivers.txt && printf 'KSV-0001  Deployment/nothing-has-this-name  stale\\n' >> gate-waivers.txt"
  "api-deprecations: a FlowSchema of flowcontrol v1beta3 (deprecated 1.29, removed 1.32)|api-deprecations|printf 'apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata:\n  name: old\nspec:\n  priorityLevelConfiguration:\n    name: global-default\n' > templates/old-api.yaml"
  "shellcheck: an unquoted variable in a script|shellcheck|printf 'rm -rf \$1/cache\\n' >> scripts/kind-cluster.sh"
  "shellcheck: a waiver without a reason|shellcheck|printf 'scripts/kind-cluster.sh SC2086\\n' >> ci/shellcheck-waivers.txt"
  "shellcheck: a stale waiver|shellcheck|printf 'scripts/kind-cluster.sh SC2154 nothing fires it\\n' >> ci/shellcheck-waivers.txt"
  "waits: a bare kubectl wait on a condition in a script|waits|printf 'kc wait --for=cond''ition=Established crd/x\\n' >> scripts/addons.sh"
  "waits: a bare kubectl wait on a condition in a Go suite|waits|printf 'var _ = []string{\"wait\", \"--for\", \"cond''ition=Ready\"}\\n' >> tests/e2e/fit_test.go"
  "apt: a host package installed by a bare apt-get in a script|apt|printf 'sudo apt-get inst''all -y jq\\n' >> scripts/kind-cluster.sh"
  "apt: the package lists refreshed by a bare apt-get in a make recipe|apt|printf 'tools-x:\\n\\t@apt-get upd''ate -qq\\n' >> mk/kind.mk"
)

run_gate() { # GATE COPY-DIR LOG (shellcheck, waits and apt read a copy of the repository, the other gates a chart copy)
  if [ "$1" = shellcheck ]; then make --no-print-directory shellcheck SHELLCHECK_ROOT="$2" >"$3" 2>&1; return; fi
  if [ "$1" = waits ]; then make --no-print-directory waits WAITS_ROOT="$2" >"$3" 2>&1; return; fi
  if [ "$1" = apt ]; then make --no-print-directory apt APT_ROOT="$2" >"$3" 2>&1; return; fi
  local args=(GATES_CHART="$2")
  # a case that breaks a waiver file leaves its copy of the file in the chart copy as gate-waivers.txt
  if [ -f "$2/gate-waivers.txt" ]; then args+=(GATES_WAIVERS="$2/gate-waivers.txt" TRIVY_WAIVERS="$2/gate-waivers.txt"); fi
  # a case that breaks the repository's LICENSE leaves its copy in the chart copy as gate-LICENSE
  if [ -f "$2/gate-LICENSE" ]; then args+=(GATES_LICENSE="$2/gate-LICENSE"); fi
  make --no-print-directory "$1" "${args[@]}" >"$3" 2>&1
}
# copy_for GATE DEST: what a gate's case breaks, copied fresh.
copy_for() {
  if [ "$1" = shellcheck ] || [ "$1" = waits ] || [ "$1" = apt ]; then
    mkdir -p "$2"; git ls-files -z | xargs -0 cp --parents -t "$2"
  else cp -r charts/spacefleet "$2"; fi
}


n=0; bad=0
# Control: every gate used below passes on an unbroken copy (so a red on the broken copy is the break's doing).
for g in $(printf '%s\n' "${cases[@]}" | cut -d'|' -f2 | sort -u); do
  copy_for "$g" "$work/control-$g"
  if run_gate "$g" "$work/control-$g" "$work/control-$g.log"; then echo "control      $g: green on the unbroken copy"
  else echo "CONTROL RED  $g: red on the unbroken copy"; sed 's/^/    /' "$work/control-$g.log" | tail -15; bad=$((bad + 1)); fi
done

for c in "${cases[@]}"; do
  IFS='|' read -r name gate brk <<<"$c"
  n=$((n + 1))
  copy="$work/case$n"; rm -rf "$copy"; copy_for "$gate" "$copy"
  (cd "$copy" && eval "$brk")
  if diff -rq "$work/control-$gate" "$copy" >/dev/null 2>&1; then echo "NOT APPLIED  $gate: $name"; bad=$((bad + 1)); continue; fi
  if run_gate "$gate" "$copy" "$work/case$n.log"; then
    echo "STAYED GREEN $gate: $name"; bad=$((bad + 1))
  else
    # awk reads the whole log (no early-exit reader under pipefail: that was a random SIGPIPE, exit 141).
    why=$(awk '!/^[[:space:]]*[|+-]|WAIVED/ && /FAIL|error|Error|out of date|CRITICAL|differ|duplicat|warning:|note:|stale|matching no finding|no reason/ && !found {sub(/^[[:space:]]+/, ""); print substr($0, 1, 150); found = 1}' "$work/case$n.log")
    echo "red          $gate: $name -> $why"
  fi
done
echo "gates-red: $n breaks, $bad problems"
[ "$bad" -eq 0 ]
