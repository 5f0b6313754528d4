#!/usr/bin/env bash
# The run command: builds and starts the service on its embedded defaults (SQLite in ./data, h2c on 127.0.0.1:5000).
# The Orleans dashboard is on http://127.0.0.1:8080/ (the admin port), the web console on http://127.0.0.1:8080/console. On an empty store it seeds a synthetic shop into tenant `demo` (apart from real data, which goes to tenant `default`) and prints `./seg --tenant demo` commands to try.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ "${1:-}" = "--cluster" ]; then
  # A local cluster instead: PostgreSQL, N silos and a gateway on loopback (scripts/local-cluster.sh says more).
  shift
  exec bash scripts/local-cluster.sh "$@"
fi
# The host, and `seg` (a pure gRPC client since it stopped referencing the host) for the commands the host prints.
bash scripts/install-console-assets.sh   # the web console's charting library (npm), once
dotnet build src/Segmentation.Host -c Release -nologo -v quiet
dotnet build src/Segmentation.Cli -c Release -nologo -v quiet
exec dotnet src/Segmentation.Host/bin/Release/net10.0/Segmentation.Host.dll --Segmentation:SeedWhenEmpty=true --Segmentation:SeedTenant=demo --Segmentation:ConsoleTenant=demo --Segmentation:Recommendations:ItemModel:TrainAtStart=true --Segmentation:AdminListen=127.0.0.1:8080 "$@"
