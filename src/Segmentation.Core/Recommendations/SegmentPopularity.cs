using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// restricts candidates to that category. Thread-safety: all members are safe to call concurrently (one reader-writer
/// lock: queries read side by side; recording an interaction and re-ranking a key write).
/// </para>
/// <para>
/// Cost: each key keeps its items ranked (the best <see cref="RankedItems"/>), re-ranked only after more than 1% of
/// its items have changed since, so a query walks a short list instead of the whole catalogue. Scores are always
/// read live; only which items are looked at may lag by that 1%. A category-restricted query, or one whose filter
/// rejects the whole ranked list, scans every item of the key. The same ranking also keeps each top-level category's
/// best items apart (<see cref="RankedItems"/> each), so <see cref="PersonalPopularity"/>'s "her categories" walks
/// only her categories' items instead of everyone's ranking until enough of hers turn up.
/// </para>
/// </summary>
public sealed class SegmentPopularity : IUnorderedCandidateSource
{
    /// <summary>The key under which popularity over all users is kept (its reason reads "popular with everyone").</summary>
    public const string Everyone = "";

    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly InteractionWeights _weights;
    private readonly ItemCatalog _catalog;
    private readonly double _everyoneWeight;

    // Replaced whole, under the write lock, by ReplaceWith.
    private ForwardDecay _decay;
    private Dictionary<string, SegmentTable> _segments = new(StringComparer.Ordinal);

    /// <summary>How many of a key's best items are kept ranked for queries.</summary>
    public const int RankedItems = 1_024;

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
        ArgumentNullException.ThrowIfNull(segmentKeys);
        Record(segmentKeys as string[] ?? [.. segmentKeys], interaction);
    }

    /// <summary>
    /// Adds one interaction under each of <paramref name="segmentKeys"/> (each distinct key once; weight-0 interactions
    /// are ignored). The overload for the ingest path: the keys can live on the caller's stack.
    /// </summary>
    public void Record(ReadOnlySpan<string> segmentKeys, Interaction interaction)
    {
        var weight = _weights.Of(interaction);
        if (weight <= 0 || string.IsNullOrEmpty(interaction.ItemId))
        {
            return;
        }

        _lock.EnterWriteLock();
        try
        {
            RebaseLocked(interaction.Timestamp);
            var add = weight * _decay.Weight(interaction.Timestamp);
            for (var k = 0; k < segmentKeys.Length; k++)
            {
                var segment = segmentKeys[k];
                if (segmentKeys[..k].Contains(segment))
                {
                    // A key given twice counts once (a handful of keys: a scan beats a set).
                    continue;
                }

                AddLocked(segment, interaction.ItemId, add);
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Moves one interaction recorded under <paramref name="from"/> to <paramref name="to"/> (a late event changed the
    /// segment it was made in). What is left of the item under <paramref name="from"/> is dropped when it is only
    /// rounding error of the subtraction, so the key ranks as if the interaction had never been recorded there.
    /// </summary>
    public void Move(string from, string to, Interaction interaction)
    {
        if (!string.Equals(from, to, StringComparison.Ordinal))
        {
            MoveAll(from, to, [interaction]);
        }
    }

    /// <summary>
    /// Moves <paramref name="interactions"/>, all recorded under <paramref name="from"/> before, to <paramref name="to"/>,
    /// in one step under the write lock: each one's decayed weight is taken back from <paramref name="from"/> (null: it
    /// was recorded under neither) and added under <paramref name="to"/> (null: under neither). A user's interactions
    /// follow her when her segment changes. What is left of an item under <paramref name="from"/> is dropped when it
    /// is only rounding error of the subtraction (at most 10⁻⁹ of what was taken), so a key from which every
    /// interaction of an item was taken back no longer holds the item. Interactions never recorded under
    /// <paramref name="from"/> must not be given: taking back what was not added takes from other users' part.
    /// </summary>
    public void MoveAll(string? from, string? to, IReadOnlyList<Interaction> interactions)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        if (string.Equals(from, to, StringComparison.Ordinal) || interactions.Count == 0)
        {
            return;
        }

        _lock.EnterWriteLock();
        try
        {
            foreach (var interaction in interactions)
            {
                var weight = _weights.Of(interaction);
                if (weight <= 0 || string.IsNullOrEmpty(interaction.ItemId))
                {
                    continue;
                }

                RebaseLocked(interaction.Timestamp);
                var add = weight * _decay.Weight(interaction.Timestamp);
                if (from is not null)
                {
                    TakeBackLocked(from, interaction.ItemId, add);
                }

                if (to is not null)
                {
                    AddLocked(to, interaction.ItemId, add);
                }
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    // Under the write lock. One factor for every value when the decay's epoch moves: rankings stay valid.
    private void RebaseLocked(DateTimeOffset time)
    {
        var rebase = _decay.Rebase(time);
        if (rebase != 1)
        {
            foreach (var table in _segments.Values)
            {
                foreach (var held in table.Items.Values)
                {
                    held.Value *= rebase;
                }
            }
        }
    }

    // Under the write lock.
    private void AddLocked(string segment, string itemId, double add)
    {
        if (!_segments.TryGetValue(segment, out var table))
        {
            table = new SegmentTable(segment);
            _segments.Add(segment, table);
        }

        ref var held = ref CollectionsMarshal.GetValueRefOrAddDefault(table.Items, itemId, out _);
        (held ??= new Held(PopularCandidates.HashOf(itemId))).Value += add;
        table.ChangesSinceRanking++;
    }

    // Under the write lock: takes `add` back from the item under `segment`; a remainder within rounding error of the
    // subtraction goes with it.
    private void TakeBackLocked(string segment, string itemId, double add)
    {
        if (_segments.TryGetValue(segment, out var old) && old.Items.TryGetValue(itemId, out var held))
        {
            var left = held.Value - add;
            if (left <= add * 1e-9)
            {
                // A ranking may still hold it: marked, so a query looks the item up instead (it may have come back).
                old.Items.Remove(itemId);
                held.Removed = true;
            }
            else
            {
                held.Value = left;
            }

            old.ChangesSinceRanking++;
        }
    }

    /// <summary>The keys that hold any popularity now (for checks).</summary>
    public IReadOnlyList<string> Keys
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return [.. _segments.Where(p => p.Value.Items.Count > 0).Select(p => p.Key)];
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>The items of <paramref name="segmentKey"/> and their decayed popularity as of <paramref name="now"/> (for checks).</summary>
    public IReadOnlyDictionary<string, double> ItemsOf(string segmentKey, DateTimeOffset now)
    {
        _lock.EnterReadLock();
        try
        {
            var divisor = _decay.Divisor(now);
            return _segments.TryGetValue(segmentKey, out var table)
                ? table.Items.ToDictionary(p => p.Key, p => p.Value.Value / divisor, StringComparer.Ordinal)
                : new Dictionary<string, double>(StringComparer.Ordinal);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Takes the popularity of <paramref name="rebuilt"/> (a table of the same settings, replayed from a log) in place of
    /// this one's, in one step under the write lock; afterwards <paramref name="rebuilt"/> must not be used. For erasure
    /// and retention: popularity without the deleted events.
    /// </summary>
    public void ReplaceWith(SegmentPopularity rebuilt)
    {
        ArgumentNullException.ThrowIfNull(rebuilt);
        _lock.EnterWriteLock();
        try
        {
            (_decay, _segments) = (rebuilt._decay, rebuilt._segments);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>The decayed popularity of <paramref name="itemId"/> in <paramref name="segmentKey"/> as of <paramref name="now"/>.</summary>
    public double Popularity(string segmentKey, string itemId, DateTimeOffset now)
    {
        _lock.EnterReadLock();
        try
        {
            return _segments.TryGetValue(segmentKey, out var table) && table.Items.TryGetValue(itemId, out var held) ? held.Value / _decay.Divisor(now) : 0;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        RentedCandidates.Owned(GetCandidates(request, count, allowed, sorted: true));

    ArraySegment<Candidate> IUnorderedCandidateSource.GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        GetCandidates(request, count, allowed, sorted: false);

    /// <summary>
    /// The public query's candidates, sorted as it gives them, or (<paramref name="sorted"/> false) in no particular order
    /// in a rented array (<see cref="RentedCandidates"/>).
    /// </summary>
    internal ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted)
    {
        var found = PerThread<PopularCandidates>.Take();
        try
        {
            GetCandidates(request, count, allowed, narrower: null, narrowerCategories: null, found);
            return found.Candidates(count, narrowed: false, sorted, rented: !sorted);
        }
        finally
        {
            found.Clear();
            PerThread<PopularCandidates>.Keep(found);
        }
    }

    /// <summary>
    /// What <see cref="GetCandidates(RecommendationRequest, int, Func{string, bool})"/> answers for <paramref name="allowed"/>
    /// (All) and, when <paramref name="narrower"/> is given, what it answers for the items both allow (Narrowed; empty
    /// without it), each in no particular order (All sorted without <paramref name="narrower"/>): the two lists of
    /// <see cref="GetCandidates(RecommendationRequest, int, Func{string, bool}, Func{string, bool}?, IReadOnlyList{string}?, PopularCandidates)"/>.
    /// </summary>
    internal (Candidate[] All, Candidate[] Narrowed) GetCandidates(
        RecommendationRequest request, int count, Func<string, bool> allowed, Func<string, bool>? narrower, IReadOnlyList<string>? narrowerCategories = null)
    {
        var found = new PopularCandidates();
        GetCandidates(request, count, allowed, narrower, narrowerCategories, found);
        var all = found.Candidates(count, narrowed: false, sorted: narrower is null, rented: false);
        var narrowed = narrower is null ? ArraySegment<Candidate>.Empty : found.Candidates(count, narrowed: true, sorted: false, rented: false);
        return (RentedCandidates.Owned(all), RentedCandidates.Owned(narrowed));
    }

    /// <summary>
    /// Fills <paramref name="found"/> (empty) with the best <paramref name="count"/> items <paramref name="allowed"/>
    /// allows (its All list: the public query's candidates) and, with <paramref name="narrower"/>, the best
    /// <paramref name="count"/> of those it allows too (Narrowed), from one walk of each key's ranking, both selected
    /// (<see cref="PopularCandidates.Select"/>): <see cref="PersonalPopularity"/> asks both (her categories' items, then
    /// everyone's) on every miss, and two queries walked every key twice.
    /// </summary>
    /// <remarks>
    /// With <paramref name="narrowerCategories"/> (distinct top-level categories, no dot: exactly the items
    /// <paramref name="narrower"/> allows are those whose top-level category is one of them), the narrowed items come
    /// from those categories' own rankings, merged in the key's ranking order: the same items as the first ones
    /// <paramref name="narrower"/> allows in a ranking of the whole key, without walking the items of the other
    /// categories (most of a walk, and a category lookup each).
    /// </remarks>
    internal void GetCandidates(
        RecommendationRequest request, int count, Func<string, bool> allowed, Func<string, bool>? narrower, IReadOnlyList<string>? narrowerCategories, PopularCandidates found)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(allowed);
        var category = request.ContextCategory ?? "";
        var scratch = PerThread<QueryScratch>.Take();
        try
        {
            var segments = scratch.SegmentsOf(request);
            if (category.Length == 0)
            {
                RankStale(segments);
            }

            _lock.EnterReadLock();
            try
            {
                foreach (var segment in segments)
                {
                    if (_segments.TryGetValue(segment, out var table))
                    {
                        Walk(table, segment == Everyone ? _everyoneWeight : 1, category, count, allowed, narrower, narrowerCategories, found, scratch);
                    }
                }
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
        finally
        {
            scratch.Clear();
            PerThread<QueryScratch>.Keep(scratch);
        }

        found.Select(count);
    }

    // Under the read lock: one key's best items into `found`.
    private void Walk(
        SegmentTable table, double weight, string category, int count, Func<string, bool> allowed, Func<string, bool>? narrower, IReadOnlyList<string>? narrowerCategories,
        PopularCandidates found, QueryScratch scratch)
    {
        var byCategory = narrower is not null && narrowerCategories is not null && category.Length == 0 && table.ByCategory is not null;
        // The categories the ranking read are the catalog's while no category changed since.
        var categoriesKnown = table.CategoryChangesAtRanking == _catalog.CategoryChanges;
        var (all, narrowed) = category.Length == 0 && table.Ranking is { } ranking
            ? FromRanking(table, ranking, count, allowed, byCategory ? null : narrower, categoriesKnown)
            : (null, null);
        if (byCategory)
        {
            narrowed = FromCategoryRankings(table, narrowerCategories!, count, allowed, narrower!, scratch);
        }

        Keep(found, all ?? Scan(table.Items, count, category, allowed, narrower: null), weight, table.Reason, narrowed: false);
        if (narrower is not null)
        {
            Keep(found, narrowed ?? Scan(table.Items, count, category, allowed, narrower), weight, table.Reason, narrowed: true);
        }
    }

    // One key's ranked items into the best score per item over the keys walked so far: relative to the key's leader, so
    // a small segment's favourites compete with the global ones. The key's collector is read in place and given back.
    private static void Keep(PopularCandidates found, TopK<Ranked> ranked, double weight, RecommendationReason reason, bool narrowed)
    {
        // Each item is kept once per key whatever the order, so only the leader (the entry a sort would put first)
        // is sought: up to six of these a call, each a sort of ~50 entries before.
        var kept = ranked.Unordered();
        if (kept.Length > 0)
        {
            var first = 0;
            for (var i = 1; i < kept.Length; i++)
            {
                if (kept[i].CompareTo(kept[first]) < 0)
                {
                    first = i;
                }
            }

            var leader = kept[first].Score;
            foreach (var entry in kept)
            {
                found.Add(entry.Id, entry.Value.Hash, weight * entry.Score / leader, reason, entry.Value.Category, narrowed);
            }
        }

        ranked.Release();
    }

    // Ranks again, under the write lock, the keys among `segments` whose ranking is missing or stale (more than 1% of
    // their items changed since); queries then walk the rankings side by side under the read lock.
    private void RankStale(ReadOnlySpan<string> segments)
    {
        _lock.EnterReadLock();
        try
        {
            // A loop, not Any over a lambda: the lambda captured `this`, a closure and a delegate made per call.
            var stale = false;
            foreach (var s in segments)
            {
                if (_segments.TryGetValue(s, out var t) && IsStale(t))
                {
                    stale = true;
                    break;
                }
            }

            if (!stale)
            {
                return;
            }
        }
        finally
        {
            _lock.ExitReadLock();
        }

        _lock.EnterWriteLock();
        try
        {
            foreach (var segment in segments)
            {
                if (_segments.TryGetValue(segment, out var table) && IsStale(table))
                {
                    RankLocked(table);
                }
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private static bool IsStale(SegmentTable table) => table.Ranking is null || table.ChangesSinceRanking > table.Items.Count / 100;

    // Under the write lock: the key's best items, and each top-level category's, from one pass over its items. The
    // categories are read once per item here, so that queries need not read them per item walked.
    private void RankLocked(SegmentTable table)
    {
        var categoryChanges = _catalog.CategoryChanges;
        var all = new TopK<Held>(RankedItems);
        var perCategory = new Dictionary<string, (TopK<Held> Best, int Items)>(StringComparer.Ordinal);
        var byTopLevel = perCategory.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var (item, held) in table.Items)
        {
            var popularity = held.Value;
            if (popularity <= 0)
            {
                continue;
            }

            if (all.Admits(popularity))
            {
                all.Offer(item, popularity, held);
            }

            // Kept with the item's value, for queries while no category changes (an empty one: not known yet).
            var category = _catalog.CategoryOf(item);
            held.Category = category.Length > 0 ? category : null;
            var top = TopLevel(category);
            if (top.IsEmpty)
            {
                continue;
            }

            ref var ranked = ref CollectionsMarshal.GetValueRefOrAddDefault(byTopLevel, top, out var exists);
            if (!exists)
            {
                ranked = (new TopK<Held>(RankedItems), 0);
            }

            if (ranked.Best.Admits(popularity))
            {
                ranked.Best.Offer(item, popularity, held);
            }

            ranked.Items++;
        }

        var categories = new Dictionary<string, CategoryRanking>(perCategory.Count, StringComparer.Ordinal);
        foreach (var (name, (best, items)) in perCategory)
        {
            var kept = best.Sorted();
            var ids = new string[kept.Length];
            var ranks = new double[kept.Length];
            var values = new Held[kept.Length];
            for (var i = 0; i < kept.Length; i++)
            {
                (ids[i], ranks[i], values[i]) = (kept[i].Id, kept[i].Rank, kept[i].Value);
            }

            categories.Add(name, new CategoryRanking(ids, ranks, values, Complete: items == kept.Length));
            best.Release();
        }

        table.Ranking = all.Drain(static (id, _, held) => new RankedItem(id, held));
        table.ByCategory = categories;
        table.CategoryChangesAtRanking = categoryChanges;
        table.ChangesSinceRanking = 0;
    }

    private static ReadOnlySpan<char> TopLevel(string category)
    {
        var dot = category.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? category : category.AsSpan(0, dot);
    }

    // The best `count` allowed items of `categories` (top-level), found by merging their rankings in the order of the
    // key's ranking (rank descending, then id): the items a walk of the key's whole ranking would find first among
    // those `narrower` allows. An item whose category changed since the ranking is checked against `narrower` (one
    // that moved into her categories since waits for the next ranking, as a new item does); when the rankings run out
    // before `count` while a category has more items than were kept, the key is scanned, as a walk would be.
    private TopK<Ranked> FromCategoryRankings(
        SegmentTable table, IReadOnlyList<string> categories, int count, Func<string, bool> allowed, Func<string, bool> narrower, QueryScratch scratch)
    {
        // Her top categories: three by default, a handful at most.
        var next = categories.Count <= PersonalRanking.MaxCategories ? stackalloc int[categories.Count] : new int[categories.Count];
        var lists = scratch.ListsFor(next.Length);
        var complete = true;
        for (var c = 0; c < lists.Length; c++)
        {
            lists[c] = table.ByCategory!.GetValueOrDefault(categories[c]);
            complete &= lists[c]?.Complete ?? true;
        }

        var recheck = table.CategoryChangesAtRanking != _catalog.CategoryChanges;
        var top = new TopK<Ranked>(count);
        var found = 0;
        while (found < count)
        {
            // The best head of the lists, by the order TopK ranks in.
            var from = -1;
            for (var c = 0; c < lists.Length; c++)
            {
                if (lists[c] is { } list && next[c] < list.Items.Length &&
                    (from < 0 || IsBefore(list, next[c], lists[from]!, next[from])))
                {
                    from = c;
                }
            }

            if (from < 0)
            {
                break;
            }

            var head = lists[from]!;
            var item = head.Items[next[from]];
            var held = head.Values[next[from]++];
            if (TryRead(table, item, held, out var popularity) && allowed(item) && (!recheck || narrower(item)))
            {
                // At most `count` found: appended, never pushed out (the merge meets them best first).
                top.Append(item, popularity, new Ranked(held.Hash, recheck ? null : held.Category));
                found++;
            }
        }

        if (found < count && (!complete || recheck))
        {
            top.Release();
            return Scan(table.Items, count, category: "", allowed, narrower);
        }

        return top;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsBefore(CategoryRanking a, int i, CategoryRanking b, int j)
    {
        var c = b.Ranks[j].CompareTo(a.Ranks[i]);
        return c != 0 ? c < 0 : string.CompareOrdinal(a.Items[i], b.Items[j]) < 0;
    }

    // The best `count` allowed items found by walking the key's ranking (possibly behind by the interactions recorded
    // since RankStale), and as many of those `narrower` allows too (null without it), in one walk; each null when the
    // ranking holds fewer such items than asked while the key has more items (the caller scans them all).
    // Each found item carries the category the ranking read when `categoriesKnown` (no category changed since).
    private static (TopK<Ranked>? All, TopK<Ranked>? Narrowed) FromRanking(
        SegmentTable table, RankedItem[] ranking, int count, Func<string, bool> allowed, Func<string, bool>? narrower, bool categoriesKnown)
    {
        var all = new TopK<Ranked>(count);
        var narrowed = narrower is null ? null : new TopK<Ranked>(count);
        var found = 0;
        var foundNarrowed = narrower is null ? count : 0;
        foreach (var (item, held) in ranking)
        {
            // Once everyone's count is found the walk goes on for the narrower filter's items only (her categories:
            // most of a long walk is other categories' items), so that test goes first and spares the item's lookup
            // and the request's filter for the items it rejects. The three are pure: the order changes no answer.
            var narrowedAlready = false;
            if (found == count && narrower is not null)
            {
                if (!narrower(item))
                {
                    continue;
                }

                narrowedAlready = true;
            }

            // An item moved out of the key since the ranking (Move) is skipped.
            if (TryRead(table, item, held, out var popularity) && allowed(item))
            {
                var ranked = new Ranked(held.Hash, categoriesKnown ? held.Category : null);
                // At most `count` of each found: appended, never pushed out (the walk meets them best first).
                if (found < count)
                {
                    all.Append(item, popularity, ranked);
                    found++;
                }

                if (foundNarrowed < count && (narrowedAlready || narrower!(item)))
                {
                    narrowed!.Append(item, popularity, ranked);
                    foundNarrowed++;
                }

                if (found == count && foundNarrowed == count)
                {
                    break;
                }
            }
        }

        var more = table.Items.Count > ranking.Length;
        return (Unless(found < count && more, all), narrowed is null ? null : Unless(foundNarrowed < count && more, narrowed));
    }

    // The item's popularity now, read from the value the ranking holds; false when the key no longer holds the item.
    // Only an item taken out of the key since (Move) is looked up: it may have come back under a value of its own.
    // Inlined (the lookup apart): each walk reads ~50 items, the merge of her categories as many.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryRead(SegmentTable table, string item, Held held, out double popularity)
    {
        if (!held.Removed)
        {
            popularity = held.Value;
            return true;
        }

        return TryLookUp(table, item, out popularity);
    }

    private static bool TryLookUp(SegmentTable table, string item, out double popularity)
    {
        var found = table.Items.TryGetValue(item, out var now);
        popularity = found ? now!.Value : 0;
        return found;
    }

    private static TopK<Ranked>? Unless(bool tooFew, TopK<Ranked> top)
    {
        if (tooFew)
        {
            top.Release();
            return null;
        }

        return top;
    }

    // The best `count` items of the key in `category` (all: "") that `allowed` and `narrower` (when given) allow, by
    // their live values: what a walk of a ranking that ran out would have found further down.
    private TopK<Ranked> Scan(Dictionary<string, Held> items, int count, string category, Func<string, bool> allowed, Func<string, bool>? narrower)
    {
        var top = new TopK<Ranked>(count);
        foreach (var (item, held) in items)
        {
            var popularity = held.Value;
            if (popularity > 0 && top.Admits(popularity) && (category.Length == 0 || ItemCatalog.IsIn(_catalog.CategoryOf(item), category)) &&
                allowed(item) && (narrower is null || narrower(item)))
            {
                top.Offer(item, popularity, new Ranked(held.Hash, null));
            }
        }

        return top;
    }

    // What a query keeps per thread between queries (cleared): its keys, and the category merge's lists (a key's
    // rankings of her categories), one array for every key a query walks.
    private sealed class QueryScratch
    {
        private string[] _segments = [];
        private CategoryRanking?[] _lists = [];

        // The request's keys, then Everyone, each once (a handful: a scan beats a set).
        public ReadOnlySpan<string> SegmentsOf(RecommendationRequest request)
        {
            var keys = request.SegmentKeys;
            if (_segments.Length < keys.Count + 1)
            {
                _segments = new string[keys.Count + 1];
            }

            var n = 0;
            for (var i = 0; i <= keys.Count; i++)
            {
                var key = i < keys.Count ? keys[i] : Everyone;
                if (Array.IndexOf(_segments, key, 0, n) < 0)
                {
                    _segments[n++] = key;
                }
            }

            return _segments.AsSpan(0, n);
        }

        // Room for `count` lists, cleared (a key's merge fills every one of them before reading any).
        public Span<CategoryRanking?> ListsFor(int count)
        {
            if (_lists.Length < count)
            {
                _lists = new CategoryRanking?[count];
            }

            var lists = _lists.AsSpan(0, count);
            lists.Clear();
            return lists;
        }

        public void Clear()
        {
            // Not kept alive by this thread's scratch once the query is done (a ranking replaced later is garbage).
            _segments.AsSpan().Clear();
            _lists.AsSpan().Clear();
        }
    }

    // One top-level category's best items of a key, best first, with their scores at ranking precision (the merge's
    // order) and their live values; Complete: every item of the category the key held then is here.
    private sealed record CategoryRanking(string[] Items, double[] Ranks, Held[] Values, bool Complete);

    // What a walk hands on with each item it found: the hash its key computed (PopularCandidates finds the item by it)
    // and its category as the ranking read it, while that is still the catalog's (null otherwise).
    private readonly record struct Ranked(int Hash, string? Category);

    // An item of a key's ranking and its live value.
    private readonly record struct RankedItem(string Id, Held Held);

    // One item's decayed popularity under a key, held by reference, so that a ranking reads the live value without
    // looking the item up (a Recommend walks about 300 ranked items over her keys, and each lookup hashed the item's
    // id: Dictionary.FindValue was 2.6 % of a perf profile's samples of the miss, and no longer shows). Written under
    // the write lock, read under the read lock. Removed: taken out of the key (TakeBack); an item that comes back gets
    // a new one. Costs one 40-byte object per item and key.
    private sealed class Held(int hash)
    {
        // The item id's hash (PopularCandidates.HashOf), computed once here rather than by every query that meets it.
        public readonly int Hash = hash;

        public double Value;

        public bool Removed;

        // The item's category as the last ranking read it (null: none yet), true while the catalog's CategoryChanges is
        // the ranking's: a query then hands it on instead of the catalog lookup per item that PersonalPopularity and the
        // blender made.
        public string? Category;
    }

    private sealed class SegmentTable(string segment)
    {
        // The reason every candidate of this key carries, made once (reasons are immutable, so candidates share it).
        public RecommendationReason Reason { get; } = new(ReasonKind.PopularInSegment, segment);

        public Dictionary<string, Held> Items { get; } = new(StringComparer.Ordinal);

        // Items, best first, as of the last ranking; null before the first query.
        public RankedItem[]? Ranking { get; set; }

        // Each top-level category's best items (as categories were at CategoryChangesAtRanking), as of the last ranking.
        public Dictionary<string, CategoryRanking>? ByCategory { get; set; }

        public long CategoryChangesAtRanking { get; set; }

        public int ChangesSinceRanking { get; set; }
    }
}
