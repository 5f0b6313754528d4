using Segmentation.Core.Recommendations.Internal;
namespace Segmentation.Core.Recommendations;

/// <summary>A candidate source and the weight of its (normalised) scores in the blend.</summary>
/// <param name="Source">The source.</param>
/// <param name="Weight">Its weight (&gt; 0); a source's best candidate contributes exactly this much.</param>
public sealed record BlendedSource(ICandidateSource Source, double Weight);

/// <summary>Rules of a <see cref="RecommendationBlender"/>. Immutable.</summary>
public sealed record BlendOptions
{
    /// <summary>Candidates asked of each source: at least this many, and at least 3 × the requested count.</summary>
    public int MinPoolSize { get; init; } = 50;

    /// <summary>Category prefixes whose items may be recommended again after a purchase (consumables: "grocery", "beauty.soap").</summary>
    public IReadOnlyList<string> RepurchasableCategories { get; init; } = [];

    /// <summary>Category prefixes never recommended (out of scope for this placement).</summary>
    public IReadOnlyList<string> ExcludedCategories { get; init; } = [];

    /// <summary>Most items per category in one response (0: no cap). Items of unknown category are not capped.</summary>
    public int MaxPerCategory { get; init; }

    /// <summary>Levels of the dotted category path that define "a category" for the cap (1: "home" for "home.kitchen.mugs").</summary>
    public int CategoryDepth { get; init; } = 1;

    /// <summary>
    /// How the shopper's category affinities rank and fill the list (<see cref="PersonalRanking"/>); null: not
    /// personalised (the request's affinities are ignored by every source).
    /// </summary>
    public PersonalRanking? Personalization { get; init; }

    /// <summary>
    /// Share [0, 1] of a response's places kept for items new to her (none in <see cref="RecommendationRequest.History"/>):
    /// at most <c>count − floor(DiscoveryShare · count)</c> items she has interacted with (reminders) are kept, in rank
    /// order; the places this leaves go to the best-ranked new items, and to the reminders passed over only when too few
    /// new items were proposed. 0 (the default): no split.
    /// </summary>
    public double DiscoveryShare { get; init; }

    /// <summary>The most reminders (items in her history) a list of <paramref name="count"/> items holds under <see cref="DiscoveryShare"/>.</summary>
    public static int MaxReminders(double discoveryShare, int count) =>
        count - (int)Math.Floor(Math.Clamp(double.IsFinite(discoveryShare) ? discoveryShare : 0, 0, 1) * count);
}

/// <summary>
/// Blends candidate sources into one ranked, filtered, explained list.
/// <para>
/// Each source's scores are divided by its best score, so every source speaks on a 0..1 scale, then multiplied by
/// the source's weight; an item's blended score is the sum over sources, and its reason is the one of the source
/// that contributed most (the earlier source on a tie). Rules, applied before ranking so they never leave a hole:
/// items in <see cref="RecommendationRequest.ExcludedItems"/>, the context item, items the user purchased (unless in
/// a repurchasable category) and items in excluded categories are never returned. Ranking is score descending, then
/// item id (ordinal): the same request on the same state gives the same answer. Finally at most
/// <see cref="BlendOptions.MaxPerCategory"/> items per category are kept, in rank order. A personalised blender
/// (<see cref="BlendOptions.Personalization"/>) given the shopper's category affinities boosts, caps and fills by them
/// first (<see cref="PersonalRanking"/>). With a <see cref="BlendOptions.DiscoveryShare"/>, the items she already
/// interacted with (reminders: "you viewed it", "in your cart") fill at most their share of the list, so the rest shows
/// her something new.
/// </para>
/// <para>
/// Cold start falls out of the sources: without history only popularity (by segment, then everyone) and, with a
/// context item, its similar items have anything to say. Thread-safe when the sources are (all of ours are).
/// </para>
/// </summary>
public sealed class RecommendationBlender
{
    private readonly BlendedSource[] _sources;

    // Each source's unsorted query where it has one (null where not): the blend reads a source's set and its best only.
    private readonly IUnorderedCandidateSource?[] _unordered;

    // Each source that can owe its reasons (null where not): asked that way, it makes a reason only for an item shown
    // with it.
    private readonly IReasonOwingSource?[] _owing;
    private readonly ItemCatalog _catalog;
    private readonly BlendOptions _options;
    private readonly Func<Blended, string> _categoryOf;
    private readonly Func<Blended, Recommendation> _recommendation;

    /// <summary>A blender over <paramref name="sources"/>, in priority order for tied reasons.</summary>
    public RecommendationBlender(IEnumerable<BlendedSource> sources, ItemCatalog catalog, BlendOptions? options = null)
    {
        _sources = [.. sources];
        foreach (var s in _sources)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.Weight, nameof(sources));
        }

        _unordered = [.. _sources.Select(s => s.Source as IUnorderedCandidateSource)];
        _owing = [.. _sources.Select(s => s.Source as IReasonOwingSource)];
        _catalog = catalog;
        _options = options ?? new BlendOptions();
        _categoryOf = b => b.CategoryIn(_catalog);
        _recommendation = b => b.ToRecommendation(_catalog);
    }

    /// <summary>Up to <see cref="RecommendationRequest.Count"/> recommendations, best first, each with its reason.</summary>
    public IReadOnlyList<Recommendation> Recommend(RecommendationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Count <= 0)
        {
            return [];
        }

        var personal = _options.Personalization;
        if (personal is null && request.CategoryAffinities.Count > 0)
        {
            request = request with { CategoryAffinities = [] };
        }

        var scratch = PerThread<BlendScratch>.Take();
        try
        {
            return Recommend(request, personal, scratch);
        }
        finally
        {
            scratch.Clear();
            PerThread<BlendScratch>.Keep(scratch);
        }
    }

    private List<Recommendation> Recommend(RecommendationRequest request, PersonalRanking? personal, BlendScratch scratch)
    {
        var allowed = Filter(request, scratch.Bought);
        var pool = Math.Max(_options.MinPoolSize, 3 * request.Count);
        // Sized for every source's pool at once: no rehash while blending (candidates rarely overlap much).
        var blend = scratch.Blend;
        blend.EnsureCapacity(_sources.Length * pool);
        var owedReasons = scratch.OwedFor(_sources.Length);
        for (var i = 0; i < _sources.Length; i++)
        {
            var (source, weight) = _sources[i];
            var unordered = _unordered[i];
            // An owing source's candidates come without reasons (null): each entry that takes its reason from one keeps
            // where it is owed instead, and asks for it only if the entry is shown (ToRecommendation).
            var owed = _owing[i] is null ? null : owedReasons[i];
            var rented = owed is not null ? _owing[i]!.GetCandidatesOwingReasons(request, pool, allowed, owed)
                : unordered?.GetUnorderedCandidates(request, pool, allowed) ?? ArraySegment<Candidate>.Empty;
            var candidates = unordered is not null ? rented.AsSpan() : AsArray(source.GetCandidates(request, pool, allowed));
            if (candidates.Length == 0)
            {
                continue;
            }

            var top = unordered is not null ? LeaderScore(candidates) : candidates[0].Score;
            if (top <= 0)
            {
                RentedCandidates.Return(rented);
                continue;
            }

            foreach (var c in candidates)
            {
                var contribution = weight * c.Score / top;
                // One lookup per candidate, the entry updated in place.
                ref var current = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(blend, c.ItemId, out var blended);
                if (blended)
                {
                    current = Internal.TopK<byte>.Rank(contribution) > Internal.TopK<byte>.Rank(current.Best)
                        ? (current.Score + contribution, contribution, c.Reason, owed, current.Category ?? c.Category)
                        : (current.Score + contribution, current.Best, current.Reason, current.OwedBy, current.Category ?? c.Category);
                }
                else
                {
                    current = (contribution, contribution, c.Reason, owed, c.Category);
                }
            }

            RentedCandidates.Return(rented);
        }

        // Each item's entry made once, with its personal boost already applied when the placement personalises; a
        // Recommendation is made only of the items kept (about 10 of the 200 or so blended). Without a boost the order
        // does not depend on categories, so an item's is looked up only when the ranking reaches it (about 15 items),
        // not for every item blended.
        var boost = personal is not null && request.CategoryAffinities.Count > 0 && personal.AffinityBoost > 0 ? personal : null;
        var ranked = scratch.Ranked;
        var keys = scratch.KeysFor(blend.Count);
        foreach (var (item, (score, _, reason, owedBy, known)) in blend)
        {
            // A source that knew the item's category handed it on (popularity's rankings read it): no lookup for it.
            var category = boost is null ? known : known ?? _catalog.CategoryOf(item);
            var boosted = boost is null ? score : boost.Boosted(score, category!, request.CategoryAffinities);
            var rank = Internal.TopK<byte>.Rank(boosted);
            keys[ranked.Count] = new RankKey(rank, ranked.Count);
            ranked.Add(new Blended(item, boosted, rank, category, reason, reason is null ? owedBy : null));
        }

        // Sorted by keys that hold no reference (rank, place in `ranked`), then laid out once in that order: sorting the
        // entries themselves moved three references per entry through the write barrier at every step of the sort,
        // about as much as the sort's own work in a profile of the miss.
        var sorted = scratch.SortedFor(ranked.Count);
        SortByRankThenId(keys, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ranked), sorted);

        var perCategory = scratch.PerCategory;

        // The discovery split: reminders past their share are passed over (kept aside, in rank order, for places too few
        // new items would leave empty).
        var maxReminders = BlendOptions.MaxReminders(_options.DiscoveryShare, request.Count);
        HashSet<string>? seen = null;
        if (maxReminders < request.Count && request.History.Count > 0)
        {
            seen = scratch.Seen;
            foreach (var x in request.HistorySpan())
            {
                seen.Add(x.ItemId);
            }
        }

        var reminders = 0;
        List<Blended>? passedOver = null;
        bool Admit(Blended r)
        {
            var reminder = seen is not null && seen.Contains(r.ItemId);
            if (reminder && reminders >= maxReminders)
            {
                (passedOver ??= []).Add(r);
                return false;
            }

            if (!AdmitInPlacement(r))
            {
                return false;
            }

            reminders += reminder ? 1 : 0;
            return true;
        }

        bool AdmitInPlacement(Blended r)
        {
            if (_options.MaxPerCategory <= 0)
            {
                return true;
            }

            var category = r.CategoryIn(_catalog);
            if (category.Length == 0)
            {
                return true;
            }

            var key = ItemCatalog.Truncate(category, _options.CategoryDepth);
            var n = perCategory.GetValueOrDefault(key);
            if (n >= _options.MaxPerCategory)
            {
                return false;
            }

            perCategory[key] = n + 1;
            return true;
        }

        List<Recommendation> result;
        if (personal is not null && request.CategoryAffinities.Count > 0)
        {
            result = personal.RankSorted(sorted, _categoryOf, _recommendation, request.CategoryAffinities, request.Count, Admit);
        }
        else
        {
            result = new List<Recommendation>(request.Count);
            foreach (var r in sorted)
            {
                if (!Admit(r))
                {
                    continue;
                }

                result.Add(r.ToRecommendation(_catalog));
                if (result.Count == request.Count)
                {
                    break;
                }
            }
        }

        // Too few new items for the places kept for them: the reminders passed over fill them, best first, after the rest.
        foreach (var r in passedOver ?? [])
        {
            if (result.Count == request.Count)
            {
                break;
            }

            if (AdmitInPlacement(r))
            {
                result.Add(r.ToRecommendation(_catalog));
            }
        }

        return result;
    }

    private static Candidate[] AsArray(IReadOnlyList<Candidate> candidates) => candidates as Candidate[] ?? [.. candidates];

    // `blended` into `sorted` in Blended's order (rank descending, then item id ordinal), through `keys` (one per entry,
    // keys[i] = (blended[i].Rank, i)): the keys sorted by rank, then place; each run of equal ranks put in id order
    // (runs are short: equal blended scores are rare, and a run is at most the ~200 items blended), then the entries
    // copied out in the keys' order.
    private static void SortByRankThenId(Span<RankKey> keys, ReadOnlySpan<Blended> blended, Span<Blended> sorted)
    {
        keys.Sort();
        for (var start = 0; start < keys.Length;)
        {
            var end = start + 1;
            while (end < keys.Length && keys[end].Rank.CompareTo(keys[start].Rank) == 0)
            {
                end++;
            }

            // Insertion by id within the run.
            for (var i = start + 1; i < end; i++)
            {
                var key = keys[i];
                var j = i - 1;
                while (j >= start && string.CompareOrdinal(blended[keys[j].Slot].ItemId, blended[key.Slot].ItemId) > 0)
                {
                    keys[j + 1] = keys[j];
                    j--;
                }

                keys[j + 1] = key;
            }

            start = end;
        }

        for (var i = 0; i < keys.Length; i++)
        {
            sorted[i] = blended[keys[i].Slot];
        }
    }

    // The score of the candidate a sorted answer would give first (TopK's order: score at ranking precision descending,
    // then item id), so that an unsorted source's scores are divided by exactly what its sorted answer's first divided by.
    private static double LeaderScore(ReadOnlySpan<Candidate> candidates)
    {
        var leader = 0;
        var leaderRank = Internal.TopK<byte>.Rank(candidates[0].Score);
        for (var i = 1; i < candidates.Length; i++)
        {
            var rank = Internal.TopK<byte>.Rank(candidates[i].Score);
            if (rank > leaderRank || (rank == leaderRank && string.CompareOrdinal(candidates[i].ItemId, candidates[leader].ItemId) < 0))
            {
                (leader, leaderRank) = (i, rank);
            }
        }

        return candidates[leader].Score;
    }

    // Asked of every candidate every source considers (thousands per call): plain loops, so that no call allocates (a
    // lambda over `item` inside it would make a closure object per call).
    private Func<string, bool> Filter(RecommendationRequest request, HashSet<string> bought)
    {
        foreach (var x in request.HistorySpan())
        {
            if (x.Type == EventType.Purchase && !(_options.RepurchasableCategories.Count > 0 && IsInAny(_catalog.CategoryOf(x.ItemId), _options.RepurchasableCategories)))
            {
                bought.Add(x.ItemId);
            }
        }

        var excluded = request.ExcludedItems;
        var context = request.ContextItemId;
        var outOfScope = _options.ExcludedCategories;
        // Each set asked only when it holds anything: a cleared set still hashes the item to find nothing.
        var anyExcluded = excluded.Count > 0;
        var anyBought = bought.Count > 0;
        return item =>
            !(anyExcluded && excluded.Contains(item)) && !(anyBought && bought.Contains(item)) && item != context &&
            (outOfScope.Count == 0 || !IsInAny(_catalog.CategoryOf(item), outOfScope));
    }

    private static bool IsInAny(string category, IReadOnlyList<string> prefixes)
    {
        // By index: a foreach over the interface would allocate its enumerator.
        for (var i = 0; i < prefixes.Count; i++)
        {
            if (ItemCatalog.IsIn(category, prefixes[i]))
            {
                return true;
            }
        }

        return false;
    }

    // One blended item as ranked: its score at ranking precision (Rank) computed once, not at every comparison. Ranked
    // better first: score descending at ranking precision, so arrival order's rounding never decides between two items
    // (TopK.Rank), then item id (SortByRankThenId).
    // Category: null when no source handed it on and the boost did not look it up (CategoryIn looks it up).
    // Reason: null when the source that gave it owes it (OwedBy); it is made only for an item shown.
    private readonly record struct Blended(string ItemId, double Score, double Rank, string? Category, RecommendationReason? Reason, OwedReasons? OwedBy)
    {
        public string CategoryIn(ItemCatalog catalog) => Category ?? catalog.CategoryOf(ItemId);

        public Recommendation ToRecommendation(ItemCatalog catalog) => new(ItemId, Score, CategoryIn(catalog), Reason ?? OwedBy!.ReasonOf(ItemId));
    }

    // A blended entry's place in the sort: its rank (Blended.Rank), then its place in the blend's list, descending rank
    // first. Ties of rank are put in id order afterwards (SortByRankThenId).
    private readonly record struct RankKey(double Rank, int Slot) : IComparable<RankKey>
    {
        public int CompareTo(RankKey other)
        {
            var c = other.Rank.CompareTo(Rank);
            return c != 0 ? c : Slot.CompareTo(other.Slot);
        }
    }

    // The sets and dictionaries of one blend, kept per thread between blends (cleared): a Recommend made four of them.
    private sealed class BlendScratch
    {
        private RankKey[] _keys = [];
        private Blended[] _sorted = [];
        private int _sortedUsed;
        private OwedReasons[] _owed = [];

        // Room for `count` keys (grown, never shrunk: they hold no reference).
        public Span<RankKey> KeysFor(int count)
        {
            if (_keys.Length < count)
            {
                _keys = new RankKey[Math.Max(count, 2 * _keys.Length)];
            }

            return _keys.AsSpan(0, count);
        }

        // One per source (of `count`), each holding what its source's query needs to make the reasons it owes until
        // Clear gives that back.
        public OwedReasons[] OwedFor(int count)
        {
            if (_owed.Length < count)
            {
                var more = new OwedReasons[count];
                _owed.CopyTo(more, 0);
                for (var i = _owed.Length; i < count; i++)
                {
                    more[i] = new OwedReasons();
                }

                _owed = more;
            }

            return _owed;
        }

        // Room for `count` entries in rank order; cleared by Clear (they hold ids and reasons).
        public Span<Blended> SortedFor(int count)
        {
            if (_sorted.Length < count)
            {
                _sorted = new Blended[Math.Max(count, 2 * _sorted.Length)];
            }

            _sortedUsed = count;
            return _sorted.AsSpan(0, count);
        }

        // Reason: null where the source that contributed Best owes it (OwedBy).
        public Dictionary<string, (double Score, double Best, RecommendationReason? Reason, OwedReasons? OwedBy, string? Category)> Blend { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Bought { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, int> PerCategory { get; } = new(StringComparer.Ordinal);

        public List<Blended> Ranked { get; } = [];

        public void Clear()
        {
            foreach (var owed in _owed)
            {
                owed.Clear();
            }

            _sorted.AsSpan(0, _sortedUsed).Clear();
            _sortedUsed = 0;
            Ranked.Clear();
            Blend.Clear();
            Bought.Clear();
            Seen.Clear();
            PerCategory.Clear();
        }
    }
}
