#!/usr/bin/env bash
# The web console's charting library (Chart.js, pinned in src/Segmentation.Host/WebConsole/package-lock.json) from npm;
# the host's build copies its one file into the output (console-assets/) and serves it on the admin port.
# Idempotent: does nothing when it is already installed.
set -euo pipefail
cd "$(dirname "$0")/../src/Segmentation.Host/WebConsole"
if [ ! -f node_modules/chart.js/dist/chart.umd.min.js ]; then
  echo "install-console-assets: npm ci (src/Segmentation.Host/WebConsole)"
  npm ci --no-audit --no-fund --silent
fi
