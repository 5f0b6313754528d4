using System.Runtime.InteropServices;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Recommendations;

/// <summary>How co-occurrence counts become an item-to-item similarity (as in SAR).</summary>
public enum ItemSimilarityKind
{
    /// <summary>The (decayed, weighted) co-occurrence count c(i, j) itself: favours popular items.</summary>
    CoCount,

    /// <summary>c(i, j) / (c(i) + c(j) − c(i, j)): balanced; SAR's usual choice.</summary>
    Jaccard,

    /// <summary>c(i, j) / (c(i) · c(j)): favours rare items (serendipity).</summary>
    Lift,
}

/// <summary>What one user did with both items of a pair (flags; any user, ever).</summary>
[Flags]
public enum PairEvidence : byte
{
    /// <summary>No user did the same kind of thing with both.</summary>
    None = 0,

    /// <summary>A user viewed, carted, wishlisted or bought both.</summary>
    Viewed = 1,

    /// <summary>A user bought both.</summary>
    Bought = 2,

    /// <summary>A user rated both.</summary>
    Rated = 4,
}

/// <summary>Settings of an <see cref="ItemCoOccurrence"/>. Read when the model is built; do not change afterwards.</summary>
public sealed class ItemCoOccurrenceOptions
{
    /// <summary>Strength of each interaction type (purchase &gt; cart &gt; view; ratings by stars).</summary>
    public InteractionWeights Weights { get; init; } = InteractionWeights.Default;

    /// <summary>Weights of the requesting user's interactions when scoring (null: <see cref="Weights"/>). SAR counts co-occurrence uniformly but weighs affinity by rating.</summary>
    public InteractionWeights? AffinityWeights { get; init; }

    /// <summary>Half-life of co-occurrence counts (null: counts never fade).</summary>
    public TimeSpan? HalfLife { get; init; } = TimeSpan.FromDays(90);

    /// <summary>Half-life of the requesting user's own interactions when scoring (SAR's time-decayed affinity; null: none).</summary>
    public TimeSpan? AffinityHalfLife { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How counts become similarities.</summary>
    public ItemSimilarityKind Similarity { get; init; } = ItemSimilarityKind.Jaccard;

    /// <summary>Most distinct items remembered per user; the oldest is forgotten (its counts stay).</summary>
    public int MaxItemsPerUser { get; init; } = 500;

    /// <summary>Pairs whose current co-count is below this are ignored when scoring (SAR's threshold).</summary>
    public double MinCoCount { get; init; }

    /// <summary>
    /// When &gt; 0, scoring reads at most this many neighbours of each of the user's items whose row is longer: the
    /// most similar ones with their co-counts, taken when the row is first needed and again after more than 1% of
    /// its entries have changed since (shorter rows are always read live). Bounds a query's cost on large
    /// catalogues; 0 (default) reads every pair live.
    /// </summary>
    public int MaxNeighbours { get; init; }
}

/// <summary>
/// Item-to-item co-occurrence learned online, one interaction at a time, and a SAR-style recommender on top of it.
/// <para>
/// Model: each user holds a strength s(u, i) per item, the largest interaction weight seen (a purchase after a view
/// raises it; nothing lowers it), reached at t(u, i), the earliest time she interacted with that weight. The occurrence
/// of an item is c(i) = Σᵤ s(u, i), decayed from t(u, i), and the co-occurrence of a pair is
/// c(i, j) = Σᵤ min(s(u, i), s(u, j)), decayed from the later of t(u, i) and t(u, j), with
/// <see cref="ItemCoOccurrenceOptions.HalfLife"/>. Both are functions of each user's interactions, not of the order they
/// arrive in (up to floating-point rounding), as long as she has at most
/// <see cref="ItemCoOccurrenceOptions.MaxItemsPerUser"/> distinct items and her list is remembered (a deactivated
/// user's list comes back from her profile's history). Beyond that many items she remembers the most recently used
/// ones (the least recently used is forgotten; its counts stay), so each interaction pairs with the items she used
/// last before it, and the counts are those of her interactions learned in event-time order: a late one is placed in
/// that order by <see cref="Replay"/>. With <see cref="InteractionWeights.Uniform"/> weights and no decay
/// these are SAR's counts of users. A request is scored as SAR does: score(i) = Σⱼ a(j) · sim(j, i) over the
/// user's items j, with affinity a(j) = Σ weight · 2^(−age/<see cref="ItemCoOccurrenceOptions.AffinityHalfLife"/>).
/// </para>
/// <para>
/// Incremental: <see cref="Record"/> costs O(items remembered for that user), and its effect is visible to the
/// next query. Thread-safety: every member is safe to call concurrently; updates take a write lock, queries a read
/// lock, so queries run in parallel with each other (each costs O(Σ neighbours read of the request's items), see
/// <see cref="ItemCoOccurrenceOptions.MaxNeighbours"/>).
/// </para>
/// </summary>
public sealed class ItemCoOccurrence : ICandidateSource
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly ItemCoOccurrenceOptions _options;
    private readonly Dictionary<string, List<UserItem>> _users = new(StringComparer.Ordinal);
    private readonly ScoringBuffers.Pool _buffers = new();

    // The counts: replaced whole, under the write lock, by ReplaceCountsWith.
    private ForwardDecay _decay;
    private Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private List<string> _ids = [];
    private List<double> _occurrence = [];
    private List<Dictionary<int, PairCount>> _pairs = [];
    private List<int> _rowChanges = [];
    private List<Neighbours?> _neighbours = [];

    /// <summary>An empty model.</summary>
    public ItemCoOccurrence(ItemCoOccurrenceOptions? options = null)
    {
        _options = options ?? new ItemCoOccurrenceOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxItemsPerUser, 1, nameof(options));
        _decay = new ForwardDecay(_options.HalfLife);
    }

    /// <summary>Distinct items seen.</summary>
    public int ItemCount
    {
        get
        {
            using (Read())
            {
                return _ids.Count;
            }
        }
    }

    /// <summary>
    /// Folds one interaction of <paramref name="userId"/> into the counts. Interactions whose weight is 0 (search,
    /// returns, ...) are ignored. Interactions may arrive out of time order: a change to her strength or its time takes
    /// back what the old one counted and counts the new one. Exact for a user with at most
    /// <see cref="ItemCoOccurrenceOptions.MaxItemsPerUser"/> distinct items; for one with more, a late interaction is
    /// placed in time order by <see cref="Replay"/> instead (see <see cref="Evicts"/>).
    /// </summary>
    public void Record(string userId, Interaction interaction)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentException.ThrowIfNullOrEmpty(interaction.ItemId, nameof(interaction));
        if (_options.Weights.Of(interaction) <= 0)
        {
            return;
        }

        using (Write())
        {
            var rebase = _decay.Rebase(interaction.Timestamp);
            if (rebase != 1)
            {
                Rescale(rebase);
            }

            if (!_users.TryGetValue(userId, out var items))
            {
                items = [];
                _users.Add(userId, items);
            }

            Step(items, interaction, +1);
        }
    }

    /// <summary>
    /// Whether <paramref name="interactions"/> (one user's) hold more than <see cref="ItemCoOccurrenceOptions.MaxItemsPerUser"/>
    /// distinct items that count: then what she pairs depends on the order they are learned in, and a late one must be
    /// placed by <see cref="Replay"/> rather than <see cref="Record"/>.
    /// </summary>
    public bool Evicts(IEnumerable<Interaction> interactions)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        var items = new HashSet<string>(StringComparer.Ordinal);
        foreach (var interaction in interactions)
        {
            if (!string.IsNullOrEmpty(interaction.ItemId) && _options.Weights.Of(interaction) > 0 && items.Add(interaction.ItemId) && items.Count > _options.MaxItemsPerUser)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Re-derives what <paramref name="userId"/> counted: <paramref name="before"/> are her interactions as they were
    /// learned, <paramref name="after"/> the same with late ones placed among them, both in event-time order (the
    /// order the caller folds her events in). The counts then equal those of recording <paramref name="after"/> in that
    /// order, whatever order they arrived in, and her remembered items are the ones that leaves.
    /// </summary>
    /// <remarks>
    /// Her counts are sums of her own terms (and her share of each pair's evidence a counter), so the difference can be
    /// taken: the common prefix is walked for her list only, then her old suffix is recorded with the opposite sign and
    /// the new one recorded. Cost: O(prefix) list steps plus O(suffix × <see cref="ItemCoOccurrenceOptions.MaxItemsPerUser"/>)
    /// pair updates, where the suffix starts at the earliest late interaction. Exact when what the model holds of her is
    /// <paramref name="before"/> recorded in order (not when her list was restored, <see cref="RestoreUser"/>, from a
    /// history that did not reach back to the items she had remembered).
    /// </remarks>
    public void Replay(string userId, IReadOnlyList<Interaction> before, IReadOnlyList<Interaction> after)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        using (Write())
        {
            foreach (var interaction in after)
            {
                var rebase = _decay.Rebase(interaction.Timestamp);
                if (rebase != 1)
                {
                    Rescale(rebase);
                }
            }

            var common = 0;
            while (common < before.Count && common < after.Count && before[common] == after[common])
            {
                common++;
            }

            var list = new List<UserItem>();
            for (var i = 0; i < common; i++)
            {
                Step(list, before[i], 0);
            }

            var old = new List<UserItem>(list);
            for (var i = common; i < before.Count; i++)
            {
                Step(old, before[i], -1);
            }

            for (var i = common; i < after.Count; i++)
            {
                Step(list, after[i], +1);
            }

            if (list.Count > 0)
            {
                list.TrimExcess();
                _users[userId] = list;
            }
            else
            {
                _users.Remove(userId);
            }
        }
    }

    // One interaction of a user whose remembered items are `items` (most recent last): the list moves on, and with
    // sign +1 her terms are added to the counts, with -1 taken back (Replay), with 0 left alone (the list only).
    // Under the write lock.
    private void Step(List<UserItem> items, Interaction interaction, int sign)
    {
        var weight = _options.Weights.Of(interaction);
        if (weight <= 0 || string.IsNullOrEmpty(interaction.ItemId))
        {
            return;
        }

        var item = Intern(interaction.ItemId);

        // A loop, not FindIndex with a capturing lambda: this runs for every ingested event.
        var position = -1;
        for (var i = 0; i < items.Count && position < 0; i++)
        {
            position = items[i].Item == item ? i : -1;
        }

        if (position < 0 && items.Count >= _options.MaxItemsPerUser)
        {
            // Most recently used last: the least recently used is forgotten before the new item pairs with the rest.
            items.RemoveAt(0);
        }

        // Her strength for the item is the largest weight, reached at the earliest time she interacted with that
        // weight; each count is decayed from when it came to be (a pair: the later of its two items' times). Both
        // are functions of her interactions, not of their arrival order: a late view that adds no strength changes
        // nothing, and a late interaction that reaches the same strength earlier moves its time back.
        var old = position >= 0 ? items[position] : new UserItem(item, 0, PairEvidence.None, interaction.Timestamp, interaction.Timestamp.UtcTicks);
        var strength = Math.Max(old.Strength, weight);
        var at = weight > old.Strength ? interaction.Timestamp
            : weight == old.Strength && interaction.Timestamp < old.At ? interaction.Timestamp
            : old.At;
        var evidence = old.Evidence | EvidenceOf(interaction.Type);
        var changed = strength != old.Strength || at != old.At;
        // The decay weights of this step's two times, once per step rather than once per pair: this runs for every
        // ingested event, against up to MaxItemsPerUser items. An item new to her had no term before (strength 0).
        var (weightAt, weightOldAt) = (0.0, 0.0);
        if (sign != 0 && changed)
        {
            weightAt = _decay.Weight(at);
            weightOldAt = old.Strength == 0 ? 0 : _decay.Weight(old.At);
            _occurrence[item] += sign * ((strength * weightAt) - (old.Strength * weightOldAt));
        }

        if (sign != 0 && (changed || evidence != old.Evidence))
        {
            // A new item in her list forms a pair with each item there; what she did with both (bought both, viewed
            // both, rated both) is counted once per pair she formed when she first did it, so a reason names only what
            // happened and Replay can take it back.
            var formed = old.Strength == 0;
            var pairsChanged = 0;
            foreach (var other in items)
            {
                if (other.Item == item)
                {
                    continue;
                }

                // The count is what the weaker side gives, as of the later side's time: this step's own weight unless
                // the other item's time is later (then its weight, computed here; never for interactions in time order).
                var add = 0.0;
                if (changed)
                {
                    var otherWeight = at >= other.At && (formed || old.At >= other.At) ? 0 : _decay.Weight(other.At);
                    var term = Math.Min(strength, other.Strength) * (at >= other.At ? weightAt : otherWeight);
                    var oldTerm = formed ? 0 : Math.Min(old.Strength, other.Strength) * (old.At >= other.At ? weightOldAt : otherWeight);
                    add = term - oldTerm;
                }

                var gained = evidence & other.Evidence & ~(old.Evidence & other.Evidence);
                if (add == 0 && gained == PairEvidence.None && !formed)
                {
                    continue;
                }

                AddTo(item, other.Item, sign * add, formed, gained, sign);
                AddTo(other.Item, item, sign * add, formed, gained, sign);
                pairsChanged++;
                _rowChanges[other.Item]++;
            }

            _rowChanges[item] += pairsChanged;
        }

        if (position >= 0)
        {
            items.RemoveAt(position);
        }

        // The list is kept in order of last use by event time (then item id), not by arrival: what is forgotten first
        // is then the same whatever order her interactions came in. An interaction in time goes last (no search).
        var last = Math.Max(old.Last, interaction.Timestamp.UtcTicks);
        var slot = items.Count;
        while (slot > 0 && (last < items[slot - 1].Last || (last == items[slot - 1].Last && string.CompareOrdinal(_ids[item], _ids[items[slot - 1].Item]) < 0)))
        {
            slot--;
        }

        items.Insert(slot, new UserItem(item, strength, evidence, at, last));
    }

    // Adds one user's term to the pair (a, b) of row a; a pair no user forms any more (taken back by Replay) goes, with
    // whatever rounding its count kept.
    private void AddTo(int a, int b, double add, bool formed, PairEvidence gained, int sign)
    {
        var row = _pairs[a];
        ref var pair = ref CollectionsMarshal.GetValueRefOrAddDefault(row, b, out _);
        pair = pair.Add(add, formed ? sign : 0, gained, sign);
        if (sign < 0 && pair.Formed == 0)
        {
            row.Remove(b);
        }
    }

    /// <summary>
    /// Forgets what is remembered about <paramref name="userId"/>'s items (memory is O(users × items per user)); the
    /// counts they contributed stay. A later interaction of theirs starts a fresh list. Returns whether they were known.
    /// </summary>
    public bool ForgetUser(string userId)
    {
        using (Write())
        {
            return _users.Remove(userId);
        }
    }

    /// <summary>
    /// Restores what is remembered about <paramref name="userId"/>'s items from her <paramref name="interactions"/>,
    /// oldest first, without counting them again: the list that recording each of them would have left. For a user
    /// whose list was forgotten (<see cref="ForgetUser"/>, to keep memory to the users who are live) and who is back:
    /// her next interactions pair with these items as if she had never been forgotten, as far as the interactions
    /// given reach back. Nothing changes when her list is remembered already. Returns whether it was restored.
    /// </summary>
    public bool RestoreUser(string userId, IEnumerable<Interaction> interactions)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(interactions);
        using (Write())
        {
            if (_users.ContainsKey(userId))
            {
                return false;
            }

            // What Record does to the list, without the counts.
            var items = new List<UserItem>();
            foreach (var interaction in interactions)
            {
                Step(items, interaction, 0);
            }

            if (items.Count > 0)
            {
                items.TrimExcess();
                _users.Add(userId, items);
            }

            return items.Count > 0;
        }
    }

    /// <summary>
    /// Takes the counts of <paramref name="rebuilt"/> (a model of the same options, replayed from a log) in place of this
    /// one's, in one step under the write lock: queries see either the old counts or the new ones. The items remembered
    /// per user stay this model's (they follow the live users), except <paramref name="forgottenUsers"/>'. Afterwards
    /// <paramref name="rebuilt"/> must not be used. For erasure and retention: counts without the deleted events.
    /// </summary>
    public void ReplaceCountsWith(ItemCoOccurrence rebuilt, IReadOnlySet<string> forgottenUsers)
    {
        ArgumentNullException.ThrowIfNull(rebuilt);
        ArgumentNullException.ThrowIfNull(forgottenUsers);
        using (Write())
        {
            rebuilt._lock.EnterWriteLock();
            try
            {
                // Remembered items point into this model's item numbering: carry them over by id.
                var oldIds = _ids;
                (_decay, _index, _ids, _occurrence, _pairs, _rowChanges, _neighbours) =
                    (rebuilt._decay, rebuilt._index, rebuilt._ids, rebuilt._occurrence, rebuilt._pairs, rebuilt._rowChanges, rebuilt._neighbours);
                foreach (var user in forgottenUsers)
                {
                    _users.Remove(user);
                }

                foreach (var items in _users.Values)
                {
                    for (var i = 0; i < items.Count; i++)
                    {
                        items[i] = items[i] with { Item = Intern(oldIds[items[i].Item]) };
                    }
                }
            }
            finally
            {
                rebuilt._lock.ExitWriteLock();
            }
        }
    }

    /// <summary>Forgets every user's items (see <see cref="ForgetUser"/>); the counts stay.</summary>
    public void ForgetAllUsers()
    {
        using (Write())
        {
            _users.Clear();
            _users.TrimExcess();
        }
    }

    /// <summary>Users whose items are remembered.</summary>
    public int UserCount
    {
        get
        {
            using (Read())
            {
                return _users.Count;
            }
        }
    }

    /// <summary>The decayed occurrence c(i) as of <paramref name="now"/> (0 for unknown items).</summary>
    public double Occurrence(string itemId, DateTimeOffset now)
    {
        using (Read())
        {
            return _index.TryGetValue(itemId, out var i) ? _occurrence[i] / _decay.Divisor(now) : 0;
        }
    }

    /// <summary>The decayed co-occurrence c(a, b) as of <paramref name="now"/> (0 for unknown items or a = b).</summary>
    public double CoOccurrence(string a, string b, DateTimeOffset now)
    {
        using (Read())
        {
            return _index.TryGetValue(a, out var i) && _index.TryGetValue(b, out var j) && _pairs[i].TryGetValue(j, out var c)
                ? c.Count / _decay.Divisor(now)
                : 0;
        }
    }

    /// <summary>The similarity sim(a, b) as of <paramref name="now"/> under the configured kind (0 when they never co-occurred).</summary>
    public double Similarity(string a, string b, DateTimeOffset now)
    {
        using (Read())
        {
            return _index.TryGetValue(a, out var i) && _index.TryGetValue(b, out var j) && _pairs[i].TryGetValue(j, out var c)
                ? Similarity(i, j, c.Count, _decay.Divisor(now))
                : 0;
        }
    }

    /// <summary>
    /// What some one user did with both <paramref name="a"/> and <paramref name="b"/>, as far as this model was told:
    /// bought both, viewed (or carted, wishlisted, bought) both, rated both. A fact, not a count: it does not decay.
    /// </summary>
    public PairEvidence Evidence(string a, string b)
    {
        using (Read())
        {
            return _index.TryGetValue(a, out var i) && _index.TryGetValue(b, out var j) && _pairs[i].TryGetValue(j, out var c)
                ? c.Evidence
                : PairEvidence.None;
        }
    }

    /// <summary>The <paramref name="count"/> items most similar to <paramref name="itemId"/>, best first (reason: bought, viewed or rated with it).</summary>
    public IReadOnlyList<Candidate> SimilarItems(string itemId, int count, DateTimeOffset now) =>
        GetCandidates(new RecommendationRequest { ContextItemId = itemId, Now = now }, count, static _ => true);

    /// <summary>
    /// SAR scores for the request's history plus its context item (which counts as a purchase): each candidate's
    /// reason names the user's item that contributed most to its score, and says what people did with both (see
    /// <see cref="ReasonOf"/>): "bought with" only when a user bought both.
    /// </summary>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(allowed);
        using (Read())
        {
            var affinity = Affinity(request);
            if (affinity.Count == 0 || count <= 0)
            {
                return [];
            }

            var divisor = _decay.Divisor(request.Now);
            var minCoCount = _options.MinCoCount * divisor;
            // Reused, not cleared: the pool's buffers have every cause at -1, and only what this query reaches is reset.
            var buffers = _buffers.Rent(_ids.Count);
            var (scores, best, cause, touched) = (buffers.Scores, buffers.Best, buffers.Cause, buffers.Touched);
            try
            {
                void Reach(int j, double a, int i, double c)
                {
                    if (c < minCoCount)
                    {
                        return;
                    }

                    var s = a * Similarity(j, i, c, divisor);
                    if (cause[i] < 0)
                    {
                        touched[buffers.Reached++] = i;
                        scores[i] = 0;
                        best[i] = double.NegativeInfinity;
                        cause[i] = j;
                    }

                    scores[i] += s;
                    // The reason names her item that contributes most, the first by id among equals (at ranking
                    // precision, TopK.Rank): rounding from the arrival order never picks it.
                    if (TopK<int>.Rank(s) > TopK<int>.Rank(best[i]))
                    {
                        best[i] = s;
                        cause[i] = j;
                    }
                }

                foreach (var (j, a) in affinity)
                {
                    // The row or its ranked neighbours walked by their concrete types (the dictionary's struct
                    // enumerator, the array): no boxed enumerator and no interface call per pair.
                    if (RankedNeighboursOf(j) is { } ranked)
                    {
                        foreach (var (i, pair) in ranked)
                        {
                            Reach(j, a, i, pair.Count);
                        }
                    }
                    else
                    {
                        foreach (var (i, pair) in _pairs[j])
                        {
                            Reach(j, a, i, pair.Count);
                        }
                    }
                }

                var top = new TopK<int>(count);
                foreach (var i in touched.AsSpan(0, buffers.Reached))
                {
                    if (scores[i] > 0 && top.Admits(scores[i]) && allowed(_ids[i]))
                    {
                        top.Offer(_ids[i], scores[i], cause[i]);
                    }
                }

                return top.Drain((id, score, j) => new Candidate(id, score, ReasonOf(j, _index[id])));
            }
            finally
            {
                _buffers.Return(buffers);
            }
        }
    }

    // The reason for recommending item i because of the user's item j, from the evidence of the pair as it is now
    // (the live row, not a ranked copy): bought together beats rated together beats viewed together. A pair whose
    // users did different things with each (viewed one, rated the other) is only "similar".
    private RecommendationReason ReasonOf(int j, int i)
    {
        var evidence = _pairs[j].TryGetValue(i, out var pair) ? pair.Evidence : PairEvidence.None;
        var kind = (evidence & PairEvidence.Bought) != 0 ? ReasonKind.BoughtTogether
            : (evidence & PairEvidence.Rated) != 0 ? ReasonKind.RatedTogether
            : (evidence & PairEvidence.Viewed) != 0 ? ReasonKind.ViewedTogether
            : ReasonKind.SimilarToViewed;
        return new RecommendationReason(kind, _ids[j]);
    }

    private static PairEvidence EvidenceOf(EventType type) => type switch
    {
        EventType.Purchase => PairEvidence.Bought | PairEvidence.Viewed,
        EventType.View or EventType.AddToCart or EventType.Wishlist => PairEvidence.Viewed,
        EventType.Rating => PairEvidence.Rated,
        _ => PairEvidence.None,
    };

    // Sorted by item id so that ties in "largest contribution" resolve the same way every time.
    private List<(int Item, double Affinity)> Affinity(RecommendationRequest request)
    {
        var affinity = new Dictionary<int, double>();
        foreach (var x in request.History)
        {
            if (x.ItemId is not null && _index.TryGetValue(x.ItemId, out var i))
            {
                var w = (_options.AffinityWeights ?? _options.Weights).Of(x) * ForwardDecay.Factor(request.Now - x.Timestamp, _options.AffinityHalfLife);
                if (w > 0)
                {
                    affinity[i] = affinity.GetValueOrDefault(i) + w;
                }
            }
        }

        if (request.ContextItemId is { } context && _index.TryGetValue(context, out var ci))
        {
            affinity[ci] = affinity.GetValueOrDefault(ci) + (_options.AffinityWeights ?? _options.Weights).Purchase;
        }

        var list = affinity.Select(p => (p.Key, p.Value)).ToList();
        list.Sort((x, y) => string.CompareOrdinal(_ids[x.Key], _ids[y.Key]));
        return list;
    }

    // The pairs of j read when scoring: the whole live row, or its MaxNeighbours most similar entries with their
    // co-counts as of the last ranking. Called under the read lock: a stale list is rebuilt and published by
    // reference (racing rebuilds agree).
    // Null: the whole row.
    private KeyValuePair<int, PairCount>[]? RankedNeighboursOf(int j)
    {
        var row = _pairs[j];
        var max = _options.MaxNeighbours;
        if (max <= 0 || row.Count <= max)
        {
            return null;
        }

        var cached = _neighbours[j];
        var changes = _rowChanges[j];
        if (cached is null || changes - cached.ChangesAtRanking > row.Count / 100)
        {
            // The ranking is the same at any "now" (decay scales every count alike), so divisor 1 will do.
            var top = new TopK<KeyValuePair<int, PairCount>>(max);
            foreach (var pair in row)
            {
                var s = Similarity(j, pair.Key, pair.Value.Count, 1);
                if (top.Admits(s))
                {
                    top.Offer(_ids[pair.Key], s, pair);
                }
            }

            cached = new Neighbours(top.Drain(static (_, _, pair) => pair), changes);
            _neighbours[j] = cached;
        }

        return cached.Pairs;
    }

    private ReadScope Read()
    {
        _lock.EnterReadLock();
        return new ReadScope(_lock);
    }

    private WriteScope Write()
    {
        _lock.EnterWriteLock();
        return new WriteScope(_lock);
    }

    private readonly struct ReadScope(ReaderWriterLockSlim held) : IDisposable
    {
        public void Dispose() => held.ExitReadLock();
    }

    private readonly struct WriteScope(ReaderWriterLockSlim held) : IDisposable
    {
        public void Dispose() => held.ExitWriteLock();
    }

    private sealed record Neighbours(KeyValuePair<int, PairCount>[] Pairs, int ChangesAtRanking);

    // One pair's decayed co-count, how many times users formed it (a user whose list held both items), and how many
    // of those did the same kind of thing with both. 16 bytes like a count and a flag byte would take; the counters
    // saturate at 65,535 and then stay (a pair that many users formed is not going to lose them all to Replay).
    private readonly record struct PairCount(double Count, ushort Formed, ushort Viewed, ushort Bought, ushort Rated)
    {
        public PairEvidence Evidence =>
            (Viewed > 0 ? PairEvidence.Viewed : PairEvidence.None) | (Bought > 0 ? PairEvidence.Bought : PairEvidence.None) | (Rated > 0 ? PairEvidence.Rated : PairEvidence.None);

        public PairCount Add(double add, int formed, PairEvidence gained, int sign) => new(
            Count + add,
            Counter(Formed, formed),
            Counter(Viewed, (gained & PairEvidence.Viewed) != 0 ? sign : 0),
            Counter(Bought, (gained & PairEvidence.Bought) != 0 ? sign : 0),
            Counter(Rated, (gained & PairEvidence.Rated) != 0 ? sign : 0));

        private static ushort Counter(ushort value, int add) =>
            add > 0 ? (value == ushort.MaxValue ? value : (ushort)(value + 1))
            : add < 0 ? (value is 0 or ushort.MaxValue ? value : (ushort)(value - 1))
            : value;
    }

    // One item remembered for a user: her strongest interaction weight with it, when she reached it, what she did with
    // it, and when she last used it (UTC ticks of event time: the list's order).
    private readonly record struct UserItem(int Item, double Strength, PairEvidence Evidence, DateTimeOffset At, long Last);

    private double Similarity(int i, int j, double c, double divisor) => _options.Similarity switch
    {
        ItemSimilarityKind.CoCount => c / divisor,
        ItemSimilarityKind.Lift => c * divisor / (_occurrence[i] * _occurrence[j]),
        _ => c / (_occurrence[i] + _occurrence[j] - c),
    };

    private int Intern(string itemId)
    {
        if (!_index.TryGetValue(itemId, out var i))
        {
            i = _ids.Count;
            _index.Add(itemId, i);
            _ids.Add(itemId);
            _occurrence.Add(0);
            _pairs.Add([]);
            _rowChanges.Add(0);
            _neighbours.Add(null);
        }

        return i;
    }

    private void Rescale(double factor)
    {
        for (var i = 0; i < _occurrence.Count; i++)
        {
            _occurrence[i] *= factor;
            var row = _pairs[i];
            foreach (var key in row.Keys.ToList())
            {
                var pair = row[key];
                row[key] = pair with { Count = pair.Count * factor };
            }
        }
    }
}
