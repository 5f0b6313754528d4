#!/usr/bin/env bash
# The measurement and fault harness, one command: throughput and latency (closed and open loop, beside a bare Kestrel
# HTTP/2 endpoint and a gRPC echo), an h2load cross-check, a soak, fuzzing, HTTP/2 abuse and a SIGKILL crash audit.
# Writes artifacts/bench/report.md and report.json (git-ignored). About 7 minutes on a 2-core machine with defaults.
# Options: --seconds 5 --users 2000 --soak-seconds 120 (3600 for the hour) --kills 10 --fuzz-iterations 20000
#          --abuse-seconds 5 --memory-users 200000 --memory-events 5 --only throughput h2load soak grains gateway fuzz abuse memory crash --out DIR
#          --host-dll PATH (another build's src/Segmentation.Host/bin/Release/net10.0/Segmentation.Host.dll, for before/after)
# Quick in-process benchmarks on a temporary server instead of the report: `bench/run.sh bench` (lookup vs echo, durable
# ingest, grain calls) and `bench/run.sh bench-recommend` (Recommend on a 100,000-item catalogue); --help lists options.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ! command -v h2load >/dev/null 2>&1; then
  echo "bench: apt-get install nghttp2-client (h2load, the independent load generator)"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq >/dev/null && apt-get install -y -qq nghttp2-client >/dev/null) \
    || echo "bench: could not install nghttp2-client; the h2load cross-check will be skipped"
fi
if ! command -v dotnet-gcdump >/dev/null 2>&1 && [ ! -x "$HOME/.dotnet/tools/dotnet-gcdump" ]; then
  echo "bench: dotnet tool install --global dotnet-gcdump (full-GC heap readings of the memory scenario)"
  dotnet tool install --global dotnet-gcdump >/dev/null \
    || echo "bench: could not install dotnet-gcdump; the memory scenario will read the last GC's heap instead"
fi
dotnet build bench/Segmentation.Bench -c Release -nologo -v quiet
case "${1:-}" in
  bench|bench-recommend|bench-replicas|bench-churn|eval-session|report) command=$1; shift ;;
  *) command=report ;;
esac
exec dotnet bench/Segmentation.Bench/bin/Release/net10.0/segbench.dll "$command" "$@"
