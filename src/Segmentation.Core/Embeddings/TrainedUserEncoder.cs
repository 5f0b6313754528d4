using System.Numerics.Tensors;
using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Embeddings;

/// <summary>
/// A user encoder as <see cref="UserEncoderTrainer"/> trained it: item ids in index order, their unit item vectors
/// (E without the padding row), the dense projection W, and the reference computation of a user embedding
/// (<see cref="Embed(ReadOnlySpan{long}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>) that an exported
/// ONNX encoder must reproduce. Immutable once returned by the trainer: thread-safe.
/// </summary>
public sealed class TrainedUserEncoder
{
    /// <summary>Norms below this are treated as it when normalising (the ONNX exporter's epsilon), so a zero vector maps to zeros.</summary>
    public const float NormEpsilon = 1e-12f;

    private readonly string[] _itemIds;
    private readonly float[] _itemVectors;
    private readonly float[] _projection;
    private readonly string[] _popularity;
    private readonly Dictionary<string, int> _index;
    private ItemEmbeddingIndex? _search;

    internal TrainedUserEncoder(string[] itemIds, float[] itemVectors, float[] projection, int dimension, EncoderFeatures features, string[] popularity)
    {
        _itemIds = itemIds;
        _itemVectors = itemVectors;
        _projection = projection;
        _popularity = popularity;
        Dimension = dimension;
        Features = features;
        _index = new Dictionary<string, int>(itemIds.Length, StringComparer.Ordinal);
        for (var i = 0; i < itemIds.Length; i++)
        {
            _index[itemIds[i]] = i + 1;
        }
    }

    /// <summary>D.</summary>
    public int Dimension { get; }

    /// <summary>The input definition the encoder was trained with (L, half-life, weights, dense features).</summary>
    public EncoderFeatures Features { get; }

    /// <summary>Item ids in index order: item <c>ItemIds[i]</c> is encoder index i + 1 (0 is padding).</summary>
    public IReadOnlyList<string> ItemIds => _itemIds;

    /// <summary>Item ids, most training interactions first (ties by id, ordinal).</summary>
    public IReadOnlyList<string> ItemsByPopularity => _popularity;

    /// <summary>Unit item vectors, row-major N × D, row i for <c>ItemIds[i]</c> (no padding row).</summary>
    public ReadOnlySpan<float> ItemVectors => _itemVectors;

    /// <summary>W: row-major F × D.</summary>
    public ReadOnlySpan<float> DenseProjection => _projection;

    /// <summary>Fit quality at training time (users, items, interactions, cosines to the ALS user factors, share of the
    /// projection target explained).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; internal set; } = new Dictionary<string, double>();

    /// <summary>The encoder index of <paramref name="itemId"/> (≥ 1), or 0 when the model does not know it.</summary>
    public int IndexOf(string itemId) => _index.GetValueOrDefault(itemId);

    /// <summary>E with its padding row: (N + 1) × D, row 0 all zeros, row i + 1 = <see cref="ItemVectors"/> row i (the exporter's input).</summary>
    public float[] EncoderTable()
    {
        var table = new float[(_itemIds.Length + 1) * Dimension];
        _itemVectors.CopyTo(table.AsSpan(Dimension));
        return table;
    }

    /// <summary>An exact cosine search over the item vectors (the served similarity index).</summary>
    public ItemEmbeddingIndex SearchIndex() => _search ??= new ItemEmbeddingIndex(_itemIds, _itemVectors, Dimension);

    /// <summary>
    /// The user embedding from encoder inputs, exactly as the exported graph defines it:
    /// normalise(Σ_l weights[l]·E[ids[l]] + dense·W), ids outside [0, N] counting as padding, norm floored at
    /// <see cref="NormEpsilon"/>.
    /// </summary>
    public void Embed(ReadOnlySpan<long> ids, ReadOnlySpan<float> weights, ReadOnlySpan<float> dense, Span<float> embedding)
    {
        if (ids.Length != weights.Length || dense.Length != EncoderFeatures.FeatureCount || embedding.Length != Dimension)
        {
            throw new ArgumentException($"expected ids and weights of equal length, {EncoderFeatures.FeatureCount} dense features and a {Dimension}-float embedding.");
        }

        HistoryVector(ids, weights, embedding);
        for (var i = 0; i < dense.Length; i++)
        {
            TensorPrimitives.MultiplyAdd(_projection.AsSpan(i * Dimension, Dimension), dense[i], embedding, embedding);
        }

        var norm = Math.Max(TensorPrimitives.Norm<float>(embedding), NormEpsilon);
        TensorPrimitives.Divide(embedding, norm, embedding);
    }

    /// <summary>The embedding of <paramref name="profile"/> at <paramref name="now"/> (inputs by <see cref="Features"/>).</summary>
    public float[] Embed(UserProfile profile, DateTimeOffset now)
    {
        var ids = new long[Features.HistoryLength];
        var weights = new float[Features.HistoryLength];
        var dense = new float[EncoderFeatures.FeatureCount];
        Features.Encode(profile, now, IndexOf, ids, weights, dense);
        var embedding = new float[Dimension];
        Embed(ids, weights, dense, embedding);
        return embedding;
    }

    /// <summary>The <paramref name="k"/> items most similar (cosine) to <paramref name="itemId"/>, itself excluded; empty when unknown.</summary>
    public IReadOnlyList<(string ItemId, float Score)> Neighbours(string itemId, int k)
    {
        var index = IndexOf(itemId);
        return index == 0
            ? []
            : SearchIndex().Search(_itemVectors.AsSpan((index - 1) * Dimension, Dimension), k, id => id != itemId);
    }

    /// <summary>h = Σ_l weights[l]·E[ids[l]] (ids outside [1, N] contribute nothing) into <paramref name="vector"/>.</summary>
    internal void HistoryVector(ReadOnlySpan<long> ids, ReadOnlySpan<float> weights, Span<float> vector)
    {
        vector.Clear();
        for (var l = 0; l < ids.Length; l++)
        {
            var id = ids[l];
            if (id >= 1 && id <= _itemIds.Length)
            {
                TensorPrimitives.MultiplyAdd(_itemVectors.AsSpan((int)(id - 1) * Dimension, Dimension), weights[l], vector, vector);
            }
        }
    }
}
