using System.Numerics.Tensors;

namespace Segmentation.Core.Clustering;

/// <summary>Where a user's embedding falls in a <see cref="SegmentationModel"/>.</summary>
/// <param name="SegmentId">The stable id of the nearest segment.</param>
/// <param name="Label">That segment's label.</param>
/// <param name="Distance">Euclidean distance to its centroid (0..2 on unit vectors).</param>
/// <param name="Margin">Distance to the second-nearest centroid minus <paramref name="Distance"/> (≥ 0; 2 when there is only one segment).</param>
/// <param name="Confidence">1 − Distance / SecondDistance, in [0, 1]: 0 on the boundary between two segments, 1 on the centroid.</param>
public sealed record SegmentAssignment(int SegmentId, string Label, double Distance, double Margin, double Confidence);

/// <summary>
/// One published version of the ML segmentation: stable segment ids, their centroids and labels. Immutable and
/// thread-safe: hosts swap whole models, never edit one.
/// </summary>
/// <remarks>
/// Distances: embeddings and centroids are L2-normalised, and assignment uses Euclidean distance between unit vectors,
/// which ranks exactly as cosine similarity does (‖a − b‖² = 2 − 2·cos(a, b)) while keeping k-means' mean-of-members
/// centroid update meaningful; centroids are re-normalised after every update, i.e. spherical k-means.
/// </remarks>
public sealed class SegmentationModel
{
    private readonly PackedCentroids _packed;
    private readonly Dictionary<int, int> _indexOfId;

    /// <summary>Builds a model; <paramref name="centroids"/> (k × dimensions) are L2-normalised on the way in.</summary>
    public SegmentationModel(long version, int dimensions, IReadOnlyList<int> segmentIds, ReadOnlySpan<float> centroids, IReadOnlyList<string> labels, string embeddingModelVersion, DateTimeOffset createdAt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfZero(segmentIds.Count, nameof(segmentIds));
        if (centroids.Length != segmentIds.Count * dimensions || labels.Count != segmentIds.Count)
        {
            throw new ArgumentException($"{segmentIds.Count} segments need {segmentIds.Count * dimensions} centroid values and as many labels; got {centroids.Length} and {labels.Count}");
        }

        if (segmentIds.Distinct().Count() != segmentIds.Count || segmentIds.Any(id => id < 1))
        {
            throw new ArgumentException("segment ids must be distinct and positive", nameof(segmentIds));
        }

        var normalised = centroids.ToArray();
        for (var i = 0; i < segmentIds.Count; i++)
        {
            Normalise(normalised.AsSpan(i * dimensions, dimensions));
        }

        Version = version;
        Dimensions = dimensions;
        SegmentIds = [.. segmentIds];
        Labels = [.. labels];
        EmbeddingModelVersion = embeddingModelVersion;
        CreatedAt = createdAt;
        _packed = new PackedCentroids(normalised, dimensions);
        _indexOfId = SegmentIds.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
    }

    /// <summary>The version (increases with every publication).</summary>
    public long Version { get; }

    /// <summary>Embedding length.</summary>
    public int Dimensions { get; }

    /// <summary>Stable segment ids, in centroid order.</summary>
    public IReadOnlyList<int> SegmentIds { get; }

    /// <summary>Labels, in centroid order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The embedding model whose vectors these centroids live among.</summary>
    public string EmbeddingModelVersion { get; }

    /// <summary>When it was published.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>The unit centroids, k × <see cref="Dimensions"/>, in id order of <see cref="SegmentIds"/>.</summary>
    public ReadOnlySpan<float> Centroids => _packed.Centroids;

    /// <summary>Segments.</summary>
    public int Count => SegmentIds.Count;

    /// <summary>The centroid of a segment id (empty when the id is not in this model).</summary>
    public ReadOnlySpan<float> Centroid(int segmentId) =>
        _indexOfId.TryGetValue(segmentId, out var i) ? Centroids.Slice(i * Dimensions, Dimensions) : [];

    /// <summary>The label of a segment id ("" when the id is not in this model).</summary>
    public string LabelOf(int segmentId) => _indexOfId.TryGetValue(segmentId, out var i) ? Labels[i] : "";

    /// <summary>Whether the model has that segment.</summary>
    public bool Contains(int segmentId) => _indexOfId.ContainsKey(segmentId);

    /// <summary>The nearest segment of a unit <paramref name="embedding"/>, its distance, margin and confidence.</summary>
    public SegmentAssignment Assign(ReadOnlySpan<float> embedding)
    {
        if (embedding.Length != Dimensions)
        {
            throw new ArgumentException($"an embedding of this model has {Dimensions} values; got {embedding.Length}", nameof(embedding));
        }

        var (cluster, squared, secondSquared) = _packed.Nearest(embedding);
        var distance = Math.Sqrt(squared);
        if (Count == 1)
        {
            return new SegmentAssignment(SegmentIds[0], Labels[0], distance, 2, 1);
        }

        var second = Math.Sqrt(secondSquared);
        return new SegmentAssignment(
            SegmentIds[cluster], Labels[cluster], distance, Math.Max(0, second - distance), second <= 0 ? 0 : Math.Clamp(1 - (distance / second), 0, 1));
    }

    /// <summary>Scales <paramref name="vector"/> to unit length in place (a zero vector stays zero).</summary>
    public static void Normalise(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }
}
