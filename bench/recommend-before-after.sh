#!/usr/bin/env bash
# Recommend vs GetUserSegments over gRPC on a 100,000-item catalogue, before and after, in one script: builds the
# base commit (default 0c8701d, the last build before the per-user answer cache and pooled scoring buffers) in a
# git worktree with THIS tree's harness (bench/Segmentation.Bench), builds this tree, then runs bench-recommend on
# the base, on this build, and on this build with the cache off (Recommendations:CacheMaxAge=00:00:00), one after
# the other. Prints each run's RESULT line (calls/s, p99, ratio, load average) and keeps the full output in
# artifacts/bench/recommend-before-after.log. About 3 minutes per run on 2 cores (seeding is most of it).
# Usage: bench/recommend-before-after.sh [--base COMMIT] [--base-dir DIR] [bench-recommend options, e.g. --rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
base=0c8701d
basedir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --base-dir) basedir=$2; shift 2 ;;
    *) break ;;
  esac
done
basedir=${basedir:-"${TMPDIR:-/tmp}/seg-bench-base-$base"}
if [ ! -d "$basedir" ]; then
  git worktree add --detach "$basedir" "$base" >/dev/null
fi
# This tree's harness on the base's product code (the harness only uses what the base has).
rm -rf "$basedir/bench/Segmentation.Bench.tmp"
cp -r bench/Segmentation.Bench "$basedir/bench/Segmentation.Bench.tmp"
rm -rf "$basedir/bench/Segmentation.Bench.tmp/bin" "$basedir/bench/Segmentation.Bench.tmp/obj"
find "$basedir/bench/Segmentation.Bench" -mindepth 1 -maxdepth 1 ! -name bin ! -name obj -exec rm -rf {} +
cp -r "$basedir/bench/Segmentation.Bench.tmp/." "$basedir/bench/Segmentation.Bench/"
rm -rf "$basedir/bench/Segmentation.Bench.tmp"
echo "building the base ($base, in $basedir) and this tree"
dotnet build "$basedir/bench/Segmentation.Bench" -c Release -m:1 -nologo -v quiet >/dev/null
dotnet build bench/Segmentation.Bench -c Release -m:1 -nologo -v quiet >/dev/null
mkdir -p artifacts/bench
log=artifacts/bench/recommend-before-after.log
: > "$log"
run() {
  local root=$1 label=$2
  shift 2
  echo "== $label ($(uptime | sed 's/.*load average/load average/'))" | tee -a "$log"
  dotnet "$root/bench/Segmentation.Bench/bin/Release/net10.0/segbench.dll" bench-recommend --label "$label" "$@" >>"$log" 2>&1 || echo "(the run failed; see $log)"
  grep -E "^(seeded|item model)" "$log" | tail -2 || true
  grep -F "RESULT $label |" "$log" | tail -1 || true
}
run "$basedir" "before ($base)" "$@"
run . "after ($(git rev-parse --short HEAD))" "$@"
run . "after, cache off" --set Recommendations:CacheMaxAge=00:00:00 "$@"
echo "full output: $log"
