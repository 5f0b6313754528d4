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
            scratch.Clear();
            PerThread<Scratch>.Keep(scratch);
        }
    }

    private ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted, Scratch scratch)
    {
        if (newItemsOnly && request.History.Count > 0)
        {
            allowed = scratch.NewItemsOnly(request, allowed);
        }

        var affinities = request.CategoryAffinities;
        if (affinities.Count == 0 || affinities[0].Share <= 0)
        {
            return popularity.GetCandidates(request, count, allowed, sorted);
        }

        var top = scratch.HerTopCategories(affinities, Math.Max(1, ranking.TopCategories), catalog);
        var leader = top[0].Share;

        // Her categories' popular items and everyone's, from the same walk of each key's ranking, each item once,
        // re-weighed by her share of its category; the best `count` of those.
        var found = scratch.Found;
        popularity.GetCandidates(request, count, allowed, scratch.InHerCategories, TopLevelCategories(top, scratch.TopLevel), found);
        var items = found.Items;
        var keys = found.Keys;
        var scores = scratch.ScoresFor(items.Length);
        for (var i = 0; i < items.Length; i++)
        {
            // A category of hers keeps at least what a category she never visits keeps: her second and third
            // categories (often a few percent of her interactions) must not rank below every other category's items.
            var listed = Listed(items[i]);
            scores[i] = listed.Reason is null ? 0 : listed.Score * Math.Max(scratch.ShareOf(CategoryOf(items[i])) / leader, outsideWeight);
            keys[i] = scores[i] > 0 ? PopularCandidates.KeyOf(scores[i]) : PopularCandidates.Absent;
        }

        var chosen = found.ChooseBest(count);
        var best = new Internal.TopK<(RecommendationReason, string)>(count);
        for (var i = 0; i < items.Length; i++)
        {
            if (chosen[i])
            {
                // At most `count` chosen: appended, in no order until drained.
                best.Append(items[i].Id, scores[i], (Listed(items[i]).Reason!, CategoryOf(items[i])));
            }
        }

        // The blender's (rented) answer carries each item's category, which it would otherwise look up again.
        return best.DrainCandidates(sorted ? s_candidate : s_candidateWithCategory, sorted, rented: !sorted);

        // The category popularity's ranking read, where it could; the catalog's otherwise.
        string CategoryOf(in PopularCandidates.Item item) => item.Category ?? catalog.CategoryOf(item.Id);
    }

    // Her categories' list first: an item among her categories' best keeps that score (hers are relative to her
    // categories' leader), else its score among everyone's best; neither: no candidate.
    private static PopularCandidates.Listed Listed(in PopularCandidates.Item item) =>
        item.InNarrowed ? item.Narrowed : item.InAll ? item.All : default;

    // Her top categories whose items have a positive share (into `categories`), when those are exactly the items of
    // some top-level categories (each affinity a distinct top-level category, as her profile reports them): popularity
    // then reads those categories' own rankings. Null otherwise (a dotted or empty category, or one twice): it walks the key's.
    private static List<string>? TopLevelCategories(ReadOnlySpan<CategoryAffinity> top, List<string> categories)
    {
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
        }

        foreach (var a in top)
        {
            if (a.Share > 0)
            {
                categories.Add(a.Category);
            }
        }

        return categories;
    }

    // What one query keeps per thread between queries (cleared): her top categories and the filters over them, bound
    // once to this scratch (a closure and two delegates a call before), the sets and the popularity table it fills.
    private sealed class Scratch
    {
        private CategoryAffinity[] _top = new CategoryAffinity[PersonalRanking.MaxCategories];
        private int _topCount;
        private ItemCatalog? _catalog;
        private Func<string, bool>? _allowed;

        public Scratch()
        {
            InHerCategories = item => ShareOf(_catalog!.CategoryOf(item)) > 0;
            NewItems = item => !Seen.Contains(item) && _allowed!(item);
        }

        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

        public List<string> TopLevel { get; } = [];

        public PopularCandidates Found { get; } = new();

        private double[] _scores = new double[128];

        // Room for each found item's score.
        public Span<double> ScoresFor(int count)
        {
            if (_scores.Length < count)
            {
                _scores = new double[Math.Max(count, 2 * _scores.Length)];
            }

            return _scores.AsSpan(0, count);
        }

        // Whether an item's category is one of her top categories (with a positive share).
        public Func<string, bool> InHerCategories { get; }

        // `_allowed`, for items not in her history.
        private Func<string, bool> NewItems { get; }

        public Func<string, bool> NewItemsOnly(RecommendationRequest request, Func<string, bool> allowed)
        {
            foreach (var x in request.HistorySpan())
            {
                Seen.Add(x.ItemId);
            }

            _allowed = allowed;
            return NewItems;
        }

        public ReadOnlySpan<CategoryAffinity> HerTopCategories(IReadOnlyList<CategoryAffinity> affinities, int most, ItemCatalog catalog)
        {
            _topCount = Math.Min(affinities.Count, most);
            if (_top.Length < _topCount)
            {
                _top = new CategoryAffinity[_topCount];
            }

            for (var i = 0; i < _topCount; i++)
            {
                _top[i] = affinities[i];
            }

            _catalog = catalog;
            return _top.AsSpan(0, _topCount);
        }

        // Her share of `category`: that of the first of her top categories it lies in, 0 in none.
        public double ShareOf(string category)
        {
            foreach (var a in _top.AsSpan(0, _topCount))
            {
                if (ItemCatalog.IsIn(category, a.Category))
                {
                    return a.Share;
                }
            }

            return 0;
        }

        public void Clear()
        {
            Seen.Clear();
            TopLevel.Clear();
            Found.Clear();
            _top.AsSpan(0, _topCount).Clear();
            _topCount = 0;
            _catalog = null;
            _allowed = null;
        }
    }
}
