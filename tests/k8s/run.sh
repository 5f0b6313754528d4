#!/usr/bin/env bash
# Renders k8s/base and k8s/overlays/cluster with kubectl's built-in kustomize and validates every object offline
# (schemas, cross-object references, the service's settings per role), then runs the validator's self-test (broken
# copies must be refused, legitimate variants accepted).
# Prints "ok <rendering> <Kind>/<name>" or the error per object; the last line is "k8s: N passed, M failed"; exit 1 on
# failure.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
fail() { echo "$1"; echo "k8s: 0 passed, 1 failed"; exit 1; }

command -v node >/dev/null || fail "node is not installed"
command -v kubectl >/dev/null || fail "kubectl is not installed"
if [ ! -d "$here/node_modules/kubernetes-models" ] || [ ! -d "$here/node_modules/yaml" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent) || fail "npm ci failed in tests/k8s"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
inputs=()
for dir in k8s/base k8s/overlays/cluster; do
  out="$work/$(echo "$dir" | tr / _).yaml"
  # kubectl prints deprecation notes on stderr; show them only when rendering fails.
  kubectl kustomize "$root/$dir" >"$out" 2>"$work/errors" || fail "kubectl kustomize $dir failed: $(cat "$work/errors")"
  inputs+=("$dir=$out")
done
node "$here/validate.mjs" --self-test "${inputs[@]}"
