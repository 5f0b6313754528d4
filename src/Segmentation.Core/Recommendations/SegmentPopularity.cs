using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// Time-decayed item popularity per segment key (a lifecycle stage such as "lifecycle:new", an ML segment such as
/// "ml:7", or anything else the caller chooses), updated online. Popularity of an item in a segment is
/// Σ weight · 2^(−age/half-life) over the interactions recorded under that key.
/// <para>
/// As a candidate source it serves cold start: candidates come from the request's segment keys in order, then from
/// <see cref="Everyone"/>; an item's score is its popularity relative to the top item of the key that ranks it
/// highest (scores from <see cref="Everyone"/> are further multiplied by the everyone-weight, 0.5 by default, so a
/// segment's own favourites come first), and its reason names that key. A request's <see cref="RecommendationRequest.ContextCategory"/>
/// restricts candidates to that category. Thread-safety: all members are safe to call concurrently (one lock).
/// </para>
/// </summary>
public sealed class SegmentPopularity : ICandidateSource
{
    /// <summary>The key under which popularity over all users is kept (its reason reads "popular with everyone").</summary>
    public const string Everyone = "";

    private readonly Lock _lock = new();
    private readonly InteractionWeights _weights;
    private readonly ItemCatalog _catalog;
    private readonly ForwardDecay _decay;
    private readonly double _everyoneWeight;
    private readonly Dictionary<string, Dictionary<string, double>> _segments = new(StringComparer.Ordinal);

    /// <summary>An empty table; <paramref name="catalog"/> resolves categories for context-category requests.</summary>
    /// <param name="catalog">Categories of items.</param>
    /// <param name="halfLife">Half-life of popularity (null: counts never fade).</param>
    /// <param name="weights">Interaction weights (default: <see cref="InteractionWeights.Default"/>).</param>
    /// <param name="everyoneWeight">Multiplier (0..1] of scores that come from <see cref="Everyone"/> rather than the user's own segments.</param>
    public SegmentPopularity(ItemCatalog catalog, TimeSpan? halfLife, InteractionWeights? weights = null, double everyoneWeight = 0.5)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(everyoneWeight);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(everyoneWeight, 1);
        _everyoneWeight = everyoneWeight;
        _catalog = catalog;
        _weights = weights ?? InteractionWeights.Default;
        _decay = new ForwardDecay(halfLife);
    }

    /// <summary>Adds one interaction under each of <paramref name="segmentKeys"/> (weight-0 interactions are ignored).</summary>
    public void Record(IEnumerable<string> segmentKeys, Interaction interaction)
    {
        var weight = _weights.Of(interaction);
        if (weight <= 0 || string.IsNullOrEmpty(interaction.ItemId))
        {
            return;
        }

        lock (_lock)
        {
            var rebase = _decay.Rebase(interaction.Timestamp);
            if (rebase != 1)
            {
                foreach (var items in _segments.Values)
                {
                    foreach (var key in items.Keys.ToList())
                    {
                        items[key] *= rebase;
                    }
                }
            }

            var add = weight * _decay.Weight(interaction.Timestamp);
            foreach (var segment in segmentKeys.Distinct(StringComparer.Ordinal))
            {
                if (!_segments.TryGetValue(segment, out var items))
                {
                    items = new Dictionary<string, double>(StringComparer.Ordinal);
                    _segments.Add(segment, items);
                }

                items[interaction.ItemId] = items.GetValueOrDefault(interaction.ItemId) + add;
            }
        }
    }

    /// <summary>The decayed popularity of <paramref name="itemId"/> in <paramref name="segmentKey"/> as of <paramref name="now"/>.</summary>
    public double Popularity(string segmentKey, string itemId, DateTimeOffset now)
    {
        lock (_lock)
        {
            return _segments.TryGetValue(segmentKey, out var items) ? items.GetValueOrDefault(itemId) / _decay.Divisor(now) : 0;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
    {
        ArgumentNullException.ThrowIfNull(request);
        var best = new Dictionary<string, (double Score, string Segment)>(StringComparer.Ordinal);
        var category = request.ContextCategory ?? "";
        lock (_lock)
        {
            foreach (var segment in request.SegmentKeys.Append(Everyone).Distinct(StringComparer.Ordinal))
            {
                if (!_segments.TryGetValue(segment, out var items))
                {
                    continue;
                }

                var top = new TopK<byte>(count);
                foreach (var (item, popularity) in items)
                {
                    if (popularity > 0 && top.Admits(popularity) && ItemCatalog.IsIn(_catalog.CategoryOf(item), category) && allowed(item))
                    {
                        top.Offer(item, popularity, 0);
                    }
                }

                var ranked = top.Drain();
                var weight = segment == Everyone ? _everyoneWeight : 1;
                foreach (var (item, popularity, _) in ranked)
                {
                    // Relative to the segment's leader, so a small segment's favourites compete with the global ones.
                    var score = weight * popularity / ranked[0].Score;
                    if (!best.TryGetValue(item, out var current) || score > current.Score)
                    {
                        best[item] = (score, segment);
                    }
                }
            }
        }

        var result = new TopK<string>(count);
        foreach (var (item, (score, segment)) in best)
        {
            result.Offer(item, score, segment);
        }

        return result.Drain().ConvertAll(t => new Candidate(t.Id, t.Score, new RecommendationReason(ReasonKind.PopularInSegment, t.Value)));
    }
}
