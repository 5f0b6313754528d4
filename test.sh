#!/usr/bin/env bash
# The test command: installs what it needs, builds (warnings are errors), checks formatting, runs every suite
# (.NET tests, Python grpcio interop against a live server, Kubernetes manifest validation), and ends with
# "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

passed=0; failed=0; skipped=0
fail_step() { echo "FAILED: $1"; failed=$((failed + 1)); }

bash scripts/install-deps.sh || fail_step "installing dependencies"

echo "== build"
if ! dotnet build Segmentation.sln -c Release -nologo -v quiet; then
  fail_step "build"
  echo "$passed passed, $failed failed, $skipped skipped"
  exit 1
fi

echo "== format"
if dotnet format Segmentation.sln --verify-no-changes --no-restore -v quiet; then passed=$((passed + 1)); else fail_step "dotnet format --verify-no-changes"; fi

echo "== .NET tests"
log=$(mktemp)
# A test that hangs is stopped after 10 minutes and named (the run goes on to the other suites) rather than stalling CI.
dotnet test Segmentation.sln -c Release --no-build -nologo --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 | tee "$log"
# One summary line per test assembly: "Passed!  - Failed:     0, Passed:    40, Skipped:     0, Total: ..."
while read -r f p s; do
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done < <(sed -n 's/.*Failed: *\([0-9]*\), Passed: *\([0-9]*\), Skipped: *\([0-9]*\).*/\1 \2 \3/p' "$log")
assemblies=$(grep -c 'Failed: *[0-9]*, Passed:' "$log" || true)
expected=$(ls -d tests/*.Tests | wc -l)
if [ "$assemblies" -lt "$expected" ]; then fail_step "only $assemblies of $expected test assemblies reported results"; fi
rm -f "$log"

run_suite() { # name, command...: the suite prints "<name>: N passed, M failed" as its last line
  local name=$1; shift
  echo "== $name"
  local out; out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  local line; line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$out" | tail -1)
  if [ -z "$line" ]; then fail_step "$name suite did not report"; rm -f "$out"; return; fi
  passed=$((passed + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/')))
  rm -f "$out"
}
run_suite interop bash tests/interop/run.sh
run_suite k8s bash tests/k8s/run.sh

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
