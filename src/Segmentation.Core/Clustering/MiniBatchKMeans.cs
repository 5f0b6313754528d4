namespace Segmentation.Core.Clustering;

/// <summary>
/// Streaming k-means (Sculley 2010, "Web-scale k-means clustering"): each point pulls its nearest centroid towards it
/// with a per-centroid learning rate 1 / (points that centroid has seen), so early points move centroids a lot and
/// later points little. This is the online path: one user's new embedding updates one centroid in O(K·D) for the
/// lookup (the <see cref="PackedCentroids"/> kernel) plus O(D) to move and repack the centroid.
/// </summary>
/// <remarks>Not thread-safe: owned by one segment grain (one turn at a time).</remarks>
public sealed class MiniBatchKMeans
{
    private readonly PackedCentroids _packed;
    private readonly float[] _centroids;
    private readonly long[] _counts;

    /// <summary>Starts from initial centroids (K × D), e.g. from <see cref="KMeans.InitializePlusPlus"/> on a sample.</summary>
    public MiniBatchKMeans(float[] initialCentroids, int dimensions)
    {
        Dimensions = dimensions;
        _packed = new PackedCentroids(initialCentroids, dimensions);
        _centroids = (float[])initialCentroids.Clone();
        _counts = new long[initialCentroids.Length / dimensions];
    }

    /// <summary>Dimensions of a point.</summary>
    public int Dimensions { get; }

    /// <summary>The current centroids (K × D). Read-only view; changes with each update.</summary>
    public ReadOnlySpan<float> Centroids => _centroids;

    /// <summary>How many points each centroid has absorbed.</summary>
    public IReadOnlyList<long> Counts => _counts;

    /// <summary>Assigns <paramref name="point"/> to its nearest centroid and moves that centroid towards it; returns the cluster.</summary>
    public int Update(ReadOnlySpan<float> point)
    {
        var cluster = _packed.Nearest(point).Cluster;
        Move(cluster, point);
        return cluster;
    }

    /// <summary>One mini-batch step: assign every point of the batch to the current centroids, then apply the updates.</summary>
    public void UpdateBatch(float[] data, IReadOnlyList<int> batch)
    {
        var clusters = new int[batch.Count];
        for (var b = 0; b < batch.Count; b++)
        {
            clusters[b] = _packed.Nearest(data.AsSpan(batch[b] * Dimensions, Dimensions)).Cluster;
        }

        for (var b = 0; b < batch.Count; b++)
        {
            Move(clusters[b], data.AsSpan(batch[b] * Dimensions, Dimensions));
        }
    }

    /// <summary>A copy of the centroids.</summary>
    public float[] Snapshot() => (float[])_centroids.Clone();

    private void Move(int cluster, ReadOnlySpan<float> point)
    {
        var rate = 1f / ++_counts[cluster];
        var centroid = _centroids.AsSpan(cluster * Dimensions, Dimensions);
        for (var j = 0; j < Dimensions; j++)
        {
            centroid[j] += rate * (point[j] - centroid[j]);
        }

        _packed.Set(cluster, centroid);
    }
}
