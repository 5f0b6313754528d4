using System.Buffers;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// How a personalised placement ranks with the shopper's decayed category affinities
/// (<see cref="RecommendationRequest.CategoryAffinities"/>, top-level categories). Immutable.
/// <para>
/// <b>Re-ranking.</b> Each blended score is multiplied by <c>1 + AffinityBoost · share</c>, where share is her
/// affinity share of the item's top-level category (0 for a category she never engaged with), so among similar
/// scores her categories come first while a strong signal from elsewhere (bought with her item) still wins.
/// </para>
/// <para>
/// <b>Diversity: per-category caps</b> (not maximal marginal relevance: a cap is one count per category, needs no
/// item-item similarity at ranking time, and its effect is easy to state). At most
/// <c>ceil(MaxCategoryShare · count)</c> items of one top-level category are kept, in rank order; and when her top
/// category has candidates but none made the list, its best candidate takes the last place. So her top category is
/// represented without filling the list. Items of unknown category are never capped.
/// </para>
/// </summary>
public sealed record PersonalRanking
{
    /// <summary>How many of her top-level categories a request carries (the largest affinities).</summary>
    public const int MaxCategories = 8;

    /// <summary>Multiplier of her category share in the re-ranking boost (0: no boost).</summary>
    public double AffinityBoost { get; init; } = 1;

    /// <summary>Largest share (0..1] of one response that one top-level category may fill (1: no cap).</summary>
    public double MaxCategoryShare { get; init; } = 0.5;

    /// <summary>How many of her top categories feed popularity candidates (<see cref="PersonalPopularity"/>).</summary>
    public int TopCategories { get; init; } = 3;

    /// <summary>Her share of <paramref name="category"/>'s top-level category (0 when none, or the category is unknown).</summary>
    public static double ShareOf(IReadOnlyList<CategoryAffinity> affinities, string category)
    {
        if (category.Length == 0 || affinities.Count == 0)
        {
            return 0;
        }

        var dot = category.IndexOf('.', StringComparison.Ordinal);
        var top = dot < 0 ? category.AsSpan() : category.AsSpan(0, dot);
        foreach (var a in affinities)
        {
            if (top.SequenceEqual(a.Category))
            {
                return a.Share;
            }
        }

        return 0;
    }

    /// <summary>
    /// <paramref name="ranked"/> (blended, any order) boosted by her affinities, sorted, capped per top-level category and
    /// cut to <paramref name="count"/> items, with her top category represented (see the type's remarks).
    /// <paramref name="admit"/>, when given, is the placement's own rule, asked (once) of each item about to be kept.
    /// </summary>
    public List<Recommendation> Rank(List<Recommendation> ranked, IReadOnlyList<CategoryAffinity> affinities, int count, Comparison<Recommendation> order, Func<Recommendation, bool>? admit = null)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(affinities);
        if (AffinityBoost > 0)
        {
            for (var i = 0; i < ranked.Count; i++)
            {
                var boosted = Boosted(ranked[i].Score, ranked[i].Category, affinities);
                if (boosted != ranked[i].Score)
                {
                    ranked[i] = ranked[i] with { Score = boosted };
                }
            }
        }

        ranked.Sort(order);
        return RankSorted(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ranked), static r => r.Category, static r => r, affinities, count, admit);
    }

    /// <summary>
    /// <paramref name="score"/> of an item of <paramref name="category"/> boosted by her share of its top-level category
    /// (<c>score · (1 + AffinityBoost · share)</c>; unchanged when she has no share of it, or without a boost).
    /// </summary>
    internal double Boosted(double score, string category, IReadOnlyList<CategoryAffinity> affinities)
    {
        if (AffinityBoost <= 0)
        {
            return score;
        }

        var share = ShareOf(affinities, category);
        return share > 0 ? score * (1 + (AffinityBoost * share)) : score;
    }

    // Rank without the boost or the sort, over items of any shape: the blender boosts and sorts its own entries and
    // makes a Recommendation (`make`) only of those kept, not of every item blended.
    internal List<Recommendation> RankSorted<T>(
        ReadOnlySpan<T> sorted, Func<T, string> categoryOf, Func<T, Recommendation> make, IReadOnlyList<CategoryAffinity> affinities, int count, Func<T, bool>? admit)
    {
        var cap = (int)Math.Ceiling(Math.Clamp(MaxCategoryShare, 0, 1) * count);
        var result = new List<Recommendation>(count);

        // Counted by top-level category: each kept one as the first category string of it kept, the length of its top
        // level, and its count, compared as spans (no substring per ranked item). At most one per kept item (ten, a
        // handful of categories): a short scan, not a dictionary made per call (its arrays were a twentieth of the bytes
        // a Recommend allocated).
        var keptCategories = ArrayPool<string>.Shared.Rent(Math.Max(1, count));
        Span<int> keptTopLengths = count <= 256 ? stackalloc int[count] : new int[count];
        Span<int> keptCounts = count <= 256 ? stackalloc int[count] : new int[count];
        try
        {
            RankSorted(sorted, categoryOf, make, affinities, count, admit, cap, result, keptCategories, keptTopLengths, keptCounts);
        }
        finally
        {
            // Back without the categories it held (the pool must not keep them alive).
            keptCategories.AsSpan(0, Math.Min(count, keptCategories.Length)).Clear();
            ArrayPool<string>.Shared.Return(keptCategories);
        }

        return result;
    }

    // RankSorted's walk into `result`, its per-category counts in the three spans (at most one category per kept item).
    private static void RankSorted<T>(
        ReadOnlySpan<T> sorted, Func<T, string> categoryOf, Func<T, Recommendation> make, IReadOnlyList<CategoryAffinity> affinities, int count, Func<T, bool>? admit,
        int cap, List<Recommendation> result, string[] keptCategories, Span<int> keptTopLengths, Span<int> keptCounts)
    {
        var distinct = 0;
        var favourite = affinities.Count > 0 ? affinities[0].Category : null;
        var bestOfFavourite = default(T);
        var favouriteFound = false;
        var favouriteKept = false;
        foreach (var r in sorted)
        {
            // Full, with her top category in it (or without one to look for): no later item can change the list, and
            // walking the ~200 blended items left for nothing was most of this loop's work.
            if (result.Count == count && (favouriteKept || favourite is null))
            {
                break;
            }

            var category = categoryOf(r);
            var dot = category.IndexOf('.', StringComparison.Ordinal);
            var top = dot < 0 ? category.AsSpan() : category.AsSpan(0, dot);
            var isFavourite = favourite is not null && top.SequenceEqual(favourite);
            if (result.Count == count)
            {
                if (favouriteKept || !isFavourite || (admit is not null && !admit(r)))
                {
                    continue;
                }

                bestOfFavourite = r;
                favouriteFound = true;
                break;
            }

            var slot = -1;
            if (top.Length > 0)
            {
                for (var k = 0; k < distinct; k++)
                {
                    if (keptCategories[k].AsSpan(0, keptTopLengths[k]).SequenceEqual(top))
                    {
                        slot = k;
                        break;
                    }
                }
            }

            var n = slot >= 0 ? keptCounts[slot] : 0;
            if ((top.Length > 0 && n >= Math.Max(1, cap)) || (admit is not null && !admit(r)))
            {
                continue;
            }

            if (slot >= 0)
            {
                keptCounts[slot] = n + 1;
            }
            else if (top.Length > 0)
            {
                (keptCategories[distinct], keptTopLengths[distinct], keptCounts[distinct]) = (category, top.Length, 1);
                distinct++;
            }

            result.Add(make(r));
            favouriteKept |= isFavourite;
        }

        // Her top category had candidates but none made the list: its best takes the last place (its score is below
        // every kept item's, so the list stays in rank order).
        if (favouriteFound && result.Count > 0)
        {
            result[^1] = make(bestOfFavourite!);
        }
    }
}
