namespace Segmentation.Core.Embeddings;

/// <summary>Held-out hit-rate@k of a user encoder next to the popularity baseline, over the same users.</summary>
/// <param name="K">The cut-off.</param>
/// <param name="Users">Users scored: those with held-out items and an embedding.</param>
/// <param name="Encoder">Share of them with a held-out item among the encoder's top k.</param>
/// <param name="Popularity">Share of them with a held-out item among the k most popular items they had not seen.</param>
public sealed record EncoderHitRates(int K, int Users, double Encoder, double Popularity);

/// <summary>
/// Offline check of a trained encoder the way it is served: each user's embedding (from <see cref="EncoderFeatures"/>
/// inputs) scores every item by cosine through <see cref="TrainedUserEncoder.SearchIndex"/>, her training items are
/// excluded, and she is a hit when one of her held-out items is in the top k. Pure.
/// </summary>
public static class EncoderEvaluation
{
    /// <summary>The usual cut-off.</summary>
    public const int K = 10;

    /// <summary>
    /// Scores the users of <paramref name="heldOut"/> that have an embedding in <paramref name="embeddings"/>;
    /// <paramref name="seen"/> holds each user's training items (excluded from both lists).
    /// </summary>
    public static EncoderHitRates HitRate(
        TrainedUserEncoder model,
        IReadOnlyDictionary<string, float[]> embeddings,
        IReadOnlyDictionary<string, HashSet<string>> seen,
        IReadOnlyDictionary<string, HashSet<string>> heldOut,
        int k = K,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(seen);
        ArgumentNullException.ThrowIfNull(heldOut);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var users = heldOut.Keys.Where(u => embeddings.ContainsKey(u) && heldOut[u].Count > 0).Order(StringComparer.Ordinal).ToArray();
        var index = model.SearchIndex();
        var encoderHits = new bool[users.Length];
        var popularHits = new bool[users.Length];
        Parallel.For(0, users.Length, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, u =>
        {
            var mine = seen.GetValueOrDefault(users[u]) ?? [];
            var relevant = heldOut[users[u]];
            encoderHits[u] = index.Search(embeddings[users[u]], k, id => !mine.Contains(id)).Any(r => relevant.Contains(r.ItemId));
            popularHits[u] = model.ItemsByPopularity.Where(id => !mine.Contains(id)).Take(k).Any(relevant.Contains);
        });

        var n = Math.Max(1, users.Length);
        return new EncoderHitRates(k, users.Length, encoderHits.Count(h => h) / (double)n, popularHits.Count(h => h) / (double)n);
    }
}
