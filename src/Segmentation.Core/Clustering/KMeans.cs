using System.Numerics.Tensors;

namespace Segmentation.Core.Clustering;

/// <summary>Settings of a k-means run.</summary>
public sealed class KMeansOptions
{
    /// <summary>Number of clusters.</summary>
    public int K { get; set; } = 8;

    /// <summary>Most Lloyd iterations.</summary>
    public int MaxIterations { get; set; } = 100;

    /// <summary>Stop when the relative inertia improvement of an iteration falls below this.</summary>
    public double Tolerance { get; set; } = 1e-6;

    /// <summary>Seed of the k-means++ initialisation (same seed, same data: same result).</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Parallelism of the assignment step (default: all cores).</summary>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;
}

/// <summary>The outcome of a k-means run.</summary>
/// <param name="Centroids">K × D, row-major.</param>
/// <param name="Assignments">Cluster of each point.</param>
/// <param name="Inertia">Sum of squared distances of points to their centroid.</param>
/// <param name="Iterations">Lloyd iterations run.</param>
public sealed record KMeansResult(float[] Centroids, int[] Assignments, double Inertia, int Iterations);

/// <summary>
/// Batch k-means: k-means++ initialisation and Lloyd iterations, vectorised with <see cref="TensorPrimitives"/>
/// and parallel across cores, with empty-cluster repair. Points are rows of a row-major N × D matrix. Distances are
/// squared Euclidean; on L2-normalised embeddings (the user encoder's output) that is 2 − 2·cosine, so it ranks
/// centroids exactly as cosine similarity does. Deterministic for a seed: parallel partial sums are combined in a
/// fixed order.
/// </summary>
public static class KMeans
{
    private const int ChunkSize = 4096;

    /// <summary>Clusters <paramref name="points"/> (N × <paramref name="dimensions"/>).</summary>
    public static KMeansResult Fit(ReadOnlySpan<float> points, int dimensions, KMeansOptions options)
    {
        var data = points.ToArray();
        var centroids = InitializePlusPlus(data, dimensions, options.K, new Random(options.Seed));
        return Lloyd(data, dimensions, centroids, options);
    }

    /// <summary>Lloyd iterations from the given initial centroids (K × D), e.g. to compare with another implementation.</summary>
    public static KMeansResult Lloyd(float[] data, int dimensions, float[] initialCentroids, KMeansOptions options)
    {
        var n = data.Length / dimensions;
        var k = initialCentroids.Length / dimensions;
        var centroids = (float[])initialCentroids.Clone();
        var assignments = new int[n];
        var distances = new float[n];
        var previous = double.MaxValue;
        var inertia = 0.0;
        var iteration = 0;
        while (iteration < options.MaxIterations)
        {
            iteration++;
            inertia = Assign(data, dimensions, centroids, assignments, distances, options.MaxDegreeOfParallelism);
            Update(data, dimensions, centroids, assignments, distances, k);
            if (previous - inertia <= options.Tolerance * Math.Max(previous == double.MaxValue ? inertia : previous, double.Epsilon))
            {
                break;
            }

            previous = inertia;
        }

        inertia = Assign(data, dimensions, centroids, assignments, distances, options.MaxDegreeOfParallelism);
        return new KMeansResult(centroids, assignments, inertia, iteration);
    }

    /// <summary>k-means++ (Arthur and Vassilvitskii 2007): each next centroid drawn with probability ∝ squared distance to the nearest chosen.</summary>
    public static float[] InitializePlusPlus(float[] data, int dimensions, int k, Random random)
    {
        var n = data.Length / dimensions;
        if (k < 1 || k > n)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"k must be between 1 and the number of points ({n}); got {k}.");
        }

        var centroids = new float[k * dimensions];
        var nearest = new double[n];
        var first = random.Next(n);
        data.AsSpan(first * dimensions, dimensions).CopyTo(centroids);
        var total = 0.0;
        for (var i = 0; i < n; i++)
        {
            nearest[i] = SquaredDistance(data.AsSpan(i * dimensions, dimensions), centroids.AsSpan(0, dimensions));
            total += nearest[i];
        }

        for (var c = 1; c < k; c++)
        {
            var target = random.NextDouble() * total;
            var chosen = n - 1;
            for (var i = 0; i < n; i++)
            {
                target -= nearest[i];
                if (target <= 0)
                {
                    chosen = i;
                    break;
                }
            }

            var centroid = centroids.AsSpan(c * dimensions, dimensions);
            data.AsSpan(chosen * dimensions, dimensions).CopyTo(centroid);
            total = 0;
            for (var i = 0; i < n; i++)
            {
                nearest[i] = Math.Min(nearest[i], SquaredDistance(data.AsSpan(i * dimensions, dimensions), centroid));
                total += nearest[i];
            }
        }

        return centroids;
    }

    /// <summary>The nearest centroid of one point, its squared distance, and the squared distance to the second nearest.</summary>
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
        var assignments = new int[data.Length / dimensions];
        var distances = new float[assignments.Length];
        return Assign(data, dimensions, centroids, assignments, distances, Environment.ProcessorCount);
    }

    /// <summary>Squared Euclidean distance.</summary>
    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var distance = TensorPrimitives.Distance(a, b);
        return distance * distance;
    }

    private static double Assign(float[] data, int dimensions, float[] centroids, int[] assignments, float[] distances, int parallelism)
    {
        var n = assignments.Length;
        var chunks = (n + ChunkSize - 1) / ChunkSize;
        var partial = new double[chunks];
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism) }, chunk =>
        {
            var end = Math.Min(n, (chunk + 1) * ChunkSize);
            var sum = 0.0;
            for (var i = chunk * ChunkSize; i < end; i++)
            {
                var (cluster, distance, _) = Nearest(data.AsSpan(i * dimensions, dimensions), centroids);
                assignments[i] = cluster;
                distances[i] = distance;
                sum += distance;
            }

            partial[chunk] = sum;
        });

        var inertia = 0.0;
        foreach (var sum in partial)
        {
            inertia += sum; // Fixed order: deterministic whatever the thread timing.
        }

        return inertia;
    }

    private static void Update(float[] data, int dimensions, float[] centroids, int[] assignments, float[] distances, int k)
    {
        var sums = new double[k * dimensions];
        var counts = new int[k];
        for (var i = 0; i < assignments.Length; i++)
        {
            var c = assignments[i];
            counts[c]++;
            var row = data.AsSpan(i * dimensions, dimensions);
            var sum = sums.AsSpan(c * dimensions, dimensions);
            for (var j = 0; j < dimensions; j++)
            {
                sum[j] += row[j];
            }
        }

        for (var c = 0; c < k; c++)
        {
            var centroid = centroids.AsSpan(c * dimensions, dimensions);
            if (counts[c] == 0)
            {
                // Empty cluster: move it to the point farthest from its centroid, which then leaves its old cluster.
                var farthest = 0;
                for (var i = 1; i < distances.Length; i++)
                {
                    if (distances[i] > distances[farthest])
                    {
                        farthest = i;
                    }
                }

                data.AsSpan(farthest * dimensions, dimensions).CopyTo(centroid);
                distances[farthest] = 0;
                continue;
            }

            var sum = sums.AsSpan(c * dimensions, dimensions);
            for (var j = 0; j < dimensions; j++)
            {
                centroid[j] = (float)(sum[j] / counts[c]);
            }
        }
    }
}
