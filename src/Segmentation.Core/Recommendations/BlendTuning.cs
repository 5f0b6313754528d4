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
public sealed record BlendTuningResult(IReadOnlyList<double> Weights, double Ndcg, double HitRate, IReadOnlyList<double> SourceAloneNdcg, int Cases)
{
    /// <summary>The personal ranking chosen among those offered (null: none was offered; cases were ranked unpersonalised).</summary>
    public PersonalRanking? Ranking { get; init; }

    /// <summary>Hit rate@k over the cases whose relevant items are all new to her (none in her history); NaN without such cases.</summary>
    public double NewHitRate { get; init; } = double.NaN;
}

/// <summary>
/// Chooses the weights of a <see cref="RecommendationBlender"/>'s sources on held-out data, by grid search: every
/// combination of <c>levels</c> for each source is tried, with the first source's weight fixed at 1 (only ratios
/// matter), and the one with the best NDCG@k over the validation cases wins (ties: the earlier combination, so the
/// lighter weights). Each source is asked once per case for its candidates; a combination only re-weighs them, as
/// the blender does (each source's scores divided by its best, times its weight, summed), so the grid is cheap.
/// <para>
/// With <c>rankings</c> and the catalogue, a case that carries category affinities is ranked as a personalised
/// placement serves it (<see cref="PersonalRanking.Rank"/>: the affinity boost and the per-category cap), so the weights
/// are tuned for the list actually served, and the ranking itself is chosen too, by coordinate ascent: the weight grid
/// under the first ranking, then every ranking under the best weights, then (when another ranking won) the grid again
/// under it. Deterministic for the same sources and cases.
/// </para>
/// </summary>
public static class BlendTuning
{
    /// <summary>The weights tried for each source after the first.</summary>
    public static IReadOnlyList<double> DefaultLevels { get; } = [0, 0.1, 0.25, 0.5, 1, 2];

    /// <summary>Tunes the weights of <paramref name="sources"/> (trained without the held-out interactions) on <paramref name="cases"/>.</summary>
    /// <remarks>
    /// <paramref name="rankings"/>: the personal rankings to choose from, the configured one first (null or empty: lists
    /// are ranked unpersonalised); <paramref name="catalog"/> gives the items' categories they rank by.
    /// </remarks>
    public static BlendTuningResult Tune(
        IReadOnlyList<ICandidateSource> sources, IReadOnlyList<ValidationCase> cases, IReadOnlyList<double>? levels = null, int k = 10, int pool = 50, int maxDegreeOfParallelism = -1,
        IReadOnlyList<PersonalRanking>? rankings = null, ItemCatalog? catalog = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentOutOfRangeException.ThrowIfZero(sources.Count);
        levels ??= DefaultLevels;
        if (rankings is { Count: > 0 })
        {
            ArgumentNullException.ThrowIfNull(catalog);
        }

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
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        var ranking = rankings is { Count: > 0 } ? rankings[0] : null;
        var scorer = new Scorer(normalised, cases, k, catalog);
        var (best, bestScore) = BestOf(grid, g => scorer.Score(g, ranking), options);
        if (rankings is { Count: > 1 })
        {
            var (r, _) = BestOf(rankings, r => scorer.Score(best, r), options);
            if (!ReferenceEquals(r, ranking))
            {
                ranking = r;
                (best, bestScore) = BestOf(grid, g => scorer.Score(g, ranking), options);
            }
        }

        var alone = new double[sources.Count];
        for (var s = 0; s < sources.Count; s++)
        {
            var only = new double[sources.Count];
            only[s] = 1;
            alone[s] = scorer.Score(only, ranking).Ndcg;
        }

        return new BlendTuningResult(best, bestScore.Ndcg, bestScore.Hits, alone, cases.Count) { Ranking = ranking, NewHitRate = bestScore.NewHits };
    }

    // The candidate with the best NDCG (ties: the earlier one), scored in parallel.
    private static (T Best, Metrics Score) BestOf<T>(IReadOnlyList<T> candidates, Func<T, Metrics> score, ParallelOptions options)
    {
        var results = new Metrics[candidates.Count];
        Parallel.For(0, candidates.Count, options, i => results[i] = score(candidates[i]));
        var best = 0;
        for (var i = 1; i < candidates.Count; i++)
        {
            if (results[i].Ndcg > results[best].Ndcg)
            {
                best = i;
            }
        }

        return (candidates[best], results[best]);
    }

    private readonly record struct Metrics(double Ndcg, double Hits, double NewHits);

    // NDCG@k, hit rate@k and hit rate on targets new to her of one weighting and ranking; ranked as the blender ranks:
    // score descending (at ranking precision), then item id (ordinal), through the personal ranking when the case has
    // affinities. Thread-safe: each call has its own buffers.
    private sealed class Scorer(Dictionary<string, double>[][] normalised, IReadOnlyList<ValidationCase> cases, int k, ItemCatalog? catalog)
    {
        private static readonly RecommendationReason s_reason = new(ReasonKind.PopularInSegment, "");
        private static readonly Comparison<Recommendation> s_order = static (a, b) =>
        {
            var c = Internal.TopK<byte>.Rank(b.Score).CompareTo(Internal.TopK<byte>.Rank(a.Score));
            return c != 0 ? c : string.CompareOrdinal(a.ItemId, b.ItemId);
        };

        // Per case: whether every relevant item is new to her (not in her history).
        private readonly bool[] _new = [.. cases.Select(c => !c.Request.History.Any(x => c.Relevant.Contains(x.ItemId)))];

        public Metrics Score(IReadOnlyList<double> weights, PersonalRanking? ranking)
        {
            if (cases.Count == 0)
            {
                return new Metrics(0, 0, double.NaN);
            }

            double ndcg = 0, hits = 0, newHits = 0;
            var newCases = 0;
            var blend = new Dictionary<string, double>(StringComparer.Ordinal);
            var ranked = new List<Recommendation>();
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

                var request = cases[c].Request;
                ranked.Clear();
                foreach (var (item, score) in blend)
                {
                    ranked.Add(new Recommendation(item, score, catalog?.CategoryOf(item) ?? "", s_reason));
                }

                List<Recommendation> list;
                if (ranking is not null && request.CategoryAffinities.Count > 0)
                {
                    list = ranking.Rank(ranked, request.CategoryAffinities, k, s_order);
                }
                else
                {
                    ranked.Sort(s_order);
                    list = ranked;
                }

                var relevant = cases[c].Relevant;
                double dcg = 0, ideal = 0;
                for (var rank = 0; rank < Math.Min(k, list.Count); rank++)
                {
                    dcg += relevant.Contains(list[rank].ItemId) ? 1 / Math.Log2(rank + 2) : 0;
                }

                for (var rank = 0; rank < Math.Min(k, relevant.Count); rank++)
                {
                    ideal += 1 / Math.Log2(rank + 2);
                }

                ndcg += ideal > 0 ? dcg / ideal : 0;
                hits += dcg > 0 ? 1 : 0;
                if (_new[c])
                {
                    newCases++;
                    newHits += dcg > 0 ? 1 : 0;
                }
            }

            return new Metrics(ndcg / cases.Count, hits / cases.Count, newCases == 0 ? double.NaN : newHits / newCases);
        }
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
