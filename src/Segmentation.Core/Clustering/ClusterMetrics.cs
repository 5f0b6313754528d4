using System.Numerics.Tensors;

namespace Segmentation.Core.Clustering;

/// <summary>
/// Cluster quality measures. Labels may be any integers (they are only compared for equality); points are rows of a
/// row-major N × D matrix. Definitions follow scikit-learn's <c>sklearn.metrics</c> so numbers can be compared.
/// </summary>
public static class ClusterMetrics
{
    /// <summary>Sample size from which <see cref="Silhouette"/> samples instead of computing the exact O(N²·D) mean.</summary>
    public const int DefaultSilhouetteSampleSize = 4_000;

    /// <summary>
    /// Adjusted Rand index (Hubert and Arabie 1985) of two labelings of the same points: 1 for identical partitions
    /// (whatever the label names), about 0 for chance agreement.
    /// </summary>
    public static double AdjustedRandIndex(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count)
        {
            throw new ArgumentException("Both labelings must cover the same points.");
        }

        var table = new Dictionary<(int, int), long>();
        var rows = new Dictionary<int, long>();
        var columns = new Dictionary<int, long>();
        for (var i = 0; i < a.Count; i++)
        {
            table[(a[i], b[i])] = table.GetValueOrDefault((a[i], b[i])) + 1;
            rows[a[i]] = rows.GetValueOrDefault(a[i]) + 1;
            columns[b[i]] = columns.GetValueOrDefault(b[i]) + 1;
        }

        static double Pairs(long n) => n * (n - 1) / 2.0;
        var index = table.Values.Sum(Pairs);
        var rowPairs = rows.Values.Sum(Pairs);
        var columnPairs = columns.Values.Sum(Pairs);
        var expected = rowPairs * columnPairs / Pairs(a.Count);
        var max = (rowPairs + columnPairs) / 2;
        return max == expected ? 1 : (index - expected) / (max - expected);
    }

    /// <summary>Sum of squared Euclidean distances of each point to the centroid of its assigned cluster (K × D centroids; labels 0..K−1).</summary>
    public static double Inertia(ReadOnlySpan<float> data, int dimensions, ReadOnlySpan<float> centroids, IReadOnlyList<int> assignments)
    {
        var n = CheckData(data.Length, dimensions, assignments);
        var k = centroids.Length / dimensions;
        var inertia = 0.0;
        for (var i = 0; i < n; i++)
        {
            var c = assignments[i];
            if ((uint)c >= (uint)k)
            {
                throw new ArgumentOutOfRangeException(nameof(assignments), $"Point {i} is assigned to cluster {c}; there are {k} centroids.");
            }

            inertia += KMeans.SquaredDistance(data.Slice(i * dimensions, dimensions), centroids.Slice(c * dimensions, dimensions));
        }

        return inertia;
    }

    /// <summary>Points per cluster: element c counts the assignments equal to c (labels must be in 0..K−1).</summary>
    public static int[] ClusterSizes(IReadOnlyList<int> assignments, int k)
    {
        var sizes = new int[k];
        foreach (var c in assignments)
        {
            if ((uint)c >= (uint)k)
            {
                throw new ArgumentOutOfRangeException(nameof(assignments), $"Cluster {c} is outside 0..{k - 1}.");
            }

            sizes[c]++;
        }

        return sizes;
    }

    /// <summary>
    /// Mean silhouette coefficient (Rousseeuw 1987) with Euclidean distance: for each point, a = mean distance to the
    /// other points of its cluster, b = the smallest mean distance to the points of another cluster, s = (b − a) / max(a, b),
    /// and s = 0 for a point alone in its cluster. In [−1, 1]; higher is better. Exact (O(N²·D), parallel) when
    /// N ≤ <paramref name="sampleSize"/>; otherwise computed on <paramref name="sampleSize"/> points drawn without
    /// replacement with <paramref name="seed"/>, as scikit-learn's <c>silhouette_score(sample_size=…)</c> does. Needs
    /// between 2 and N − 1 distinct labels (among the sampled points when sampling).
    /// </summary>
    public static double Silhouette(float[] data, int dimensions, IReadOnlyList<int> assignments, int sampleSize = DefaultSilhouetteSampleSize, int seed = 1)
    {
        var n = CheckData(data.Length, dimensions, assignments);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 2);
        var sample = Enumerable.Range(0, n).ToArray();
        if (n > sampleSize)
        {
            // Partial Fisher–Yates: the first sampleSize entries are a uniform sample without replacement.
            var random = new Random(seed);
            for (var i = 0; i < sampleSize; i++)
            {
                var j = random.Next(i, n);
                (sample[i], sample[j]) = (sample[j], sample[i]);
            }

            sample = sample[..sampleSize];
        }

        var m = sample.Length;
        var (labels, clusters) = Dense(sample.Select(i => assignments[i]).ToArray());
        if (clusters < 2 || clusters > m - 1)
        {
            throw new ArgumentException($"Silhouette needs between 2 and {m - 1} clusters; got {clusters}.", nameof(assignments));
        }

        var sizes = new int[clusters];
        foreach (var label in labels)
        {
            sizes[label]++;
        }

        var scores = new double[m];
        Parallel.For(0, m, i =>
        {
            var sums = new double[clusters];
            var x = data.AsSpan(sample[i] * dimensions, dimensions);
            for (var j = 0; j < m; j++)
            {
                if (j != i)
                {
                    sums[labels[j]] += TensorPrimitives.Distance(x, data.AsSpan(sample[j] * dimensions, dimensions));
                }
            }

            var own = labels[i];
            if (sizes[own] == 1)
            {
                return; // s = 0 by convention
            }

            var a = sums[own] / (sizes[own] - 1);
            var b = double.PositiveInfinity;
            for (var c = 0; c < clusters; c++)
            {
                if (c != own)
                {
                    b = Math.Min(b, sums[c] / sizes[c]);
                }
            }

            var scale = Math.Max(a, b);
            scores[i] = scale > 0 ? (b - a) / scale : 0;
        });

        var total = 0.0;
        foreach (var s in scores)
        {
            total += s; // point order: deterministic
        }

        return total / m;
    }

    /// <summary>
    /// Davies–Bouldin index (Davies and Bouldin 1979): with s_i the mean Euclidean distance of cluster i's points to its
    /// centroid (the mean of its points) and d_ij the distance between centroids, the mean over clusters of
    /// max_{j≠i} (s_i + s_j) / d_ij. 0 is best; lower is better. Coinciding centroids contribute 0 (as in scikit-learn).
    /// Needs between 2 and N − 1 distinct labels.
    /// </summary>
    public static double DaviesBouldin(ReadOnlySpan<float> data, int dimensions, IReadOnlyList<int> assignments)
    {
        var n = CheckData(data.Length, dimensions, assignments);
        var (labels, k) = Dense(assignments);
        if (k < 2 || k > n - 1)
        {
            throw new ArgumentException($"Davies–Bouldin needs between 2 and {n - 1} clusters; got {k}.", nameof(assignments));
        }

        var centroids = new double[k * dimensions];
        var sizes = new int[k];
        for (var i = 0; i < n; i++)
        {
            sizes[labels[i]]++;
            for (var j = 0; j < dimensions; j++)
            {
                centroids[(labels[i] * dimensions) + j] += data[(i * dimensions) + j];
            }
        }

        for (var c = 0; c < k; c++)
        {
            for (var j = 0; j < dimensions; j++)
            {
                centroids[(c * dimensions) + j] /= sizes[c];
            }
        }

        var scatter = new double[k];
        for (var i = 0; i < n; i++)
        {
            scatter[labels[i]] += Distance(data.Slice(i * dimensions, dimensions), centroids.AsSpan(labels[i] * dimensions, dimensions));
        }

        for (var c = 0; c < k; c++)
        {
            scatter[c] /= sizes[c];
        }

        var total = 0.0;
        for (var c = 0; c < k; c++)
        {
            var worst = 0.0;
            for (var o = 0; o < k; o++)
            {
                var separation = o == c ? 0 : Distance(centroids.AsSpan(c * dimensions, dimensions), centroids.AsSpan(o * dimensions, dimensions));
                if (separation > 0)
                {
                    worst = Math.Max(worst, (scatter[c] + scatter[o]) / separation);
                }
            }

            total += worst;
        }

        return total / k;
    }

    private static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<double> b)
    {
        var sum = 0.0;
        for (var j = 0; j < a.Length; j++)
        {
            var delta = a[j] - b[j];
            sum += delta * delta;
        }

        return Math.Sqrt(sum);
    }

    private static double Distance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sum = 0.0;
        for (var j = 0; j < a.Length; j++)
        {
            var delta = a[j] - b[j];
            sum += delta * delta;
        }

        return Math.Sqrt(sum);
    }

    /// <summary>Labels renumbered 0..L−1 in order of first appearance, and L.</summary>
    private static (int[] Labels, int Count) Dense(IReadOnlyList<int> assignments)
    {
        var map = new Dictionary<int, int>();
        var labels = new int[assignments.Count];
        for (var i = 0; i < labels.Length; i++)
        {
            if (!map.TryGetValue(assignments[i], out var dense))
            {
                dense = map.Count;
                map[assignments[i]] = dense;
            }

            labels[i] = dense;
        }

        return (labels, map.Count);
    }

    private static int CheckData(int length, int dimensions, IReadOnlyList<int> assignments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        if (length % dimensions != 0 || length / dimensions != assignments.Count)
        {
            throw new ArgumentException($"Data must be N × {dimensions} with one assignment per point; got {length} values and {assignments.Count} assignments.");
        }

        return assignments.Count;
    }
}
