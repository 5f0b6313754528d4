using System.Numerics.Tensors;

namespace Segmentation.Core.Clustering;

/// <summary>How the initial centroids are chosen.</summary>
public enum KMeansInitialization
{
    /// <summary>k-means++ for small problems, k-means|| once N·K reaches <see cref="KMeans.ParallelInitializationThreshold"/>.</summary>
    Auto,

    /// <summary>k-means++ (Arthur and Vassilvitskii 2007): K sequential passes over the data.</summary>
    KMeansPlusPlus,

    /// <summary>k-means|| (Bahmani et al. 2012): a few oversampling passes, then k-means++ on the weighted candidates.</summary>
    KMeansParallel,
}

/// <summary>Settings of a k-means run.</summary>
public sealed class KMeansOptions
{
    /// <summary>Number of clusters.</summary>
    public int K { get; set; } = 8;

    /// <summary>Most Lloyd iterations.</summary>
    public int MaxIterations { get; set; } = 100;

    /// <summary>
    /// Stop when an iteration lowers the inertia by no more than this fraction of the previous inertia (0: stop only when
    /// an iteration does not lower it; negative: always run <see cref="MaxIterations"/>).
    /// </summary>
    public double Tolerance { get; set; } = 1e-6;

    /// <summary>Seed of the initialisation (same seed, same data: same result, whatever the parallelism).</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Most threads used (default: all cores). Results do not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>Initialisation method.</summary>
    public KMeansInitialization Initialization { get; set; } = KMeansInitialization.Auto;

    /// <summary>k-means|| oversampling factor ℓ: expected candidates drawn per round (0: 2·K, as Bahmani et al. suggest).</summary>
    public double OversamplingFactor { get; set; }

    /// <summary>k-means|| sampling rounds (Bahmani et al. find 5 enough in practice).</summary>
    public int InitializationRounds { get; set; } = 5;
}

/// <summary>The outcome of a k-means run.</summary>
/// <param name="Centroids">K × D, row-major.</param>
/// <param name="Assignments">Cluster of each point.</param>
/// <param name="Inertia">Sum of squared distances of points to their centroid.</param>
/// <param name="Iterations">Lloyd iterations run.</param>
public sealed record KMeansResult(float[] Centroids, int[] Assignments, double Inertia, int Iterations);

/// <summary>
/// Batch k-means: k-means++ or k-means|| initialisation, then Lloyd iterations with empty-cluster repair. Points are rows
/// of a row-major N × D float matrix. Distances are squared Euclidean, computed with the GEMM identity by
/// <see cref="PackedCentroids"/> (fused distance + argmin, SIMD micro-kernel); on L2-normalised embeddings (the user
/// encoder's output) that is 2 − 2·cosine to a unit centroid, so points go to the most cosine-similar centroid.
/// </summary>
/// <remarks>
/// Parallelism: the points are cut into a fixed number of slices that depends only on N, K and D, never on the thread
/// count; each slice assigns its points and accumulates its own partial centroid sums, and the slices are combined in
/// slice order in double precision. Same data, same seed: bit-identical result with 1 thread or 16.
/// </remarks>
public static class KMeans
{
    /// <summary>N·K from which <see cref="KMeansInitialization.Auto"/> picks k-means|| (e.g. 65,536 points × 1,024 clusters).</summary>
    public const long ParallelInitializationThreshold = 1L << 26;

    private const int ChunkSize = 4096;
    private const int MaxSlices = 32;
    private const int MinSliceRows = 2048;
    private const long MaxPartialSumFloats = 1L << 22; // 16 MB of per-slice centroid sums at most

    /// <summary>Clusters <paramref name="points"/> (N × <paramref name="dimensions"/>); the points are copied.</summary>
    public static KMeansResult Fit(ReadOnlySpan<float> points, int dimensions, KMeansOptions options) =>
        Fit(points.ToArray(), dimensions, options);

    /// <summary>Clusters <paramref name="data"/> (N × <paramref name="dimensions"/>, not modified, not copied).</summary>
    public static KMeansResult Fit(float[] data, int dimensions, KMeansOptions options)
    {
        var n = CheckData(data, dimensions);
        CheckK(options.K, n);
        var parallel = options.Initialization == KMeansInitialization.KMeansParallel
            || (options.Initialization == KMeansInitialization.Auto && (long)n * options.K >= ParallelInitializationThreshold);
        var centroids = parallel
            ? InitializeKMeansParallel(data, dimensions, options)
            : SeedPlusPlus(data, dimensions, options.K, null, new Random(options.Seed), options.MaxDegreeOfParallelism);
        return Lloyd(data, dimensions, centroids, options);
    }

    /// <summary>
    /// Lloyd iterations from the given initial centroids (K × D), e.g. to compare with another implementation. Each
    /// iteration assigns every point to its nearest centroid and moves each centroid to the mean of its points; an
    /// empty cluster takes the point farthest from its centroid (which leaves its old cluster). Stops after
    /// <see cref="KMeansOptions.MaxIterations"/> or per <see cref="KMeansOptions.Tolerance"/>; the result's assignments
    /// and inertia are those of the final centroids, with exact squared distances.
    /// </summary>
    public static KMeansResult Lloyd(float[] data, int dimensions, float[] initialCentroids, KMeansOptions options)
    {
        var n = CheckData(data, dimensions);
        if (initialCentroids.Length == 0 || initialCentroids.Length % dimensions != 0)
        {
            throw new ArgumentException($"Initial centroids must be K × {dimensions}.", nameof(initialCentroids));
        }

        var k = initialCentroids.Length / dimensions;
        CheckK(k, n);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.MaxDegreeOfParallelism) };
        var centroids = (float[])initialCentroids.Clone();
        var assignments = new int[n];
        var distances = new float[n];
        var pointNorms = new float[n];
        Parallel.For(0, (n + ChunkSize - 1) / ChunkSize, parallel, chunk =>
        {
            for (var i = chunk * ChunkSize; i < Math.Min(n, (chunk + 1) * ChunkSize); i++)
            {
                pointNorms[i] = TensorPrimitives.SumOfSquares(data.AsSpan(i * dimensions, dimensions));
            }
        });

        var slices = SliceCount(n, k, dimensions);
        var partialSums = new float[slices * k * dimensions];
        var partialCounts = new int[slices * k];
        var partialInertia = new double[slices];
        var previous = double.MaxValue;
        var iteration = 0;
        while (iteration < options.MaxIterations)
        {
            iteration++;
            var packed = new PackedCentroids(centroids, dimensions);
            Parallel.For(0, slices, parallel, slice =>
            {
                var (start, end) = SliceRange(n, slices, slice);
                var sums = partialSums.AsSpan(slice * k * dimensions, k * dimensions);
                var counts = partialCounts.AsSpan(slice * k, k);
                sums.Clear();
                counts.Clear();
                partialInertia[slice] = packed.AssignRange(data, start, end, assignments, distances, pointNorms, sums, counts);
            });

            var inertia = 0.0;
            foreach (var sum in partialInertia)
            {
                inertia += sum; // Slice order: deterministic whatever the thread timing.
            }

            Update(data, dimensions, centroids, partialSums, partialCounts, slices, assignments, distances, parallel);
            if (previous - inertia <= options.Tolerance * Math.Max(previous == double.MaxValue ? inertia : previous, double.Epsilon))
            {
                break;
            }

            previous = inertia;
        }

        var final = Assign(data, dimensions, centroids, assignments, distances, parallel);
        return new KMeansResult(centroids, assignments, final, iteration);
    }

    /// <summary>k-means++ (Arthur and Vassilvitskii 2007): each next centroid drawn with probability ∝ squared distance to the nearest chosen.</summary>
    public static float[] InitializePlusPlus(float[] data, int dimensions, int k, Random random) =>
        SeedPlusPlus(data, dimensions, k, null, random, Environment.ProcessorCount);

    /// <summary>
    /// k-means|| (Bahmani et al. 2012, "Scalable K-Means++"): start from one random point; in each of
    /// <see cref="KMeansOptions.InitializationRounds"/> rounds sample every point independently with probability
    /// min(1, ℓ·d²(x)/φ) (φ the current cost, ℓ the oversampling factor) and update each point's distance to the
    /// candidates with the blocked kernel; weight each candidate by the points nearest to it; reduce the candidates to K
    /// with weighted k-means++ and a few weighted Lloyd iterations. O(rounds) passes over the data instead of K. Falls
    /// back to k-means++ when fewer than K distinct candidates come out (tiny or highly duplicated data).
    /// </summary>
    public static float[] InitializeKMeansParallel(float[] data, int dimensions, KMeansOptions options)
    {
        var n = CheckData(data, dimensions);
        var k = options.K;
        CheckK(k, n);
        var random = new Random(options.Seed);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.MaxDegreeOfParallelism) };
        var oversampling = options.OversamplingFactor > 0 ? options.OversamplingFactor : 2.0 * k;
        var cost = new float[n];
        var owner = new int[n];
        var candidates = new List<int> { random.Next(n) };
        Parallel.For(0, (n + ChunkSize - 1) / ChunkSize, parallel, chunk =>
        {
            for (var i = chunk * ChunkSize; i < Math.Min(n, (chunk + 1) * ChunkSize); i++)
            {
                cost[i] = SquaredDistance(data.AsSpan(i * dimensions, dimensions), data.AsSpan(candidates[0] * dimensions, dimensions));
            }
        });

        var nearest = new int[n];
        var distances = new float[n];
        for (var round = 0; round < options.InitializationRounds; round++)
        {
            var phi = SumInChunks(cost);
            if (phi <= 0)
            {
                break;
            }

            // One uniform draw per point, in index order from the seeded generator: the sample is independent of threads.
            var drawn = new List<int>();
            for (var i = 0; i < n; i++)
            {
                if (random.NextDouble() * phi < oversampling * cost[i])
                {
                    drawn.Add(i);
                }
            }

            if (drawn.Count == 0)
            {
                continue;
            }

            var offset = candidates.Count;
            var packed = new PackedCentroids(Gather(data, dimensions, drawn), dimensions);
            var slices = SliceCount(n, 1, dimensions);
            Parallel.For(0, slices, parallel, slice =>
            {
                var (start, end) = SliceRange(n, slices, slice);
                packed.AssignRange(data, start, end, nearest, distances, default, default, default);
                for (var i = start; i < end; i++)
                {
                    if (distances[i] < cost[i])
                    {
                        cost[i] = distances[i];
                        owner[i] = offset + nearest[i];
                    }
                }
            });
            candidates.AddRange(drawn);
        }

        if (candidates.Count < k)
        {
            return SeedPlusPlus(data, dimensions, k, null, random, options.MaxDegreeOfParallelism);
        }

        var weights = new float[candidates.Count];
        foreach (var c in owner)
        {
            weights[c]++;
        }

        var points = Gather(data, dimensions, candidates);
        var centroids = SeedPlusPlus(points, dimensions, k, weights, random, options.MaxDegreeOfParallelism);
        WeightedLloyd(points, dimensions, weights, centroids, iterations: 10);
        return centroids;
    }

    /// <summary>
    /// The nearest centroid of one point, its squared distance, and the squared distance to the second nearest, by a
    /// plain scan (reference implementation; for repeated lookups against the same centroids use
    /// <see cref="PackedCentroids.Nearest"/>).
    /// </summary>
    public static (int Cluster, float Distance, float SecondDistance) Nearest(ReadOnlySpan<float> point, ReadOnlySpan<float> centroids)
    {
        var dimensions = point.Length;
        var best = -1;
        var bestDistance = float.MaxValue;
        var second = float.MaxValue;
        for (var c = 0; c < centroids.Length / dimensions; c++)
        {
            var distance = SquaredDistance(point, centroids.Slice(c * dimensions, dimensions));
            if (distance < bestDistance)
            {
                second = bestDistance;
                bestDistance = distance;
                best = c;
            }
            else if (distance < second)
            {
                second = distance;
            }
        }

        return (best, bestDistance, second);
    }

    /// <summary>Sum of squared distances of points to the given centroids (each point to its nearest).</summary>
    public static double Inertia(float[] data, int dimensions, float[] centroids)
    {
        var n = CheckData(data, dimensions);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        return Assign(data, dimensions, centroids, new int[n], new float[n], parallel);
    }

    /// <summary>Squared Euclidean distance.</summary>
    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var distance = TensorPrimitives.Distance(a, b);
        return distance * distance;
    }

    private static double Assign(float[] data, int dimensions, float[] centroids, int[] assignments, float[] distances, ParallelOptions parallel)
    {
        var n = assignments.Length;
        var packed = new PackedCentroids(centroids, dimensions);
        var slices = SliceCount(n, 1, dimensions);
        var partial = new double[slices];
        Parallel.For(0, slices, parallel, slice =>
        {
            var (start, end) = SliceRange(n, slices, slice);
            partial[slice] = packed.AssignRange(data, start, end, assignments, distances, default, default, default);
        });
        var inertia = 0.0;
        foreach (var sum in partial)
        {
            inertia += sum;
        }

        return inertia;
    }

    /// <summary>New centroids from the per-slice sums (combined in slice order), with empty-cluster repair.</summary>
    private static void Update(
        float[] data, int dimensions, float[] centroids, float[] partialSums, int[] partialCounts, int slices,
        int[] assignments, float[] distances, ParallelOptions parallel)
    {
        var k = centroids.Length / dimensions;
        var sums = new double[k * dimensions];
        var counts = new long[k];
        Parallel.For(0, k, parallel, c =>
        {
            var sum = sums.AsSpan(c * dimensions, dimensions);
            for (var s = 0; s < slices; s++)
            {
                counts[c] += partialCounts[(s * k) + c];
                var part = partialSums.AsSpan(((s * k) + c) * dimensions, dimensions);
                for (var j = 0; j < dimensions; j++)
                {
                    sum[j] += part[j];
                }
            }
        });

        for (var c = 0; c < k; c++)
        {
            if (counts[c] > 0)
            {
                continue;
            }

            // Empty cluster: take the point farthest from its centroid, among clusters that can spare one.
            var farthest = -1;
            for (var i = 0; i < distances.Length; i++)
            {
                if (counts[assignments[i]] > 1 && (farthest < 0 || distances[i] > distances[farthest]))
                {
                    farthest = i;
                }
            }

            if (farthest < 0)
            {
                break;
            }

            var old = assignments[farthest];
            var point = data.AsSpan(farthest * dimensions, dimensions);
            for (var j = 0; j < dimensions; j++)
            {
                sums[(old * dimensions) + j] -= point[j];
                sums[(c * dimensions) + j] = point[j];
            }

            counts[old]--;
            counts[c] = 1;
            assignments[farthest] = c;
            distances[farthest] = 0;
        }

        for (var c = 0; c < k; c++)
        {
            if (counts[c] == 0)
            {
                continue;
            }

            for (var j = 0; j < dimensions; j++)
            {
                centroids[(c * dimensions) + j] = (float)(sums[(c * dimensions) + j] / counts[c]);
            }
        }
    }

    /// <summary>
    /// k-means++ with optional point weights (probability ∝ weight · squared distance). The distance update after each
    /// pick runs in parallel over fixed chunks whose totals are summed in chunk order, and the draw walks the chunk
    /// totals first: deterministic for a seed whatever the parallelism.
    /// </summary>
    private static float[] SeedPlusPlus(float[] data, int dimensions, int k, float[]? weights, Random random, int maxDegreeOfParallelism)
    {
        var n = CheckData(data, dimensions);
        CheckK(k, n);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, maxDegreeOfParallelism) };
        var centroids = new float[k * dimensions];
        var nearest = new float[n];
        nearest.AsSpan().Fill(float.PositiveInfinity);
        var mass = new double[n]; // weight × squared distance: what the next draw is proportional to
        var chunks = (n + ChunkSize - 1) / ChunkSize;
        var chunkMass = new double[chunks];
        var chosen = weights is null ? random.Next(n) : Draw(weights.Select(w => (double)w).ToArray(), null, random.NextDouble());
        for (var c = 0; c < k; c++)
        {
            var centroid = centroids.AsSpan(c * dimensions, dimensions);
            data.AsSpan(chosen * dimensions, dimensions).CopyTo(centroid);
            var current = c;
            Parallel.For(0, chunks, parallel, chunk =>
            {
                var row = centroids.AsSpan(current * dimensions, dimensions);
                var total = 0.0;
                for (var i = chunk * ChunkSize; i < Math.Min(n, (chunk + 1) * ChunkSize); i++)
                {
                    nearest[i] = Math.Min(nearest[i], SquaredDistance(data.AsSpan(i * dimensions, dimensions), row));
                    mass[i] = nearest[i] * (weights is null ? 1.0 : weights[i]);
                    total += mass[i];
                }

                chunkMass[chunk] = total;
            });

            if (c + 1 < k)
            {
                chosen = Draw(mass, chunkMass, random.NextDouble());
            }
        }

        return centroids;
    }

    /// <summary>Index drawn with probability ∝ <paramref name="mass"/> (a uniform <paramref name="u"/> in [0, 1)).</summary>
    private static int Draw(double[] mass, double[]? chunkMass, double u)
    {
        chunkMass ??= [mass.Sum()];
        var chunkSize = chunkMass.Length == 1 ? mass.Length : ChunkSize;
        var total = 0.0;
        foreach (var m in chunkMass)
        {
            total += m;
        }

        if (total <= 0)
        {
            return (int)(u * mass.Length); // every point already chosen (duplicates): any point will do
        }

        var target = u * total;
        var chunk = 0;
        while (chunk < chunkMass.Length - 1 && target >= chunkMass[chunk])
        {
            target -= chunkMass[chunk++];
        }

        var end = Math.Min(mass.Length, (chunk + 1) * chunkSize);
        var last = -1;
        for (var i = chunk * chunkSize; i < end; i++)
        {
            if (mass[i] > 0)
            {
                last = i;
                target -= mass[i];
                if (target < 0)
                {
                    return i;
                }
            }
        }

        return last >= 0 ? last : Array.FindLastIndex(mass, m => m > 0); // rounding left a sliver of the chunk
    }

    /// <summary>Lloyd on a small weighted point set (the k-means|| candidates); single-threaded.</summary>
    private static void WeightedLloyd(float[] points, int dimensions, float[] weights, float[] centroids, int iterations)
    {
        var m = weights.Length;
        var k = centroids.Length / dimensions;
        var labels = new int[m];
        var previous = new int[m];
        var distances = new float[m];
        var sums = new double[k * dimensions];
        var mass = new double[k];
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            new PackedCentroids(centroids, dimensions).AssignRange(points, 0, m, labels, distances, default, default, default);
            if (iteration > 0 && labels.AsSpan().SequenceEqual(previous))
            {
                return;
            }

            labels.CopyTo(previous, 0);
            Array.Clear(sums);
            Array.Clear(mass);
            for (var i = 0; i < m; i++)
            {
                mass[labels[i]] += weights[i];
                for (var j = 0; j < dimensions; j++)
                {
                    sums[(labels[i] * dimensions) + j] += weights[i] * points[(i * dimensions) + j];
                }
            }

            for (var c = 0; c < k; c++)
            {
                if (mass[c] <= 0)
                {
                    continue; // an empty candidate cluster keeps its k-means++ seed
                }

                for (var j = 0; j < dimensions; j++)
                {
                    centroids[(c * dimensions) + j] = (float)(sums[(c * dimensions) + j] / mass[c]);
                }
            }
        }
    }

    private static float[] Gather(float[] data, int dimensions, List<int> rows)
    {
        var gathered = new float[rows.Count * dimensions];
        for (var r = 0; r < rows.Count; r++)
        {
            data.AsSpan(rows[r] * dimensions, dimensions).CopyTo(gathered.AsSpan(r * dimensions));
        }

        return gathered;
    }

    private static double SumInChunks(float[] values)
    {
        var total = 0.0;
        foreach (var v in values)
        {
            total += v;
        }

        return total;
    }

    /// <summary>Slices depend on N, K and D only (never on threads): at most 32, ≥ 2,048 rows each, ≤ 16 MB of partial sums.</summary>
    private static int SliceCount(int n, int k, int dimensions)
    {
        var byMemory = (int)Math.Clamp(MaxPartialSumFloats / ((long)k * dimensions), 1, MaxSlices);
        return Math.Clamp(n / MinSliceRows, 1, byMemory);
    }

    private static (int Start, int End) SliceRange(int n, int slices, int slice) =>
        ((int)((long)n * slice / slices), (int)((long)n * (slice + 1) / slices));

    private static int CheckData(float[] data, int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        if (data.Length % dimensions != 0)
        {
            throw new ArgumentException($"Data must be N × {dimensions}; got {data.Length} values.", nameof(data));
        }

        return data.Length / dimensions;
    }

    private static void CheckK(int k, int n)
    {
        if (k < 1 || k > n)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"k must be between 1 and the number of points ({n}); got {k}.");
        }
    }
}
