namespace Segmentation.Core.Recommendations;

/// <summary>One validation case: what the blend is asked, and the items the user chose that it was not told about.</summary>
/// <param name="Request">The request as the live path would make it (the history without the held-out interactions).</param>
/// <param name="Relevant">The items of the held-out interactions (at least one).</param>
public sealed record ValidationCase(RecommendationRequest Request, IReadOnlySet<string> Relevant)
{
    /// <summary>
    /// A "what will she do next" case: when its targets are new to her (none in her history) it counts towards
    /// discovery, the hit rate on new items a tuning may weigh beside NDCG (<see cref="BlendTuning.Tune"/>'s <c>discovery</c>).
    /// </summary>
    public bool AsksNext { get; init; }
}

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

    /// <summary>Hit rate@k over the <see cref="ValidationCase.AsksNext"/> cases whose relevant items are all new to her (none in her history); NaN without such cases.</summary>
    public double NewHitRate { get; init; } = double.NaN;

    /// <summary>Per <see cref="SourceVariants"/> given, in order: the alternative chosen (an index into its alternatives), or null: the source as given.</summary>
    public IReadOnlyList<int?> Variants { get; init; } = [];

    /// <summary>The discovery split chosen (<see cref="BlendOptions.DiscoveryShare"/>; 0: none offered, or none helped).</summary>
    public double DiscoveryShare { get; init; }
}

/// <summary>Alternatives for one source of a tuning (the same source with another setting, e.g. recency's half-life).</summary>
/// <param name="Source">The index of the source they may replace.</param>
/// <param name="Alternatives">The replacements tried.</param>
public sealed record SourceVariants(int Source, IReadOnlyList<ICandidateSource> Alternatives);

/// <summary>
/// Chooses the weights of a <see cref="RecommendationBlender"/>'s sources on held-out data, by grid search: every
/// combination of <c>levels</c> for each source is tried, with the first source's weight fixed at 1 (only ratios
/// matter), and the one with the best NDCG@k over the validation cases wins (ties: the earlier combination, so the
/// lighter weights). Each source is asked once per case for its candidates; a combination only re-weighs them, as
/// the blender does (each source's scores divided by its best, times its weight, summed), so the grid is cheap.
/// <para>
/// With <c>rankings</c> and the catalogue, a case that carries category affinities is ranked as a personalised
/// placement serves it (<see cref="PersonalRanking.Rank"/>: the affinity boost, the per-category cap and her top
/// category's place), so the weights are tuned for the list actually served, and the ranking is chosen too. With
/// <see cref="SourceVariants"/>, sources' alternatives are tried as well. The search is coordinate ascent: the
/// weight grid under the first ranking; then every ranking under those weights; then each source's weight alone over
/// the levels; then, per varied source, each alternative with its weight over the levels. Each step keeps the best
/// (ties: what it had). "Best" is NDCG@k plus <c>discovery</c> × the hit rate on "what next" cases whose target is new
/// to her (0 by default: NDCG alone): NDCG alone rewards filling the list with what she already looked at, which is
/// often what she does next but never shows her anything new. With <c>discoveryShares</c>, the split of the list
/// between reminders and new items (<see cref="BlendOptions.DiscoveryShare"/>) is chosen too, after the ranking and
/// again after the variants: weights alone trade one bar for the other, since a blend that ranks her own items first
/// fills the list with them, while a split keeps a few places for the best new items whatever the weights. Deterministic
/// for the same sources and cases.
/// </para>
/// </summary>
public static class BlendTuning
{
    /// <summary>The weights tried for each source after the first.</summary>
    public static IReadOnlyList<double> DefaultLevels { get; } = [0, 0.1, 0.25, 0.5, 1, 2];

    /// <summary>Tunes the weights of <paramref name="sources"/> (trained without the held-out interactions) on <paramref name="cases"/>.</summary>
    /// <remarks>
    /// <paramref name="rankings"/>: the personal rankings to choose from, the configured one first (null or empty: lists
    /// are ranked unpersonalised); <paramref name="catalog"/> gives the items' categories they rank by;
    /// <paramref name="discovery"/>: the weight, beside NDCG's 1, of the hit rate on new targets of "what next" cases.
    /// </remarks>
    public static BlendTuningResult Tune(
        IReadOnlyList<ICandidateSource> sources, IReadOnlyList<ValidationCase> cases, IReadOnlyList<double>? levels = null, int k = 10, int pool = 50, int maxDegreeOfParallelism = -1,
        IReadOnlyList<PersonalRanking>? rankings = null, ItemCatalog? catalog = null, IReadOnlyList<SourceVariants>? variants = null, double discovery = 0,
        IReadOnlyList<double>? discoveryShares = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentOutOfRangeException.ThrowIfZero(sources.Count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sources.Count + (variants?.Sum(v => v.Alternatives.Count) ?? 0), 31, nameof(sources));
        foreach (var v in variants ?? [])
        {
            ArgumentOutOfRangeException.ThrowIfNegative(v.Source, nameof(variants));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(v.Source, sources.Count, nameof(variants));
        }

        levels ??= DefaultLevels;
        if (rankings is { Count: > 0 })
        {
            ArgumentNullException.ThrowIfNull(catalog);
        }

        // The sources as the scorer sees them: the given ones, then the varied sources' alternatives (weight 0 until tried).
        var all = sources.Concat(variants?.SelectMany(v => v.Alternatives) ?? []).ToArray();
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        var prepared = new PreparedCase[cases.Count];
        Parallel.For(0, cases.Count, options, c => prepared[c] = PreparedCase.Of(cases[c], all, Math.Max(pool, k), k, catalog));
        var scorer = new Scorer(prepared, k, discovery);

        var ranking = rankings is { Count: > 0 } ? rankings[0] : null;
        var share = discoveryShares is { Count: > 0 } ? discoveryShares[0] : 0;
        double[] Widen(double[] weights) => [.. weights, .. new double[all.Length - weights.Length]];
        var (best, bestScore) = BestOf(Combinations(sources.Count, levels).ConvertAll(Widen), g => scorer.Score(g, ranking, share), options);
        if (rankings is { Count: > 1 })
        {
            (ranking, var score) = BestOf(rankings, r => scorer.Score(best, r, share), options);
            if (score.Objective > bestScore.Objective)
            {
                bestScore = score;
            }
            else
            {
                ranking = rankings[0];
            }
        }

        // The discovery split under those weights and ranking (the first offered is the configured one; ties keep it).
        if (discoveryShares is { Count: > 1 })
        {
            (share, bestScore) = ChooseShare(discoveryShares, ranking, share, bestScore);
        }

        // One pass of coordinate ascent over the weights under the ranking chosen.
        for (var s = 1; s < sources.Count; s++)
        {
            var tries = levels.Select(level => { var w = (double[])best.Clone(); w[s] = level; return w; }).ToList();
            var (w, score) = BestOf(tries, w => scorer.Score(w, ranking, share), options);
            if (score.Objective > bestScore.Objective)
            {
                (best, bestScore) = (w, score);
            }
        }

        // Each varied source in turn: every alternative at every non-zero level in its place, the others as chosen.
        var chosen = new int?[variants?.Count ?? 0];
        var offset = sources.Count;
        for (var v = 0; v < chosen.Length; v++)
        {
            var (source, alternatives) = variants![v];
            var tries = new List<double[]>();
            for (var a = 0; a < alternatives.Count; a++)
            {
                foreach (var level in levels.Where(l => l > 0))
                {
                    var w = (double[])best.Clone();
                    w[source] = 0;
                    w[offset + a] = level;
                    tries.Add(w);
                }
            }

            var (w2, score) = BestOf(tries, w => scorer.Score(w, ranking, share), options);
            if (score.Objective > bestScore.Objective)
            {
                var a = Array.FindIndex(w2, offset, x => x > 0) - offset;
                chosen[v] = a;
                w2[source] = w2[offset + a];
                w2[offset + a] = 0;
                (best, bestScore) = (w2, score);
                scorer.Substitute(source, offset + a);
            }

            offset += alternatives.Count;
        }

        // The split again, under the weights and sources the last steps chose.
        if (discoveryShares is { Count: > 1 })
        {
            (share, bestScore) = ChooseShare(discoveryShares, ranking, share, bestScore);
        }

        var alone = new double[sources.Count];
        for (var s = 0; s < sources.Count; s++)
        {
            var only = new double[all.Length];
            only[s] = 1;
            alone[s] = scorer.Score(only, ranking).Ndcg;
        }

        return new BlendTuningResult(best[..sources.Count], bestScore.Ndcg, bestScore.Hits, alone, cases.Count)
        {
            Ranking = ranking,
            NewHitRate = bestScore.NewHits,
            Variants = chosen,
            DiscoveryShare = share,
        };

        // Each split with the weights as they are and with each source's weight alone over the levels: a split needs a
        // source that proposes new items, which the weights chosen without it may have left at 0 (each alone is the
        // same coordinate step as the weights', done per split).
        (double Share, Metrics Score) ChooseShare(IReadOnlyList<double> shares, PersonalRanking? under, double current, Metrics currentScore)
        {
            var tries = new List<(double Share, double[] Weights)>();
            foreach (var split in shares)
            {
                tries.Add((split, best));
                for (var s = 1; s < sources.Count; s++)
                {
                    foreach (var level in levels)
                    {
                        var w = (double[])best.Clone();
                        w[s] = level;
                        tries.Add((split, w));
                    }
                }
            }

            var (chosen, score) = BestOf(tries, t => scorer.Score(t.Weights, under, t.Share), options);
            if (score.Objective > currentScore.Objective)
            {
                best = chosen.Weights;
                return (chosen.Share, score);
            }

            return (current, currentScore);
        }
    }

    // The candidate with the best NDCG (ties: the earlier one), scored in parallel.
    private static (T Best, Metrics Score) BestOf<T>(IReadOnlyList<T> candidates, Func<T, Metrics> score, ParallelOptions options)
    {
        var results = new Metrics[candidates.Count];
        Parallel.For(0, candidates.Count, options, i => results[i] = score(candidates[i]));
        var best = 0;
        for (var i = 1; i < candidates.Count; i++)
        {
            if (results[i].Objective > results[best].Objective)
            {
                best = i;
            }
        }

        return (candidates[best], results[best]);
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

    private readonly record struct Metrics(double Ndcg, double Hits, double NewHits, double Objective);

    // One validation case made dense, so a weighting is scored without a dictionary or an allocation per item: the union
    // of the sources' candidates, each source's normalised score of each (0 where it did not propose it) and a bit per
    // source that did, the items' ordinal order (the blender's tie-break), her share of each item's top-level category
    // and a small index of that category (-1: unknown, never capped), which of them is her top category, and the targets.
    private sealed class PreparedCase
    {
        public required double[][] Scores { get; init; }

        public required int[] Proposed { get; init; }

        public required int[] Order { get; init; }

        public required double[] Share { get; init; }

        public required int[] Category { get; init; }

        public required int Favourite { get; init; }

        public required bool Personal { get; init; }

        public required bool[] Relevant { get; init; }

        public required bool[] Seen { get; init; }

        public required double Ideal { get; init; }

        public required bool New { get; init; }

        public static PreparedCase Of(ValidationCase c, ICandidateSource[] sources, int pool, int k, ItemCatalog? catalog)
        {
            var request = c.Request;
            var excluded = request.ExcludedItems;
            var bought = request.History.Where(x => x.Type == EventType.Purchase).Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal);
            bool Allowed(string item) => !excluded.Contains(item) && !bought.Contains(item) && item != request.ContextItemId;
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            var perSource = new List<(int Item, double Score)>[sources.Length];
            for (var s = 0; s < sources.Length; s++)
            {
                perSource[s] = [];
                var candidates = sources[s].GetCandidates(request, pool, Allowed);
                if (candidates.Count == 0 || candidates[0].Score <= 0)
                {
                    continue;
                }

                foreach (var candidate in candidates)
                {
                    if (!index.TryGetValue(candidate.ItemId, out var i))
                    {
                        index.Add(candidate.ItemId, i = index.Count);
                    }

                    perSource[s].Add((i, candidate.Score / candidates[0].Score));
                }
            }

            var n = index.Count;
            var items = new string[n];
            foreach (var (item, i) in index)
            {
                items[i] = item;
            }

            var scores = new double[sources.Length][];
            var proposed = new int[n];
            for (var s = 0; s < sources.Length; s++)
            {
                scores[s] = new double[n];
                foreach (var (i, score) in perSource[s])
                {
                    scores[s][i] = score;
                    proposed[i] |= 1 << s;
                }
            }

            var byId = Enumerable.Range(0, n).ToArray();
            Array.Sort(byId, (a, b) => string.CompareOrdinal(items[a], items[b]));
            var order = new int[n];
            for (var r = 0; r < n; r++)
            {
                order[byId[r]] = r;
            }

            var affinities = request.CategoryAffinities;
            var categories = new Dictionary<string, int>(StringComparer.Ordinal);
            var share = new double[n];
            var category = new int[n];
            for (var i = 0; i < n; i++)
            {
                var full = catalog?.CategoryOf(items[i]) ?? "";
                share[i] = PersonalRanking.ShareOf(affinities, full);
                if (full.Length == 0)
                {
                    category[i] = -1;
                    continue;
                }

                var top = ItemCatalog.Truncate(full, 1);
                if (!categories.TryGetValue(top, out var id))
                {
                    categories.Add(top, id = categories.Count);
                }

                category[i] = id;
            }

            var ideal = 0.0;
            for (var rank = 0; rank < Math.Min(k, c.Relevant.Count); rank++)
            {
                ideal += 1 / Math.Log2(rank + 2);
            }

            return new PreparedCase
            {
                Scores = scores,
                Proposed = proposed,
                Order = order,
                Share = share,
                Category = category,
                Favourite = affinities.Count > 0 && categories.TryGetValue(affinities[0].Category, out var favourite) ? favourite : -1,
                Personal = affinities.Count > 0,
                Relevant = [.. items.Select(c.Relevant.Contains)],
                Seen = [.. items.Select(request.History.Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal).Contains)],
                Ideal = ideal,
                New = c.AsksNext && !request.History.Any(x => c.Relevant.Contains(x.ItemId)),
            };
        }
    }

    // NDCG@k, hit rate@k and hit rate on targets new to her of one weighting and ranking, each case ranked as the
    // blender ranks it: score descending at ranking precision, then item id (ordinal); a case with affinities under a
    // ranking goes through that ranking's rules as PersonalRanking.Rank applies them (boost, per-category cap, her top
    // category's best taking the last place when none made the list). Thread-safe: each call has its own buffers.
    private sealed class Scorer(PreparedCase[] cases, int k, double discovery)
    {
        // Scores one source's column under another's (a chosen alternative takes the varied source's place).
        public void Substitute(int source, int alternative)
        {
            foreach (var c in cases)
            {
                c.Scores[source] = c.Scores[alternative];
                for (var i = 0; i < c.Proposed.Length; i++)
                {
                    c.Proposed[i] = (c.Proposed[i] & ~(1 << source)) | (((c.Proposed[i] >> alternative) & 1) << source);
                }
            }
        }

        public Metrics Score(IReadOnlyList<double> weights, PersonalRanking? ranking, double discoveryShare = 0)
        {
            if (cases.Length == 0)
            {
                return new Metrics(0, 0, double.NaN, 0);
            }

            var active = 0;
            for (var s = 0; s < weights.Count; s++)
            {
                active |= weights[s] > 0 ? 1 << s : 0;
            }

            double ndcg = 0, hits = 0, newHits = 0;
            var newCases = 0;
            var rank = new double[64];
            var ids = new int[64];
            var deferred = new int[64];
            var maxReminders = BlendOptions.MaxReminders(discoveryShare, k);
            var perCategory = new int[16];
            foreach (var c in cases)
            {
                var n = c.Order.Length;
                if (rank.Length < n)
                {
                    rank = new double[n];
                    ids = new int[n];
                    deferred = new int[n];
                }

                var personal = ranking is not null && c.Personal;
                var m = 0;
                for (var i = 0; i < n; i++)
                {
                    if ((c.Proposed[i] & active) == 0)
                    {
                        continue;
                    }

                    var score = 0.0;
                    for (var s = 0; s < weights.Count; s++)
                    {
                        if (weights[s] > 0)
                        {
                            score += weights[s] * c.Scores[s][i];
                        }
                    }

                    if (personal && ranking!.AffinityBoost > 0 && c.Share[i] > 0)
                    {
                        score *= 1 + (ranking.AffinityBoost * c.Share[i]);
                    }

                    rank[i] = Internal.TopK<byte>.Rank(score);
                    ids[m++] = i;
                }

                var order = c.Order;
                var ranks = rank;
                Array.Sort(ids, 0, m, Comparer<int>.Create((a, b) =>
                {
                    var x = ranks[b].CompareTo(ranks[a]);
                    return x != 0 ? x : order[a].CompareTo(order[b]);
                }));

                // The first k of the ranking as served: in order, or capped per category with her top category's place;
                // reminders (items in her history) past the discovery split's bound are passed over, and fill the places
                // too few new items leave, in rank order, after the rest (RecommendationBlender.Recommend).
                var dcg = 0.0;
                var reminders = 0;
                var passedOver = 0;
                var kept = 0;
                if (!personal)
                {
                    for (var r = 0; r < m && kept < k; r++)
                    {
                        var i = ids[r];
                        if (c.Seen[i] && reminders >= maxReminders)
                        {
                            deferred[passedOver++] = i;
                            continue;
                        }

                        dcg += c.Relevant[i] ? 1 / Math.Log2(kept + 2) : 0;
                        kept++;
                        reminders += c.Seen[i] ? 1 : 0;
                    }
                }
                else
                {
                    var cap = Math.Max(1, (int)Math.Ceiling(Math.Clamp(ranking!.MaxCategoryShare, 0, 1) * k));
                    Array.Clear(perCategory);
                    var favouriteKept = false;
                    var last = -1;
                    for (var r = 0; r < m; r++)
                    {
                        var i = ids[r];
                        var category = c.Category[i];
                        if (kept == k)
                        {
                            if (favouriteKept || category < 0 || category != c.Favourite || (c.Seen[i] && reminders >= maxReminders))
                            {
                                continue;
                            }

                            // Her top category's best takes the last place instead of the item there.
                            dcg += (c.Relevant[i] ? 1.0 : 0.0) / Math.Log2(k + 1) - (c.Relevant[last] ? 1.0 : 0.0) / Math.Log2(k + 1);
                            break;
                        }

                        if (category >= 0)
                        {
                            if (category >= perCategory.Length)
                            {
                                Array.Resize(ref perCategory, 2 * category + 2);
                            }

                            if (perCategory[category] >= cap)
                            {
                                continue;
                            }
                        }

                        if (c.Seen[i] && reminders >= maxReminders)
                        {
                            deferred[passedOver++] = i;
                            continue;
                        }

                        if (category >= 0)
                        {
                            perCategory[category]++;
                        }

                        dcg += c.Relevant[i] ? 1 / Math.Log2(kept + 2) : 0;
                        kept++;
                        reminders += c.Seen[i] ? 1 : 0;
                        last = i;
                        favouriteKept |= category >= 0 && category == c.Favourite;
                    }
                }

                for (var d = 0; d < passedOver && kept < k; d++)
                {
                    dcg += c.Relevant[deferred[d]] ? 1 / Math.Log2(kept + 2) : 0;
                    kept++;
                }

                ndcg += c.Ideal > 0 ? dcg / c.Ideal : 0;
                hits += dcg > 0 ? 1 : 0;
                if (c.New)
                {
                    newCases++;
                    newHits += dcg > 0 ? 1 : 0;
                }
            }

            var newHitRate = newCases == 0 ? double.NaN : newHits / newCases;
            return new Metrics(ndcg / cases.Length, hits / cases.Length, newHitRate, (ndcg / cases.Length) + (newCases == 0 ? 0 : discovery * newHitRate));
        }
    }
}
