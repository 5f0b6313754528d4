#!/usr/bin/env bash
# Our Lloyd k-means against scikit-learn's (same data, initial centroids and iteration count); see compare-sklearn.py.
# Needs Debian's scikit-learn, which this script does not install:  apt-get install python3-sklearn
# Options pass through, e.g.  bench/kmeans/compare-sklearn.sh --n 20000 --ks 64 256 --iterations 20
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
python=/usr/bin/python3 # Debian's interpreter: python3-sklearn installs into its dist-packages, not into a pyenv's
if ! "$python" -c 'import sklearn' 2>/dev/null; then
  echo "compare-sklearn: scikit-learn is missing for $python; install it with: apt-get install python3-sklearn" >&2
  exit 2
fi
exec "$python" bench/kmeans/compare-sklearn.py "$@"
