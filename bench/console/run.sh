#!/usr/bin/env bash
# Console page render times: the built host on a data folder (seeded with --users synthetic shoppers when empty, which
# takes a while: ~18 minutes for 100,000 on a loaded 2-core machine), every console page fetched --runs times with curl
# from the admin port once the start-up sweep has settled; median and max seconds per page, and the median as a ratio to
# a baseline fetched the same way in the same run (GET /v1/admin/stats over HTTP/JSON: the same port, Kestrel and
# routing, no work). Prints the load average.
# Every wait is bounded: the host must serve within --start-minutes (seeding and training included), and the sweep is
# waited for at most 30 minutes.
#   bench/console/run.sh [--data DIR] [--users 100000] [--runs 10] [--start-minutes 90] [--Segmentation:Setting=value ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="$root/artifacts/bench/console-data"; users=100000; runs=10; start_minutes=90; host_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --start-minutes) start_minutes=$2; shift 2 ;;
    --Segmentation:*|--Logging:*) host_args+=("$1"); shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
host_dll="$root/src/Segmentation.Host/bin/Release/net10.0/Segmentation.Host.dll"
[ -f "$host_dll" ] || { echo "build the host first: dotnet build src/Segmentation.Host -c Release"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
grpc=$(free_port); admin=$(free_port)
mkdir -p "$data"; log="$data/host.log"
dotnet "$host_dll" --Segmentation:DataDirectory="$data" --Segmentation:Listen=127.0.0.1:$grpc --Segmentation:AdminListen=127.0.0.1:$admin \
  --Segmentation:SeedWhenEmpty=true --Segmentation:SeedUsers="$users" --Logging:LogLevel:Default=Warning "${host_args[@]}" > "$log" 2>&1 &
host=$!
trap 'kill -TERM $host 2>/dev/null; wait $host 2>/dev/null' EXIT
base="http://127.0.0.1:$admin"
# Seeding and the first training come before the host serves: wait for it, at most --start-minutes.
deadline=$((SECONDS + start_minutes * 60))
until grep -q "Serving gRPC" "$log"; do
  kill -0 $host 2>/dev/null || { echo "host exited:"; tail -20 "$log"; exit 1; }
  [ $SECONDS -lt $deadline ] || { echo "host not serving after $start_minutes minutes:"; tail -20 "$log"; exit 1; }
  sleep 2
done
grep "Seeded a synthetic" "$log" || true
# The start-up sweep re-assigns every user; wait until the clustered population stops growing.
total() { curl -s -m 120 "$base/v1/segments" | python3 -c 'import json,sys; print(sum(int(s.get("size",0)) for s in json.load(sys.stdin).get("segments",[])))'; }
previous=-1; now=$(total); settle_deadline=$((SECONDS + 30 * 60))
while [ "$now" != "$previous" ] && [ $SECONDS -lt $settle_deadline ]; do sleep 10; previous=$now; now=$(total); echo "clustered users: $now"; done
[ "$now" = "$previous" ] || echo "the clustered population still grew after 30 minutes; measuring anyway"
segment=$(curl -s -m 120 "$base/v1/segments" | python3 -c 'import json,sys; print(json.load(sys.stdin)["segments"][0]["segmentId"])')
# A shopper to show: the first member streamed (newline-delimited JSON, or one JSON array).
user=$(curl -s -m 120 "$base/v1/segments/$segment/members" | python3 -c '
import json, sys
text = sys.stdin.read().strip()
first = json.loads(text)[0] if text.startswith("[") else json.loads(text.splitlines()[0])
print(first.get("result", first)["userId"])')
measure() { # path: prints "median max" seconds over $runs fetches, after one warm-up
  local times=()
  curl -s -m 120 -o /dev/null "$base$1"
  for _ in $(seq "$runs"); do times+=("$(curl -s -m 120 -o /dev/null -w '%{time_total}' "$base$1")"); done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ t[NR] = $1 } END { printf "%.4f %.4f", (NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2), t[NR] }'
}
read -r baseline _ <<< "$(measure /v1/admin/stats)"
echo "users clustered: $now; runs per page: $runs; baseline GET /v1/admin/stats median ${baseline} s"
printf '%-40s %10s %10s %12s\n' page median_s max_s median/base
for page in /console /console/segments "/console/segments/$segment" /console/map "/console/shopper?user=$user" /console/rules; do
  read -r median max <<< "$(measure "$page")"
  printf '%-40s %10s %10s %12.1f\n' "$page" "$median" "$max" "$(python3 -c "print($median / $baseline)")"
done
read -r after _ <<< "$(measure /v1/admin/stats)"
echo "baseline again after the pages: median ${after} s"
echo "load average: $(uptime | sed 's/.*load average: //')"
