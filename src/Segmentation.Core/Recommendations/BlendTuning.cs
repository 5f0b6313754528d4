namespace Segmentation.Core.Recommendations;

/// <summary>One validation case: what the blend is asked, and the items the user chose that it was not told about.</summary>
/// <param name="Request">The request as the live path would make it (the history without the held-out interactions).</param>
/// <param name="Relevant">The items of the held-out interactions (at least one).</param>
public sealed record ValidationCase(RecommendationRequest Request, IReadOnlySet<string> Relevant);

/// <summary>The weights chosen for a blend's sources and how they scored on the validation cases.</summary>
/// <param name="Weights">One weight per source, in the order given (0: the source is left out).</param>
/// <param name="Ndcg">NDCG@k of the blend with these weights over the validation cases.</param>
/// <param name="HitRate">Hit rate@k (a held-out item in the top k).</param>
/// <param name="SourceAloneNdcg">NDCG@k of each source alone, in the order given.</param>
/// <param name="Cases">Validation cases scored.</param>
public sealed record BlendTuningResult(IReadOnlyList<double> Weights, double Ndcg, double HitRate, IReadOnlyList<double> SourceAloneNdcg, int Cases);

/// <summary>
/// Chooses the weights of a <see cref="RecommendationBlender"/>'s sources on held-out data, by grid search: every
/// combination of <c>levels</c> for each source is tried, with the first source's weight fixed at 1 (only ratios
/// matter), and the one with the best NDCG@k over the validation cases wins (ties: the earlier combination, so the
/// lighter weights). Each source is asked once per case for its candidates; a combination only re-weighs them, as
/// the blender does (each source's scores divided by its best, times its weight, summed), so the grid is cheap.
/// Deterministic for the same sources and cases.
/// </summary>
public static class BlendTuning
{
    /// <summary>The weights tried for each source after the first.</summary>
    public static IReadOnlyList<double> DefaultLevels { get; } = [0, 0.1, 0.25, 0.5, 1, 2];

    /// <summary>Tunes the weights of <paramref name="sources"/> (trained without the held-out interactions) on <paramref name="cases"/>.</summary>
    public static BlendTuningResult Tune(
        IReadOnlyList<ICandidateSource> sources, IReadOnlyList<ValidationCase> cases, IReadOnlyList<double>? levels = null, int k = 10, int pool = 50, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentOutOfRangeException.ThrowIfZero(sources.Count);
        levels ??= DefaultLevels;

        // Per case and source: the normalised scores (best = 1) of the candidates it proposes.
        var normalised = new Dictionary<string, double>[cases.Count][];
        Parallel.For(0, cases.Count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, c =>
        {
            var request = cases[c].Request;
            var excluded = request.ExcludedItems;
            var bought = request.History.Where(x => x.Type == EventType.Purchase).Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal);
            bool Allowed(string item) => !excluded.Contains(item) && !bought.Contains(item) && item != request.ContextItemId;
            normalised[c] = new Dictionary<string, double>[sources.Count];
            for (var s = 0; s < sources.Count; s++)
            {
                var candidates = sources[s].GetCandidates(request, Math.Max(pool, k), Allowed);
                var scores = new Dictionary<string, double>(candidates.Count, StringComparer.Ordinal);
                if (candidates.Count > 0 && candidates[0].Score > 0)
                {
                    foreach (var candidate in candidates)
                    {
                        scores[candidate.ItemId] = candidate.Score / candidates[0].Score;
                    }
                }

                normalised[c][s] = scores;
            }
        });

        var grid = Combinations(sources.Count, levels);
        var results = new (double Ndcg, double Hits)[grid.Count];
        Parallel.For(0, grid.Count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, g => results[g] = Score(normalised, cases, grid[g], k));
        var best = 0;
        for (var g = 1; g < grid.Count; g++)
        {
            if (results[g].Ndcg > results[best].Ndcg)
            {
                best = g;
            }
        }

        var alone = new double[sources.Count];
        for (var s = 0; s < sources.Count; s++)
        {
            var only = new double[sources.Count];
            only[s] = 1;
            alone[s] = Score(normalised, cases, only, k).Ndcg;
        }

        return new BlendTuningResult(grid[best], results[best].Ndcg, results[best].Hits, alone, cases.Count);
    }

    // NDCG@k and hit rate@k of one weighting; ranking as the blender's: score descending, then item id (ordinal).
    private static (double Ndcg, double Hits) Score(Dictionary<string, double>[][] normalised, IReadOnlyList<ValidationCase> cases, IReadOnlyList<double> weights, int k)
    {
        if (cases.Count == 0)
        {
            return (0, 0);
        }

        double ndcg = 0, hits = 0;
        var blend = new Dictionary<string, double>(StringComparer.Ordinal);
        var ranked = new List<KeyValuePair<string, double>>();
        for (var c = 0; c < cases.Count; c++)
        {
            blend.Clear();
            for (var s = 0; s < weights.Count; s++)
            {
                if (weights[s] > 0)
                {
                    foreach (var (item, score) in normalised[c][s])
                    {
                        blend[item] = blend.GetValueOrDefault(item) + (weights[s] * score);
                    }
                }
            }

            var relevant = cases[c].Relevant;
            ranked.Clear();
            ranked.AddRange(blend);
            ranked.Sort(static (a, b) =>
            {
                var order = b.Value.CompareTo(a.Value);
                return order != 0 ? order : string.CompareOrdinal(a.Key, b.Key);
            });
            double dcg = 0, ideal = 0;
            for (var rank = 0; rank < Math.Min(k, ranked.Count); rank++)
            {
                dcg += relevant.Contains(ranked[rank].Key) ? 1 / Math.Log2(rank + 2) : 0;
            }

            for (var rank = 0; rank < Math.Min(k, relevant.Count); rank++)
            {
                ideal += 1 / Math.Log2(rank + 2);
            }

            ndcg += ideal > 0 ? dcg / ideal : 0;
            hits += dcg > 0 ? 1 : 0;
        }

        return (ndcg / cases.Count, hits / cases.Count);
    }

    private static List<double[]> Combinations(int sources, IReadOnlyList<double> levels)
    {
        var result = new List<double[]> { new double[sources] };
        result[0][0] = 1;
        for (var s = 1; s < sources; s++)
        {
            result = [.. result.SelectMany(prefix => levels.Select(level =>
            {
                var next = (double[])prefix.Clone();
                next[s] = level;
                return next;
            }))];
        }

        return result;
    }
}
