using Segmentation.Core.Recommendations.Internal;
namespace Segmentation.Core.Recommendations;

/// <summary>
/// Popularity de-biased towards the shopper's own categories: a candidate source over <see cref="SegmentPopularity"/>
/// that, for a request with <see cref="RecommendationRequest.CategoryAffinities"/>, scores an item's popularity (relative
/// to its key's leader, as the inner source does) times her share of its top-level category over her top category's
/// share, taking candidates from her top <see cref="PersonalRanking.TopCategories"/> categories first; items of other
/// categories keep <see cref="OutsideWeight"/> of their score, and so at least do those of her categories. Without affinities (anonymous, or a placement that does not
/// personalise) it is the inner source unchanged.
/// </summary>
/// <remarks>
/// Why this and not inverse propensity: on a shop, raw popularity is a mix of "everyone buys it" and "her kind of
/// thing"; dividing by propensity would promote the tail of categories she never visits as much as hers, while
/// weighting by her own decayed category shares keeps head items of her categories and pushes down head items of the
/// others, which is the bias that made every shopper get the same ten items. Co-occurrence is already normalised
/// (Jaccard: a pair's count over the union of the two items' counts), so a head item does not win "bought with" by
/// being bought with everything. Reasons stay the inner source's ("popular with active shoppers"), which remain true.
/// Thread-safe as the inner source is.
/// </remarks>
/// <param name="popularity">The popularity it re-weighs.</param>
/// <param name="catalog">The items' categories.</param>
/// <param name="ranking">Her top categories' count.</param>
/// <param name="outsideWeight">The share of its score an item outside her top categories keeps (default <see cref="OutsideWeight"/>).</param>
/// <param name="newItemsOnly">Propose only items she has not interacted with ("continue where you left off" is recency's; popularity is for discovery).</param>
public sealed class PersonalPopularity(SegmentPopularity popularity, ItemCatalog catalog, PersonalRanking ranking, double outsideWeight = PersonalPopularity.OutsideWeight, bool newItemsOnly = false) : IUnorderedCandidateSource
{
    /// <summary>The share of its score an item outside her top categories keeps, by default.</summary>
    public const double OutsideWeight = 0.1;

    /// <summary>The same source over the same popularity, with other settings.</summary>
    public PersonalPopularity With(double outside, bool newOnly) => new(popularity, catalog, ranking, outside, newOnly);

    private static readonly Func<string, double, (RecommendationReason Reason, string Category), Candidate> s_candidate =
        static (id, score, value) => new Candidate(id, score, value.Reason);

    private static readonly Func<string, double, (RecommendationReason Reason, string Category), Candidate> s_candidateWithCategory =
        static (id, score, value) => new Candidate(id, score, value.Reason) { Category = value.Category };

    /// <inheritdoc/>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        RentedCandidates.Owned(GetCandidates(request, count, allowed, sorted: true));

    ArraySegment<Candidate> IUnorderedCandidateSource.GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        GetCandidates(request, count, allowed, sorted: false);

    private ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted)
    {
        ArgumentNullException.ThrowIfNull(request);

        var scratch = PerThread<Scratch>.Take();
        try
        {
            return GetCandidates(request, count, allowed, sorted, scratch);
        }
        finally
        {
            scratch.Seen.Clear();
            scratch.Offered.Clear();
            PerThread<Scratch>.Keep(scratch);
        }
    }

    private ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted, Scratch scratch)
    {
        if (newItemsOnly && request.History.Count > 0)
        {
            var seen = scratch.Seen;
            foreach (var x in request.HistorySpan())
            {
                seen.Add(x.ItemId);
            }

            var inner = allowed;
            allowed = item => !seen.Contains(item) && inner(item);
        }

        var affinities = request.CategoryAffinities;
        if (affinities.Count == 0 || affinities[0].Share <= 0)
        {
            return popularity.GetCandidates(request, count, allowed, sorted);
        }

        var top = new CategoryAffinity[Math.Min(affinities.Count, Math.Max(1, ranking.TopCategories))];
        for (var i = 0; i < top.Length; i++)
        {
            top[i] = affinities[i];
        }

        var leader = top[0].Share;
        double Share(string item) => ShareOf(catalog.CategoryOf(item));
        double ShareOf(string category)
        {
            foreach (var a in top)
            {
                if (ItemCatalog.IsIn(category, a.Category))
                {
                    return a.Share;
                }
            }

            return 0;
        }

        // Her categories' popular items, then everyone's (from the same walk of each key's ranking); each item keeps its
        // first score, re-weighed by her share of its category.
        var (everyone, hers) = popularity.GetRentedCandidates(request, count, allowed, item => Share(item) > 0, TopLevelCategories(top));
        var best = new Internal.TopK<(RecommendationReason, string)>(count);
        var offered = scratch.Offered;
        // Both lists rented (unsorted answers): given back once read.
        foreach (var list in (ReadOnlySpan<ArraySegment<Candidate>>)[hers, everyone])
        {
            foreach (var c in list.AsSpan())
            {
                if (!offered.Add(c.ItemId))
                {
                    continue;
                }

                // A category of hers keeps at least what a category she never visits keeps: her second and third
                // categories (often a few percent of her interactions) must not rank below every other category's items.
                // The category popularity's ranking read, where it could; the catalog's otherwise.
                var category = c.Category ?? catalog.CategoryOf(c.ItemId);
                var score = c.Score * Math.Max(ShareOf(category) / leader, outsideWeight);
                if (score > 0)
                {
                    best.Offer(c.ItemId, score, (c.Reason, category));
                }
            }
        }

        RentedCandidates.Return(hers);
        RentedCandidates.Return(everyone);
        // The blender's (rented) answer carries each item's category, which it would otherwise look up again.
        return best.DrainCandidates(sorted ? s_candidate : s_candidateWithCategory, sorted, rented: !sorted);
    }

    // Her top categories whose items Share gives a positive share, when those are exactly the items of some top-level
    // categories (each affinity a distinct top-level category, as her profile reports them): popularity then reads
    // those categories' own rankings. Null otherwise (a dotted or empty category, or one twice): it walks the key's.
    private static string[]? TopLevelCategories(CategoryAffinity[] top)
    {
        var positive = 0;
        for (var i = 0; i < top.Length; i++)
        {
            var category = top[i].Category;
            if (category.Length == 0 || category.Contains('.', StringComparison.Ordinal))
            {
                return null;
            }

            for (var k = 0; k < i; k++)
            {
                if (string.Equals(top[k].Category, category, StringComparison.Ordinal))
                {
                    return null;
                }
            }

            positive += top[i].Share > 0 ? 1 : 0;
        }

        var categories = new string[positive];
        var n = 0;
        foreach (var a in top)
        {
            if (a.Share > 0)
            {
                categories[n++] = a.Category;
            }
        }

        return categories;
    }

    // The sets of one query, kept per thread between queries (cleared).
    private sealed class Scratch
    {
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Offered { get; } = new(StringComparer.Ordinal);
    }
}
