using System.Numerics.Tensors;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// Exact top-k similarity search over item embeddings: one contiguous row-major N × D float matrix, dot products
/// vectorised with <see cref="TensorPrimitives"/>, and a bounded heap for the partial selection (O(N·D + N log k)).
/// With L2-normalised rows and query (the encoder's contract, DESIGN §7) the dot product is the cosine.
/// <para>
/// As a candidate source it scores items against the request's <see cref="RecommendationRequest.UserVector"/>, or,
/// without one, against the normalised sum of the embeddings of the context item and the 50 most recent history
/// items; each candidate's reason names the one of those items most similar to it. Immutable after construction: thread-safe.
/// </para>
/// </summary>
public sealed class ItemEmbeddingIndex : ICandidateSource
{
    private const int MaxReasonItems = 50;
    private readonly float[] _matrix;
    private readonly string[] _ids;
    private readonly Dictionary<string, int> _index;

    /// <summary>Wraps <paramref name="matrix"/> (copied): row r is the embedding of <paramref name="itemIds"/>[r].</summary>
    public ItemEmbeddingIndex(IReadOnlyList<string> itemIds, ReadOnlySpan<float> matrix, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (matrix.Length != itemIds.Count * dimension)
        {
            throw new ArgumentException($"matrix has {matrix.Length} floats; {itemIds.Count} items × {dimension} dimensions need {itemIds.Count * dimension}.", nameof(matrix));
        }

        _ids = [.. itemIds];
        _matrix = matrix.ToArray();
        Dimension = dimension;
        _index = new Dictionary<string, int>(_ids.Length, StringComparer.Ordinal);
        for (var i = 0; i < _ids.Length; i++)
        {
            if (!_index.TryAdd(_ids[i], i))
            {
                throw new ArgumentException($"item id '{_ids[i]}' appears twice.", nameof(itemIds));
            }
        }
    }

    /// <summary>Embedding size D.</summary>
    public int Dimension { get; }

    /// <summary>Number of items N.</summary>
    public int Count => _ids.Length;

    /// <summary>The embedding of an item, or an empty span when unknown.</summary>
    public ReadOnlySpan<float> Embedding(string itemId) =>
        _index.TryGetValue(itemId, out var i) ? _matrix.AsSpan(i * Dimension, Dimension) : [];

    /// <summary>
    /// The <paramref name="k"/> items with the largest dot product with <paramref name="query"/> among those
    /// <paramref name="allowed"/> (all when null): best first, ties by item id (ordinal).
    /// </summary>
    public IReadOnlyList<(string ItemId, float Score)> Search(ReadOnlySpan<float> query, int k, Func<string, bool>? allowed = null)
    {
        if (query.Length != Dimension)
        {
            throw new ArgumentException($"query has {query.Length} dimensions; the index has {Dimension}.", nameof(query));
        }

        var top = new TopK<byte>(k);
        var matrix = _matrix.AsSpan();
        for (var i = 0; i < _ids.Length; i++)
        {
            var score = TensorPrimitives.Dot(matrix.Slice(i * Dimension, Dimension), query);
            if (top.Admits(score) && (allowed is null || allowed(_ids[i])))
            {
                top.Offer(_ids[i], score, 0);
            }
        }

        return top.Drain(static (id, score, _) => (id, (float)score));
    }

    /// <inheritdoc/>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The context item, then the most recent history items (at most MaxReasonItems), in id order for determinism.
        var own = request.History.OrderByDescending(x => x.Timestamp).ThenBy(x => x.ItemId, StringComparer.Ordinal).Select(x => x.ItemId)
            .Prepend(request.ContextItemId ?? "").Where(_index.ContainsKey).Distinct(StringComparer.Ordinal).Take(MaxReasonItems)
            .Order(StringComparer.Ordinal).ToList();
        float[] query;
        if (request.UserVector is { } vector)
        {
            query = vector;
        }
        else if (own.Count > 0)
        {
            query = new float[Dimension];
            foreach (var item in own)
            {
                TensorPrimitives.Add(query, Embedding(item), query);
            }

            var norm = TensorPrimitives.Norm(query);
            if (norm > 0)
            {
                TensorPrimitives.Divide(query, norm, query);
            }
        }
        else
        {
            return [];
        }

        var hits = Search(query, count, allowed);
        var result = new List<Candidate>(hits.Count);
        foreach (var (item, score) in hits)
        {
            if (score <= 0)
            {
                break;
            }

            var reason = new RecommendationReason(ReasonKind.MatchesTasteProfile, "");
            var closest = float.NegativeInfinity;
            foreach (var mine in own)
            {
                var similarity = TensorPrimitives.Dot(Embedding(mine), Embedding(item));
                if (similarity > closest)
                {
                    closest = similarity;
                    reason = new RecommendationReason(ReasonKind.SimilarToViewed, mine);
                }
            }

            result.Add(new Candidate(item, score, reason));
        }

        return result;
    }
}
