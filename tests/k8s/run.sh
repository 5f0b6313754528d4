#!/usr/bin/env bash
# Renders k8s/base with kubectl's built-in kustomize and validates every object offline (schemas and cross-object
# references), then runs the validator's self-test (broken copies must be refused).
# Prints "ok <Kind>/<name>" or the error per object; the last line is "k8s: N passed, M failed"; exit 1 on failure.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
fail() { echo "$1"; echo "k8s: 0 passed, 1 failed"; exit 1; }

command -v node >/dev/null || fail "node is not installed"
command -v kubectl >/dev/null || fail "kubectl is not installed"
if [ ! -d "$here/node_modules/kubernetes-models" ] || [ ! -d "$here/node_modules/yaml" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent) || fail "npm ci failed in tests/k8s"
fi

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
# kubectl prints deprecation notes on stderr; show them only when rendering fails.
rendered="$(kubectl kustomize "$root/k8s/base" 2>"$errors")" || fail "kubectl kustomize k8s/base failed: $(cat "$errors")"
printf '%s\n' "$rendered" | node "$here/validate.mjs" --self-test
