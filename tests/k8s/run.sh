#!/usr/bin/env bash
# Renders k8s/base with kubectl's built-in kustomize and validates every object offline. Last line: "k8s: N passed, M failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ ! -d "$here/node_modules" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent) || { echo "k8s: 0 passed, 1 failed"; exit 1; }
fi
rendered=$(kubectl kustomize "$root/k8s/base") || { echo "kubectl kustomize failed"; echo "k8s: 0 passed, 1 failed"; exit 1; }
echo "$rendered" | node "$here/validate.mjs" --self-test
