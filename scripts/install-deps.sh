#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (idempotent; fast when everything is there):
# Debian's python3-grpcio + python3-grpc-tools (a gRPC client nobody here wrote), kubectl (renders kustomize),
# h2load (nghttp2-client: the harness's independent load generator), the npm packages of the Kubernetes schema
# validator, Debian's ONNX backend test data (models nobody here wrote), Debian's python3-onnx (its checker judges the
# models our exporter writes), Debian's python3-torch (tests export a drop-in PyTorch user encoder with it) and Debian's
# postgresql (the storage tests and benchmarks start a throw-away server from its binaries in /usr/lib/postgresql/<ver>/bin;
# the cluster the package may create and start on port 5432 is not used). ONNX Runtime itself comes from NuGet
# (Microsoft.ML.OnnxRuntime*).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
/usr/bin/python3 -c 'import grpc, grpc_tools.protoc' 2>/dev/null || need+=(python3-grpcio python3-grpc-tools)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
/usr/bin/python3 -c 'import onnx.checker' 2>/dev/null || need+=(python3-onnx)
/usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# Headless Chromium for the console's browser test (ConsoleBrowserTests drives it over the DevTools protocol).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash scripts/install-console-assets.sh

if [ -f tests/k8s/package.json ] && [ ! -d tests/k8s/node_modules ]; then
  echo "install-deps: npm ci (tests/k8s)"
  (cd tests/k8s && npm ci --no-audit --no-fund --silent)
fi

