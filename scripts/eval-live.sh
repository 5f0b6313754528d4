#!/usr/bin/env bash
# seg eval movielens --live, one fresh service per split: starts the host on a throw-away data folder (1997 events
# accepted, every training rating kept in the profile's history), runs the live evaluation against it over gRPC, stops it.
# Usage: scripts/eval-live.sh [item|user|u1|u2|u3|u4|u5|folds|all ...]   (default: item)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Segmentation.Host -c Release -nologo -v quiet
dotnet build src/Segmentation.Cli -c Release -nologo -v quiet
splits=("$@")
[ ${#splits[@]} -eq 0 ] && splits=(item)
expanded=()
for s in "${splits[@]}"; do
  case "$s" in
    folds) expanded+=(u1 u2 u3 u4 u5) ;;
    all) expanded+=(item user u1 u2 u3 u4 u5) ;;
    *) expanded+=("$s") ;;
  esac
done
port=${EVAL_PORT:-5391}
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
  echo "error: port $port is taken; set EVAL_PORT to a free one" >&2
  exit 2
fi
uptime
for split in "${expanded[@]}"; do
  data=$(mktemp -d)
  dotnet src/Segmentation.Host/bin/Release/net10.0/Segmentation.Host.dll \
    --Segmentation:DataDirectory="$data" --Segmentation:Listen=127.0.0.1:$port \
    --Segmentation:EarliestEventTime=1995-01-01 --Segmentation:Profiles:HistoryInteractions=1000 \
    --Logging:LogLevel:Default=Warning > "$data/host.log" 2>&1 &
  host=$!
  for _ in $(seq 1 240); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.5
  done
  if ! kill -0 "$host" 2>/dev/null; then
    echo "error: the service did not start:" >&2; cat "$data/host.log" >&2; exit 2
  fi
  status=0
  dotnet src/Segmentation.Cli/bin/Release/net10.0/seg.dll eval movielens --live "$split" --address "http://127.0.0.1:$port" || status=$?
  kill "$host"; wait "$host" || true
  rm -rf "$data"
  [ $status -eq 0 ] || exit $status
done
uptime
