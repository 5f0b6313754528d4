#!/usr/bin/python3
"""Our Lloyd k-means against scikit-learn's, in one run: same data, same initial centroids, same iteration count.

Needs Debian's scikit-learn (this script installs nothing):  apt-get install python3-sklearn
Run it with Debian's interpreter (/usr/bin/python3), or through bench/kmeans/compare-sklearn.sh, from anywhere.

For each k it
  1. times sklearn.cluster.KMeans(n_clusters=k, init=<centroids>, n_init=1, max_iter=I, tol=0, algorithm="lloyd").fit(X)
     and divides by n_iter_ (fewer than I only if the labels stopped changing);
  2. runs `Segmentation.Bench.KMeans fixed-init` for exactly n_iter_ iterations from the same centroids (built once,
     before any timing; the verb times its own Lloyd calls, so process start and file reading are outside the clock);
  3. recomputes both final inertias here in float64 (each point to its nearest final centroid), so the inertia ratio
     does not rest on either side's own bookkeeping (sklearn sums its inertia_ in float32).
Both timings are whole fits divided by iterations: they include the point norms and the final assignment pass. Our
GFLOP/s counts the distance GEMM only (2·n·k·d per iteration) and is shown as a fraction of two fp32 peaks: the nominal
one (--peak-gflops-per-core × threads; 61 GFLOP/s per AVX-512 core, the issue's figure) and the one measured here by
the bench's fma-peak verb (12 independent register-resident FMA chains per thread; the best of a run before and after
the comparison, since other processes on the machine pull it down).

Thread counts (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) are set before numpy loads and printed, with
threadpoolctl's view of the BLAS and OpenMP libraries actually loaded. Generated files go to --out (default under
/tmp), never into the repository.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "bench" / "Segmentation.Bench.KMeans"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="points (default 200,000)")
    parser.add_argument("--d", type=int, default=64, help="dimensions (default 64)")
    parser.add_argument("--ks", type=int, nargs="+", default=[64, 256], help="cluster counts (default 64 256)")
    parser.add_argument("--iterations", type=int, default=20, help="Lloyd iterations, max_iter for sklearn (default 20)")
    parser.add_argument("--blobs", type=int, default=300, help="Gaussian blobs in the data (default 300)")
    parser.add_argument("--cluster-std", type=float, default=4.0, help="blob standard deviation (default 4; centres in ±10)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both sides (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours; the median counts (default 3)")
    parser.add_argument("--sklearn-repeats", type=int, default=1, help="timed sklearn fits; the median counts (default 1)")
    parser.add_argument("--peak-gflops-per-core", type=float, default=61.0, help="fp32 FMA peak per core (default 61)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/segmentation-kmeans-compare"), help="scratch folder")
    return parser.parse_args()


ARGS = parse_args()
# Before numpy (and its BLAS/OpenMP runtimes) load: they read these once.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for name in THREAD_VARIABLES:
    os.environ[name] = str(ARGS.threads)

try:
    import numpy as np
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    from threadpoolctl import threadpool_info
except ImportError as error:
    sys.exit(f"compare-sklearn: {error} (interpreter {sys.executable}).\n"
             "Install Debian's scikit-learn with `apt-get install python3-sklearn` and run this script with /usr/bin/python3 "
             "(or bench/kmeans/compare-sklearn.sh).")


def load():
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def loaded_blas():
    """BLAS/LAPACK shared objects mapped into this process, resolved through Debian's alternatives symlinks."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line or "lapack" in line}
    except OSError:
        return []
    resolved = {os.path.realpath(path) for path in paths if path.startswith("/")}
    return sorted(path for path in resolved if os.path.basename(path).startswith("lib"))  # not Python extension modules


def nearest_inertia(x, centroids, block=8192):
    """Σ over points of the squared distance to the nearest centroid, in float64 throughout."""
    c = centroids.astype(np.float64)
    c_norms = (c * c).sum(axis=1)
    total = 0.0
    for start in range(0, len(x), block):
        xb = x[start:start + block].astype(np.float64)
        scores = c_norms[None, :] - 2.0 * (xb @ c.T)
        nearest = scores.argmin(axis=1)
        diff = xb - c[nearest]
        total += float((diff * diff).sum())
    return total


def run_ours(data_path, init_path, k, iterations, centroids_path):
    command = ["dotnet", "run", "-c", "Release", "--no-build", "--project", str(PROJECT), "--",
               "fixed-init", "--data", str(data_path), "--init", str(init_path),
               "--n", str(ARGS.n), "--d", str(ARGS.d), "--k", str(k), "--iterations", str(iterations),
               "--repeats", str(ARGS.repeats), "--threads", str(ARGS.threads), "--centroids-out", str(centroids_path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def measure_peak():
    command = ["dotnet", "run", "-c", "Release", "--no-build", "--project", str(PROJECT), "--",
               "fma-peak", "--threads", str(ARGS.threads), "--seconds", "2"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def run_sklearn(x, init, k):
    times, model = [], None
    for _ in range(ARGS.sklearn_repeats):
        model = KMeans(n_clusters=k, init=init, n_init=1, max_iter=ARGS.iterations, tol=0, algorithm="lloyd")
        start = time.perf_counter()
        model.fit(x)
        times.append((time.perf_counter() - start) / model.n_iter_)
    return sorted(times)[len(times) // 2], model


def main():
    ARGS.out.mkdir(parents=True, exist_ok=True)
    peak = ARGS.peak_gflops_per_core * ARGS.threads
    print(f"threads: {', '.join(f'{v}={os.environ[v]}' for v in THREAD_VARIABLES)}; ours --threads {ARGS.threads}")
    print(f"load average (1/5/15 min): {load()} — other processes on this machine skew both timings")
    print(f"python {sys.version.split()[0]} ({sys.executable}), numpy {np.__version__}, scikit-learn {sklearn.__version__}")
    for pool in threadpool_info():
        print(f"  {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version') or ''} "
              f"num_threads={pool.get('num_threads')} ({pool.get('filepath')})")
    if not any(pool.get("user_api") == "blas" for pool in threadpool_info()):
        print(f"  blas: none that threadpoolctl can control; loaded: {', '.join(loaded_blas()) or 'unknown'} "
              "(Debian's reference libblas is single-threaded)")

    print(f"building {PROJECT.relative_to(REPO)} (Release) ...", flush=True)
    subprocess.run(["dotnet", "build", str(PROJECT), "-c", "Release", "-nologo", "-v", "quiet"], check=True,
                   stdout=subprocess.DEVNULL)

    peak_before = measure_peak()
    print(f"measured fp32 FMA peak: {peak_before['gflops']:.1f} GFLOP/s with {ARGS.threads} threads "
          f"({peak_before['vector_bits']}-bit vectors); nominal {peak:.0f}", flush=True)

    x, _ = make_blobs(n_samples=ARGS.n, n_features=ARGS.d, centers=ARGS.blobs, cluster_std=ARGS.cluster_std,
                      random_state=ARGS.seed)
    x = np.ascontiguousarray(x, dtype="<f4")
    data_path = ARGS.out / f"x-{ARGS.n}x{ARGS.d}-seed{ARGS.seed}.f32"
    x.tofile(data_path)
    print(f"data: make_blobs n={ARGS.n} d={ARGS.d} blobs={ARGS.blobs} std={ARGS.cluster_std} seed={ARGS.seed} -> {data_path}")

    rows = []
    for k in ARGS.ks:
        rng = np.random.default_rng([ARGS.seed, k])
        init = np.ascontiguousarray(x[np.sort(rng.choice(ARGS.n, size=k, replace=False))], dtype="<f4")
        init_path = ARGS.out / f"init-k{k}.f32"
        init.tofile(init_path)

        print(f"k={k}: sklearn ...", flush=True)
        sk_seconds, model = run_sklearn(x, init.copy(), k)
        iterations = int(model.n_iter_)
        print(f"k={k}: ours ({iterations} iterations) ...", flush=True)
        ours = run_ours(data_path, init_path, k, iterations, ARGS.out / f"ours-k{k}.f32")
        our_centroids = np.fromfile(ARGS.out / f"ours-k{k}.f32", dtype="<f4").reshape(k, ARGS.d)
        sk_inertia = nearest_inertia(x, model.cluster_centers_)
        our_inertia = nearest_inertia(x, our_centroids)
        print(f"k={k}: done, load average {load()}", flush=True)
        rows.append({
            "k": k, "iterations": iterations, "sklearn_s_per_iter": sk_seconds, "ours_s_per_iter": ours["seconds_per_iteration"],
            "time_ratio": ours["seconds_per_iteration"] / sk_seconds,
            "sklearn_inertia": sk_inertia, "ours_inertia": our_inertia, "inertia_ratio": our_inertia / sk_inertia,
            "sklearn_inertia_reported": float(model.inertia_), "ours_inertia_reported": ours["inertia"],
            "ours_gflops": ours["gflops"], "peak_fraction": ours["gflops"] / peak,
            "ours_runs_s_per_iter": ours["seconds_per_iteration_runs"],
        })

    peak_after = measure_peak()
    measured = max(peak_before["gflops"], peak_after["gflops"])
    print(f"measured fp32 FMA peak after: {peak_after['gflops']:.1f} GFLOP/s; using the best, {measured:.1f}")
    for r in rows:
        r["measured_peak_fraction"] = r["ours_gflops"] / measured

    print()
    print(f"n={ARGS.n} d={ARGS.d}, threads={ARGS.threads}; peak: nominal {peak:.0f} GFLOP/s, measured {measured:.0f}; "
          "inertias recomputed in float64")
    header = (f"{'k':>4} {'iters':>5} {'sklearn s/it':>12} {'ours s/it':>10} {'ours/skl':>8} "
              f"{'sklearn inertia':>16} {'ours inertia':>16} {'ratio':>8} {'GFLOP/s':>8} {'%nominal':>8} {'%measured':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['k']:>4} {r['iterations']:>5} {r['sklearn_s_per_iter']:>12.4f} {r['ours_s_per_iter']:>10.4f} "
              f"{r['time_ratio']:>8.3f} {r['sklearn_inertia']:>16.6e} {r['ours_inertia']:>16.6e} "
              f"{r['inertia_ratio']:>8.5f} {r['ours_gflops']:>8.1f} {r['peak_fraction']:>8.1%} {r['measured_peak_fraction']:>9.1%}")
    print()
    for r in rows:
        checks = [
            ("time <= 0.25x sklearn", r["time_ratio"] <= 0.25),
            ("inertia within 1%", abs(r["inertia_ratio"] - 1) <= 0.01),
            (">= 40% of nominal peak", r["peak_fraction"] >= 0.40),
            (">= 40% of measured peak", r["measured_peak_fraction"] >= 0.40),
        ]
        verdict = ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks)
        drift = abs(r["ours_inertia_reported"] / r["ours_inertia"] - 1)
        print(f"k={r['k']}: {verdict}; our own inertia vs recomputed: {drift:.1e} relative")
    results_path = ARGS.out / "results.json"
    results_path.write_text(json.dumps({"args": {k: str(v) for k, v in vars(ARGS).items()}, "nominal_peak_gflops": peak,
                                        "measured_peak_gflops": [peak_before["gflops"], peak_after["gflops"]],
                                        "rows": rows}, indent=2))
    print(f"results: {results_path}")


if __name__ == "__main__":
    main()
