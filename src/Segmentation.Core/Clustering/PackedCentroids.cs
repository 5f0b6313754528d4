using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Segmentation.Core.Clustering;

/// <summary>
/// Centroids laid out for nearest-centroid search: the hot loop of Lloyd's assignment step and the online lookup of one
/// user's segment. Squared Euclidean distances come from the GEMM identity ‖x − c‖² = ‖x‖² − 2·x·c + ‖c‖²: the argmin over
/// c needs only ‖c‖² − 2·x·c, so a batch of points against the centroids is one matrix product, computed in cache-sized
/// tiles by a register-blocked SIMD micro-kernel and reduced to the argmin on the fly (the N × K distance matrix never
/// exists). On L2-normalised embeddings (the user encoder's output) ‖x − c‖² = 2 − 2·cos(x, c) when c is unit too, so
/// the nearest centroid is the most cosine-similar one; a mean of unit vectors is shorter than 1, and squared Euclidean
/// to it is still the k-means objective (spherical k-means would renormalise; we do not).
/// </summary>
/// <remarks>
/// Layout: centroids are packed transposed in panels of 32 (panel p, dimension j: 32 consecutive floats, one per centroid
/// 32p..32p+31), so one dimension of 32 centroids is two <see cref="Vector512{T}"/> loads; missing centroids of the last
/// panel are zero with ‖c‖² = +∞ and never win. Ties (equal computed scores) go to the lowest centroid index. Results do
/// not depend on how points are split across threads. Paths: AVX-512 (8 points × 32 centroids per kernel call), AVX2+FMA
/// (6 points × 16 centroids), else <see cref="TensorPrimitives"/> dot products. Thread-safety: any number of concurrent
/// readers (<see cref="Nearest"/>, <see cref="Assign"/>); <see cref="Set"/> must not run concurrently with anything.
/// </remarks>
public sealed class PackedCentroids
{
    internal const int PanelWidth = 32;
    private const int SlotLanes = 16; // running argmin per point: 16 lanes of (score, centroid)
    private const int GroupRows = 24; // a multiple of the 8-row (AVX-512) and 6-row (AVX2) kernels
    private const int Rows512 = 8;
    private const int Rows256 = 6;
    private const int L1TileBytes = 16 * 1024;

    private readonly float[] _rows;   // K × D, row-major: exact distances and the public view
    private readonly float[] _panels; // panels × D × 32
    private readonly float[] _norms;  // panels × 32: ‖c‖², +∞ for padding
    private readonly int _panelCount;

    /// <summary>Packs <paramref name="centroids"/> (K × <paramref name="dimensions"/>, row-major); the input is copied.</summary>
    public PackedCentroids(ReadOnlySpan<float> centroids, int dimensions)
        : this(centroids, dimensions, DetectPath())
    {
    }

    internal PackedCentroids(ReadOnlySpan<float> centroids, int dimensions, KernelPath path)
    {
        if (dimensions < 1 || centroids.Length == 0 || centroids.Length % dimensions != 0)
        {
            throw new ArgumentException($"Centroids must be a non-empty K × {dimensions} matrix; got {centroids.Length} values.", nameof(centroids));
        }

        Dimensions = dimensions;
        Count = centroids.Length / dimensions;
        Path = path;
        _rows = centroids.ToArray();
        _panelCount = (Count + PanelWidth - 1) / PanelWidth;
        _panels = new float[_panelCount * dimensions * PanelWidth];
        _norms = new float[_panelCount * PanelWidth];
        _norms.AsSpan().Fill(float.PositiveInfinity);
        for (var c = 0; c < Count; c++)
        {
            Pack(c);
        }
    }

    /// <summary>Which SIMD kernel the hardware allows.</summary>
    internal enum KernelPath
    {
        Scalar,
        Vector256,
        Vector512,
    }

    /// <summary>Number of centroids (K).</summary>
    public int Count { get; }

    /// <summary>Dimensions of a centroid (D).</summary>
    public int Dimensions { get; }

    /// <summary>The centroids, K × D row-major (a read-only view that <see cref="Set"/> changes).</summary>
    public ReadOnlySpan<float> Centroids => _rows;

    internal KernelPath Path { get; }

    /// <summary>The best kernel this machine runs: AVX-512 where accelerated, else AVX2 with FMA, else scalar.</summary>
    internal static KernelPath DetectPath() =>
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? KernelPath.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? KernelPath.Vector256
        : KernelPath.Scalar;

    /// <summary>Replaces centroid <paramref name="cluster"/> (O(D)); for online updates. Not thread-safe.</summary>
    public void Set(int cluster, ReadOnlySpan<float> centroid)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cluster);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cluster, Count);
        if (centroid.Length != Dimensions)
        {
            throw new ArgumentException($"A centroid has {Dimensions} values; got {centroid.Length}.", nameof(centroid));
        }

        centroid.CopyTo(_rows.AsSpan(cluster * Dimensions, Dimensions));
        Pack(cluster);
    }

    /// <summary>
    /// The nearest centroid of one point, its squared distance, and the squared distance to the second nearest
    /// (<see cref="float.MaxValue"/> when K = 1). Distances come from the GEMM identity (clamped at 0): accurate to about
    /// 1e-7·(‖x‖² + ‖c‖²).
    /// </summary>
    public (int Cluster, float Distance, float SecondDistance) Nearest(ReadOnlySpan<float> point)
    {
        if (point.Length != Dimensions)
        {
            throw new ArgumentException($"A point has {Dimensions} values; got {point.Length}.", nameof(point));
        }

        var pointNorm = TensorPrimitives.SumOfSquares(point);
        var (cluster, score, second) = Path == KernelPath.Vector512 ? Nearest512(point) : NearestScalar(point);
        return (cluster, Math.Max(0, pointNorm + score), float.IsPositiveInfinity(second) ? float.MaxValue : Math.Max(0, pointNorm + second));
    }

    /// <summary>
    /// Assigns every point of <paramref name="points"/> (N × D) to its nearest centroid on the calling thread, writing
    /// <paramref name="clusters"/> and exact squared distances; returns their sum (the inertia).
    /// </summary>
    public double Assign(ReadOnlySpan<float> points, Span<int> clusters, Span<float> distances)
    {
        if (points.Length % Dimensions != 0 || clusters.Length < points.Length / Dimensions || distances.Length < clusters.Length)
        {
            throw new ArgumentException("Points must be N × D, with room for N clusters and N distances.");
        }

        return AssignRange(points, 0, points.Length / Dimensions, clusters, distances, default, default, default);
    }

    /// <summary>
    /// Assigns points <paramref name="start"/>..<paramref name="end"/> of <paramref name="data"/>. With
    /// <paramref name="pointNorms"/> (‖x‖² per point) distances are ‖x‖² + the kernel's score, clamped at 0 (one add);
    /// without, they are computed exactly for the winner. With <paramref name="sums"/> (K × D) and
    /// <paramref name="counts"/> (K), each point is also added to its cluster's running sum, while its row is in L1.
    /// </summary>
    internal double AssignRange(
        ReadOnlySpan<float> data, int start, int end, Span<int> clusters, Span<float> distances,
        ReadOnlySpan<float> pointNorms, Span<float> sums, Span<int> counts)
    {
        var d = Dimensions;
        var inertia = 0.0;
        if (Path == KernelPath.Scalar)
        {
            for (var i = start; i < end; i++)
            {
                var x = data.Slice(i * d, d);
                var best = 0;
                var bestScore = float.PositiveInfinity;
                for (var c = 0; c < Count; c++)
                {
                    var score = _norms[c] - (2 * TensorPrimitives.Dot(x, _rows.AsSpan(c * d, d)));
                    if (score < bestScore)
                    {
                        bestScore = score;
                        best = c;
                    }
                }

                inertia += Finish(data, i, best, bestScore, clusters, distances, pointNorms, sums, counts);
            }

            return inertia;
        }

        var tileRows = Math.Clamp(L1TileBytes / (sizeof(float) * d) / GroupRows * GroupRows, GroupRows, 4 * GroupRows);
        var kernelRows = Path == KernelPath.Vector512 ? Rows512 : Rows256;
        var bestScores = ArrayPool<float>.Shared.Rent(tileRows * SlotLanes);
        var bestClusters = ArrayPool<int>.Shared.Rent(tileRows * SlotLanes);
        var pad = ArrayPool<float>.Shared.Rent(kernelRows * d);
        try
        {
            ref var panels = ref MemoryMarshal.GetArrayDataReference(_panels);
            ref var norms = ref MemoryMarshal.GetArrayDataReference(_norms);
            ref var scores = ref MemoryMarshal.GetArrayDataReference(bestScores);
            ref var indices = ref MemoryMarshal.GetArrayDataReference(bestClusters);
            for (var tile = start; tile < end; tile += tileRows)
            {
                var rows = Math.Min(tileRows, end - tile);
                var groups = (rows + kernelRows - 1) / kernelRows;
                bestScores.AsSpan(0, groups * kernelRows * SlotLanes).Fill(float.PositiveInfinity);
                bestClusters.AsSpan(0, groups * kernelRows * SlotLanes).Clear();
                var tail = rows % kernelRows;
                if (tail != 0)
                {
                    // The last group is short: run the kernel on a zero-padded copy and ignore the padding rows.
                    data.Slice((tile + rows - tail) * d, tail * d).CopyTo(pad);
                    pad.AsSpan(tail * d, (kernelRows - tail) * d).Clear();
                }

                for (var p = 0; p < _panelCount; p++)
                {
                    ref var panel = ref Unsafe.Add(ref panels, p * d * PanelWidth);
                    ref var panelNorms = ref Unsafe.Add(ref norms, p * PanelWidth);
                    for (var g = 0; g < groups; g++)
                    {
                        ref var x = ref (g == groups - 1 && tail != 0)
                            ? ref MemoryMarshal.GetArrayDataReference(pad)
                            : ref Unsafe.AsRef(in data[(tile + (g * kernelRows)) * d]);
                        ref var slotScores = ref Unsafe.Add(ref scores, g * kernelRows * SlotLanes);
                        ref var slotClusters = ref Unsafe.Add(ref indices, g * kernelRows * SlotLanes);
                        if (Path == KernelPath.Vector512)
                        {
                            Kernel512(ref x, d, ref panel, ref panelNorms, p * PanelWidth, ref slotScores, ref slotClusters);
                        }
                        else
                        {
                            Kernel256(ref x, d, ref panel, ref panelNorms, p * PanelWidth, ref slotScores, ref slotClusters);
                            Kernel256(ref x, d, ref Unsafe.Add(ref panel, SlotLanes), ref Unsafe.Add(ref panelNorms, SlotLanes), (p * PanelWidth) + SlotLanes, ref slotScores, ref slotClusters);
                        }
                    }
                }

                for (var r = 0; r < rows; r++)
                {
                    // Lowest score over the 16 lanes; among equal scores the lowest centroid index.
                    var lanes = bestScores.AsSpan(r * SlotLanes, SlotLanes);
                    var laneClusters = bestClusters.AsSpan(r * SlotLanes, SlotLanes);
                    var best = laneClusters[0];
                    var bestScore = lanes[0];
                    for (var l = 1; l < SlotLanes; l++)
                    {
                        if (lanes[l] < bestScore || (lanes[l] == bestScore && laneClusters[l] < best))
                        {
                            bestScore = lanes[l];
                            best = laneClusters[l];
                        }
                    }

                    inertia += Finish(data, tile + r, best, bestScore, clusters, distances, pointNorms, sums, counts);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pad);
            ArrayPool<int>.Shared.Return(bestClusters);
            ArrayPool<float>.Shared.Return(bestScores);
        }

        return inertia;
    }

    private float Finish(
        ReadOnlySpan<float> data, int i, int cluster, float score, Span<int> clusters, Span<float> distances,
        ReadOnlySpan<float> pointNorms, Span<float> sums, Span<int> counts)
    {
        var d = Dimensions;
        var x = data.Slice(i * d, d);
        var distance = pointNorms.IsEmpty
            ? KMeans.SquaredDistance(x, _rows.AsSpan(cluster * d, d))
            : Math.Max(0, pointNorms[i] + score);
        clusters[i] = cluster;
        distances[i] = distance;
        if (!sums.IsEmpty)
        {
            counts[cluster]++;
            var sum = sums.Slice(cluster * d, d);
            TensorPrimitives.Add(sum, x, sum);
        }

        return distance;
    }

    private void Pack(int cluster)
    {
        var d = Dimensions;
        var row = _rows.AsSpan(cluster * d, d);
        var offset = (cluster / PanelWidth * d * PanelWidth) + (cluster % PanelWidth);
        for (var j = 0; j < d; j++)
        {
            _panels[offset + (j * PanelWidth)] = row[j];
        }

        _norms[cluster] = TensorPrimitives.SumOfSquares(row);
    }

    /// <summary>
    /// 8 consecutive points (rows of <paramref name="x"/>, stride <paramref name="d"/>) × one panel of 32 centroids:
    /// 16 accumulators of x·c over all dimensions, then score = ‖c‖² − 2·x·c folded into each point's 16-lane running
    /// argmin (lane l of the slot tracks centroids ≡ l mod 16, visited in increasing order, so strict &lt; keeps the
    /// lowest index on ties).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(ref float x, int d, ref float panel, ref float norms, int first, ref float slotScores, ref int slotClusters)
    {
        ref var x0 = ref x;
        ref var x1 = ref Unsafe.Add(ref x, d);
        ref var x2 = ref Unsafe.Add(ref x, 2 * d);
        ref var x3 = ref Unsafe.Add(ref x, 3 * d);
        ref var x4 = ref Unsafe.Add(ref x, 4 * d);
        ref var x5 = ref Unsafe.Add(ref x, 5 * d);
        ref var x6 = ref Unsafe.Add(ref x, 6 * d);
        ref var x7 = ref Unsafe.Add(ref x, 7 * d);
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector512<float> a40 = default, a41 = default, a50 = default, a51 = default, a60 = default, a61 = default, a70 = default, a71 = default;
        ref var b = ref panel;
        for (nint j = 0; j < d; j++)
        {
            var b0 = Vector512.LoadUnsafe(ref b);
            var b1 = Vector512.LoadUnsafe(ref b, 16);
            b = ref Unsafe.Add(ref b, PanelWidth);
            var s = Vector512.Create(Unsafe.Add(ref x0, j));
            a00 = Vector512.FusedMultiplyAdd(s, b0, a00);
            a01 = Vector512.FusedMultiplyAdd(s, b1, a01);
            s = Vector512.Create(Unsafe.Add(ref x1, j));
            a10 = Vector512.FusedMultiplyAdd(s, b0, a10);
            a11 = Vector512.FusedMultiplyAdd(s, b1, a11);
            s = Vector512.Create(Unsafe.Add(ref x2, j));
            a20 = Vector512.FusedMultiplyAdd(s, b0, a20);
            a21 = Vector512.FusedMultiplyAdd(s, b1, a21);
            s = Vector512.Create(Unsafe.Add(ref x3, j));
            a30 = Vector512.FusedMultiplyAdd(s, b0, a30);
            a31 = Vector512.FusedMultiplyAdd(s, b1, a31);
            s = Vector512.Create(Unsafe.Add(ref x4, j));
            a40 = Vector512.FusedMultiplyAdd(s, b0, a40);
            a41 = Vector512.FusedMultiplyAdd(s, b1, a41);
            s = Vector512.Create(Unsafe.Add(ref x5, j));
            a50 = Vector512.FusedMultiplyAdd(s, b0, a50);
            a51 = Vector512.FusedMultiplyAdd(s, b1, a51);
            s = Vector512.Create(Unsafe.Add(ref x6, j));
            a60 = Vector512.FusedMultiplyAdd(s, b0, a60);
            a61 = Vector512.FusedMultiplyAdd(s, b1, a61);
            s = Vector512.Create(Unsafe.Add(ref x7, j));
            a70 = Vector512.FusedMultiplyAdd(s, b0, a70);
            a71 = Vector512.FusedMultiplyAdd(s, b1, a71);
        }

        var n0 = Vector512.LoadUnsafe(ref norms);
        var n1 = Vector512.LoadUnsafe(ref norms, 16);
        var i0 = Vector512.Create(first) + Vector512<int>.Indices;
        var i1 = i0 + Vector512.Create(16);
        Fold512(ref slotScores, ref slotClusters, 0, a00, a01, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 1, a10, a11, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 2, a20, a21, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 3, a30, a31, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 4, a40, a41, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 5, a50, a51, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 6, a60, a61, n0, n1, i0, i1);
        Fold512(ref slotScores, ref slotClusters, 7, a70, a71, n0, n1, i0, i1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold512(
        ref float slotScores, ref int slotClusters, int row, Vector512<float> dot0, Vector512<float> dot1,
        Vector512<float> norms0, Vector512<float> norms1, Vector512<int> indices0, Vector512<int> indices1)
    {
        ref var scores = ref Unsafe.Add(ref slotScores, row * SlotLanes);
        ref var clusters = ref Unsafe.Add(ref slotClusters, row * SlotLanes);
        var best = Vector512.LoadUnsafe(ref scores);
        var bestClusters = Vector512.LoadUnsafe(ref clusters);
        var minusTwo = Vector512.Create(-2f);
        var score = Vector512.FusedMultiplyAdd(dot0, minusTwo, norms0);
        var better = Vector512.LessThan(score, best);
        best = Vector512.ConditionalSelect(better, score, best);
        bestClusters = Vector512.ConditionalSelect(better.AsInt32(), indices0, bestClusters);
        score = Vector512.FusedMultiplyAdd(dot1, minusTwo, norms1);
        better = Vector512.LessThan(score, best);
        best = Vector512.ConditionalSelect(better, score, best);
        bestClusters = Vector512.ConditionalSelect(better.AsInt32(), indices1, bestClusters);
        best.StoreUnsafe(ref scores);
        bestClusters.StoreUnsafe(ref clusters);
    }

    /// <summary>
    /// AVX2 variant: 6 points × 16 centroids (half a panel, 12 of the 16 YMM registers as accumulators); the caller runs
    /// both halves in order, so each slot lane still sees its centroids in increasing index.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256(ref float x, int d, ref float halfPanel, ref float norms, int first, ref float slotScores, ref int slotClusters)
    {
        ref var x0 = ref x;
        ref var x1 = ref Unsafe.Add(ref x, d);
        ref var x2 = ref Unsafe.Add(ref x, 2 * d);
        ref var x3 = ref Unsafe.Add(ref x, 3 * d);
        ref var x4 = ref Unsafe.Add(ref x, 4 * d);
        ref var x5 = ref Unsafe.Add(ref x, 5 * d);
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector256<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        ref var b = ref halfPanel;
        for (nint j = 0; j < d; j++)
        {
            var b0 = Vector256.LoadUnsafe(ref b);
            var b1 = Vector256.LoadUnsafe(ref b, 8);
            b = ref Unsafe.Add(ref b, PanelWidth);
            var s = Vector256.Create(Unsafe.Add(ref x0, j));
            a00 = Vector256.FusedMultiplyAdd(s, b0, a00);
            a01 = Vector256.FusedMultiplyAdd(s, b1, a01);
            s = Vector256.Create(Unsafe.Add(ref x1, j));
            a10 = Vector256.FusedMultiplyAdd(s, b0, a10);
            a11 = Vector256.FusedMultiplyAdd(s, b1, a11);
            s = Vector256.Create(Unsafe.Add(ref x2, j));
            a20 = Vector256.FusedMultiplyAdd(s, b0, a20);
            a21 = Vector256.FusedMultiplyAdd(s, b1, a21);
            s = Vector256.Create(Unsafe.Add(ref x3, j));
            a30 = Vector256.FusedMultiplyAdd(s, b0, a30);
            a31 = Vector256.FusedMultiplyAdd(s, b1, a31);
            s = Vector256.Create(Unsafe.Add(ref x4, j));
            a40 = Vector256.FusedMultiplyAdd(s, b0, a40);
            a41 = Vector256.FusedMultiplyAdd(s, b1, a41);
            s = Vector256.Create(Unsafe.Add(ref x5, j));
            a50 = Vector256.FusedMultiplyAdd(s, b0, a50);
            a51 = Vector256.FusedMultiplyAdd(s, b1, a51);
        }

        var n0 = Vector256.LoadUnsafe(ref norms);
        var n1 = Vector256.LoadUnsafe(ref norms, 8);
        var i0 = Vector256.Create(first) + Vector256<int>.Indices;
        var i1 = i0 + Vector256.Create(8);
        Fold256(ref slotScores, ref slotClusters, 0, a00, a01, n0, n1, i0, i1);
        Fold256(ref slotScores, ref slotClusters, 1, a10, a11, n0, n1, i0, i1);
        Fold256(ref slotScores, ref slotClusters, 2, a20, a21, n0, n1, i0, i1);
        Fold256(ref slotScores, ref slotClusters, 3, a30, a31, n0, n1, i0, i1);
        Fold256(ref slotScores, ref slotClusters, 4, a40, a41, n0, n1, i0, i1);
        Fold256(ref slotScores, ref slotClusters, 5, a50, a51, n0, n1, i0, i1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold256(
        ref float slotScores, ref int slotClusters, int row, Vector256<float> dot0, Vector256<float> dot1,
        Vector256<float> norms0, Vector256<float> norms1, Vector256<int> indices0, Vector256<int> indices1)
    {
        ref var scores = ref Unsafe.Add(ref slotScores, row * SlotLanes);
        ref var clusters = ref Unsafe.Add(ref slotClusters, row * SlotLanes);
        var minusTwo = Vector256.Create(-2f);
        var best = Vector256.LoadUnsafe(ref scores);
        var bestClusters = Vector256.LoadUnsafe(ref clusters);
        var score = Vector256.FusedMultiplyAdd(dot0, minusTwo, norms0);
        var better = Vector256.LessThan(score, best);
        Vector256.ConditionalSelect(better, score, best).StoreUnsafe(ref scores);
        Vector256.ConditionalSelect(better.AsInt32(), indices0, bestClusters).StoreUnsafe(ref clusters);
        best = Vector256.LoadUnsafe(ref scores, 8);
        bestClusters = Vector256.LoadUnsafe(ref clusters, 8);
        score = Vector256.FusedMultiplyAdd(dot1, minusTwo, norms1);
        better = Vector256.LessThan(score, best);
        Vector256.ConditionalSelect(better, score, best).StoreUnsafe(ref scores, 8);
        Vector256.ConditionalSelect(better.AsInt32(), indices1, bestClusters).StoreUnsafe(ref clusters, 8);
    }

    /// <summary>
    /// One point against all panels, four panels (eight independent FMA chains) at a time, tracking per lane the best
    /// and second-best score; returns (cluster, ‖c‖² − 2x·c of the best, of the second).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (int Cluster, float Score, float SecondScore) Nearest512(ReadOnlySpan<float> point)
    {
        var d = Dimensions;
        ref var x = ref MemoryMarshal.GetReference(point);
        ref var panels = ref MemoryMarshal.GetArrayDataReference(_panels);
        ref var norms = ref MemoryMarshal.GetArrayDataReference(_norms);
        var best = Vector512.Create(float.PositiveInfinity);
        var second = best;
        var bestClusters = Vector512<int>.Zero;
        var p = 0;
        for (; p + 4 <= _panelCount; p += 4)
        {
            ref var b = ref Unsafe.Add(ref panels, p * d * PanelWidth);
            var stride = d * PanelWidth;
            Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
            for (nint j = 0; j < d; j++)
            {
                var s = Vector512.Create(Unsafe.Add(ref x, j));
                var offset = (nuint)(j * PanelWidth);
                a00 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset), a00);
                a01 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + 16), a01);
                a10 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + (nuint)stride), a10);
                a11 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + (nuint)stride + 16), a11);
                a20 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + (nuint)(2 * stride)), a20);
                a21 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + (nuint)(2 * stride) + 16), a21);
                a30 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + (nuint)(3 * stride)), a30);
                a31 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + (nuint)(3 * stride) + 16), a31);
            }

            ref var n = ref Unsafe.Add(ref norms, p * PanelWidth);
            var i0 = Vector512.Create(p * PanelWidth) + Vector512<int>.Indices;
            Track(a00, Vector512.LoadUnsafe(ref n), i0, ref best, ref second, ref bestClusters);
            Track(a01, Vector512.LoadUnsafe(ref n, 16), i0 + Vector512.Create(16), ref best, ref second, ref bestClusters);
            Track(a10, Vector512.LoadUnsafe(ref n, 32), i0 + Vector512.Create(32), ref best, ref second, ref bestClusters);
            Track(a11, Vector512.LoadUnsafe(ref n, 48), i0 + Vector512.Create(48), ref best, ref second, ref bestClusters);
            Track(a20, Vector512.LoadUnsafe(ref n, 64), i0 + Vector512.Create(64), ref best, ref second, ref bestClusters);
            Track(a21, Vector512.LoadUnsafe(ref n, 80), i0 + Vector512.Create(80), ref best, ref second, ref bestClusters);
            Track(a30, Vector512.LoadUnsafe(ref n, 96), i0 + Vector512.Create(96), ref best, ref second, ref bestClusters);
            Track(a31, Vector512.LoadUnsafe(ref n, 112), i0 + Vector512.Create(112), ref best, ref second, ref bestClusters);
        }

        for (; p < _panelCount; p++)
        {
            // Split the dimensions in two chains per half panel to hide FMA latency when K is small.
            ref var b = ref Unsafe.Add(ref panels, p * d * PanelWidth);
            Vector512<float> a0 = default, a1 = default, c0 = default, c1 = default;
            nint j = 0;
            for (; j + 1 < d; j += 2)
            {
                var offset = (nuint)(j * PanelWidth);
                var s = Vector512.Create(Unsafe.Add(ref x, j));
                var t = Vector512.Create(Unsafe.Add(ref x, j + 1));
                a0 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset), a0);
                a1 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + 16), a1);
                c0 = Vector512.FusedMultiplyAdd(t, Vector512.LoadUnsafe(ref b, offset + PanelWidth), c0);
                c1 = Vector512.FusedMultiplyAdd(t, Vector512.LoadUnsafe(ref b, offset + PanelWidth + 16), c1);
            }

            if (j < d)
            {
                var offset = (nuint)(j * PanelWidth);
                var s = Vector512.Create(Unsafe.Add(ref x, j));
                a0 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset), a0);
                a1 = Vector512.FusedMultiplyAdd(s, Vector512.LoadUnsafe(ref b, offset + 16), a1);
            }

            ref var n = ref Unsafe.Add(ref norms, p * PanelWidth);
            var i0 = Vector512.Create(p * PanelWidth) + Vector512<int>.Indices;
            Track(a0 + c0, Vector512.LoadUnsafe(ref n), i0, ref best, ref second, ref bestClusters);
            Track(a1 + c1, Vector512.LoadUnsafe(ref n, 16), i0 + Vector512.Create(16), ref best, ref second, ref bestClusters);
        }

        var winner = 0;
        for (var l = 1; l < SlotLanes; l++)
        {
            if (best[l] < best[winner] || (best[l] == best[winner] && bestClusters[l] < bestClusters[winner]))
            {
                winner = l;
            }
        }

        var secondScore = float.PositiveInfinity;
        for (var l = 0; l < SlotLanes; l++)
        {
            secondScore = Math.Min(secondScore, l == winner ? second[l] : Math.Min(best[l], second[l]));
        }

        return (bestClusters[winner], best[winner], secondScore);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Track(Vector512<float> dot, Vector512<float> norms, Vector512<int> indices, ref Vector512<float> best, ref Vector512<float> second, ref Vector512<int> bestClusters)
    {
        var score = Vector512.FusedMultiplyAdd(dot, Vector512.Create(-2f), norms);
        second = Vector512.Min(second, Vector512.Max(best, score));
        var better = Vector512.LessThan(score, best);
        best = Vector512.ConditionalSelect(better, score, best);
        bestClusters = Vector512.ConditionalSelect(better.AsInt32(), indices, bestClusters);
    }

    private (int Cluster, float Score, float SecondScore) NearestScalar(ReadOnlySpan<float> point)
    {
        var d = Dimensions;
        var best = 0;
        var bestScore = float.PositiveInfinity;
        var second = float.PositiveInfinity;
        for (var c = 0; c < Count; c++)
        {
            var score = _norms[c] - (2 * TensorPrimitives.Dot(point, _rows.AsSpan(c * d, d)));
            if (score < bestScore)
            {
                second = bestScore;
                bestScore = score;
                best = c;
            }
            else if (score < second)
            {
                second = score;
            }
        }

        return (best, bestScore, second);
    }
}
