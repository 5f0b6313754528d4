#!/usr/bin/env bash
# Durable event-log appends: PostgreSQL (multi-row unnest INSERT and binary COPY, each ON CONFLICT DO NOTHING) against
# SQLite (synchronous=FULL) in one run, on a throw-away PostgreSQL server (Debian's postgresql; scripts/install-deps.sh).
# Options: --batch 1000 --users 20000 --appenders 4 --seconds 10 --rounds 2 --connection-string "Host=...;..." (an
# existing server instead of the throw-away one). About 1 minute with the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build bench/Segmentation.Bench.Storage -c Release -nologo -v quiet
exec dotnet bench/Segmentation.Bench.Storage/bin/Release/net10.0/segbench-storage.dll "$@"
