using System.Buffers;
using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Embeddings;

/// <summary>
/// The one definition of how a user becomes the inputs of a user encoder (DESIGN §7: <c>item_ids</c>,
/// <c>item_weights</c>, <c>dense</c>), shared by the trainer (<see cref="UserEncoderTrainer"/>) and the host that
/// serves the encoder, so both feed the model the same numbers for the same profile.
/// </summary>
/// <remarks>
/// <para><b>History</b> (<see cref="History"/>): from <see cref="UserProfile.RecommendationHistory"/>, the interactions
/// whose item the caller's index knows (index ≠ 0) and whose weight is positive are taken, the
/// <see cref="HistoryLength"/> most recent of them (later timestamp first; on equal timestamps the later entry of the
/// list first). Each weighs <see cref="Weights"/>.<see cref="InteractionWeights.Of(in Interaction)"/> ×
/// 2^(−age / <see cref="HalfLife"/>), age = max(0, now − timestamp). Entries of the same item are merged (weights
/// summed) at the position of its most recent entry, the weights are divided by their sum (so they sum to 1), and the
/// rest of the L slots are padding: index 0, weight 0. Unknown items are dropped before choosing the most recent, so
/// they never take a slot.</para>
/// <para><b>Dense features</b> (<see cref="Dense"/>): <see cref="FeatureCount"/> columns named by
/// <see cref="FeatureNames"/>, in this order, all 0 for a profile without events:
/// <list type="number">
/// <item><c>recency_days_log</c> = ln(1 + days since the last activity), days fractional, negative ages as 0;</item>
/// <item><c>orders_log</c> = ln(1 + orders);</item>
/// <item><c>monetary_log</c> = ln(1 + max(0, spend − returned));</item>
/// <item><c>events_log</c> = ln(1 + events folded);</item>
/// <item><c>purchase_share</c> = purchase events / (purchase events + view events), 0 when both are 0 (bounded, unlike
/// purchases per view, which is unbounded for shops that send no views);</item>
/// <item><c>tenure_days_log</c> = ln(1 + days since first seen).</item>
/// </list></para>
/// <para>Pure and immutable: safe to share between threads.</para>
/// </remarks>
public sealed class EncoderFeatures
{
    /// <summary>The default L: history entries per user.</summary>
    public const int DefaultHistoryLength = 50;

    /// <summary>F: dense features per user.</summary>
    public const int FeatureCount = 6;

    /// <summary>The default half-life of an interaction's weight (30 days).</summary>
    public static readonly TimeSpan DefaultHalfLife = TimeSpan.FromDays(30);

    /// <summary>The defaults: L = <see cref="DefaultHistoryLength"/>, half-life <see cref="DefaultHalfLife"/>, <see cref="InteractionWeights.Default"/>.</summary>
    public static EncoderFeatures Default { get; } = new(DefaultHistoryLength, DefaultHalfLife, InteractionWeights.Default);

    /// <summary>The dense features' names, in column order (stored in the model's metadata and manifest).</summary>
    public static IReadOnlyList<string> FeatureNames { get; } =
        ["recency_days_log", "orders_log", "monetary_log", "events_log", "purchase_share", "tenure_days_log"];

    /// <summary>Creates a definition with L = <paramref name="historyLength"/> (≥ 1), a positive half-life and the event-type weights.</summary>
    public EncoderFeatures(int historyLength, TimeSpan halfLife, InteractionWeights weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(halfLife, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(weights);
        HistoryLength = historyLength;
        HalfLife = halfLife;
        Weights = weights;
    }

    /// <summary>L: the length of <c>item_ids</c> and <c>item_weights</c>.</summary>
    public int HistoryLength { get; }

    /// <summary>Half-life of an interaction's weight, by its age at "now".</summary>
    public TimeSpan HalfLife { get; }

    /// <summary>Weight of an interaction by type (and stars for ratings) before decay.</summary>
    public InteractionWeights Weights { get; }

    /// <summary>
    /// Fills <paramref name="itemIds"/> and <paramref name="itemWeights"/> (each exactly <see cref="HistoryLength"/>
    /// long) from <paramref name="history"/> as described on the class, and returns the number of slots used (the rest
    /// is padding). <paramref name="indexOf"/> maps an item id to its encoder index (≥ 1), or 0 when the model does not
    /// know the item.
    /// </summary>
    public int History(IReadOnlyList<Interaction> history, DateTimeOffset now, Func<string, int> indexOf, Span<long> itemIds, Span<float> itemWeights)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(indexOf);
        if (itemIds.Length != HistoryLength || itemWeights.Length != HistoryLength)
        {
            throw new ArgumentException($"item_ids and item_weights must hold {HistoryLength} entries (got {itemIds.Length} and {itemWeights.Length}).");
        }

        // Known, positive entries, with their position in the list (the tie-break).
        var candidates = ArrayPool<Candidate>.Shared.Rent(Math.Max(1, history.Count));
        try
        {
            var count = 0;
            for (var i = 0; i < history.Count; i++)
            {
                var x = history[i];
                Add(candidates, ref count, i, x.ItemId, x.Type, x.Rating, x.Timestamp, indexOf);
            }

            return Fill(candidates.AsSpan(0, count), now, itemIds, itemWeights);
        }
        finally
        {
            ArrayPool<Candidate>.Shared.Return(candidates);
        }
    }

    // A known, positive entry of the history: its position in the list, the encoder's index, its weight before decay (the
    // decay is computed only for the entries taken) and its time.
    private readonly record struct Candidate(int Position, int Index, double Weight, DateTimeOffset Timestamp);

    private void Add(Candidate[] candidates, ref int count, int position, string itemId, EventType type, double rating, DateTimeOffset timestamp, Func<string, int> indexOf)
    {
        var weight = Weights.Of(type, rating);
        if (!(weight > 0))
        {
            return;
        }

        var index = indexOf(itemId);
        if (index > 0)
        {
            candidates[count++] = new Candidate(position, index, weight, timestamp);
        }
    }

    // The rest of History (see the class): the most recent candidates (later position first on ties), merged per item.
    private int Fill(Span<Candidate> candidates, DateTimeOffset now, Span<long> itemIds, Span<float> itemWeights)
    {
        // Positions are distinct, so the order is total and any sort gives the same one; a static comparison allocates nothing.
        candidates.Sort(static (a, b) =>
        {
            var byTime = b.Timestamp.CompareTo(a.Timestamp);
            return byTime != 0 ? byTime : b.Position.CompareTo(a.Position);
        });

        return FillInOrder(candidates, now, itemIds, itemWeights);
    }

    // Fill's merge and normalisation over candidates already in its order (most recent first).
    private int FillInOrder(ReadOnlySpan<Candidate> candidates, DateTimeOffset now, Span<long> itemIds, Span<float> itemWeights)
    {
        itemIds.Clear();
        itemWeights.Clear();

        // Merge per item at the slot of its most recent entry; sum in double, store in float.
        Span<double> sums = HistoryLength <= 256 ? stackalloc double[HistoryLength] : new double[HistoryLength];
        var used = 0;
        var total = 0.0;
        var take = Math.Min(candidates.Length, HistoryLength);
        for (var c = 0; c < take; c++)
        {
            var (_, index, baseWeight, timestamp) = candidates[c];
            var weight = baseWeight * Decay(now - timestamp);
            var slot = itemIds[..used].IndexOf(index);
            if (slot < 0)
            {
                slot = used++;
                itemIds[slot] = index;
                sums[slot] = 0;
            }

            sums[slot] += weight;
            total += weight;
        }

        if (!(total > 0))
        {
            // Every weight decayed to 0 (ages of thousands of half-lives): nothing to say.
            itemIds.Clear();
            return 0;
        }

        for (var s = 0; s < used; s++)
        {
            itemWeights[s] = (float)(sums[s] / total);
        }

        return used;
    }

    /// <summary>Fills <paramref name="dense"/> (exactly <see cref="FeatureCount"/> long) from <paramref name="view"/>, as of its <see cref="ProfileView.AsOf"/>.</summary>
    public static void Dense(ProfileView view, Span<float> dense)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (dense.Length != FeatureCount)
        {
            throw new ArgumentException($"dense must hold {FeatureCount} features (got {dense.Length}).", nameof(dense));
        }

        long purchases = 0, views = 0;
        foreach (var c in view.Counts)
        {
            if (c.Type == EventType.Purchase)
            {
                purchases = c.Count;
            }
            else if (c.Type == EventType.View)
            {
                views = c.Count;
            }
        }

        DenseOf(view.AsOf, view.FirstSeen, view.LastSeen, view.EventCount, view.Orders, view.Spend, view.Returned, purchases, views, dense);
    }

    // The one formula behind both entry points: Dense(view) for the trainer and Encode(profile) on the ingest path,
    // which reads the fold state directly instead of building a whole ProfileView for six numbers.
    private static void DenseOf(
        DateTimeOffset asOf, DateTimeOffset firstSeen, DateTimeOffset lastSeen, long eventCount, long orders, double spend, double returned, long purchases, long views, Span<float> dense)
    {
        dense.Clear();
        if (eventCount == 0)
        {
            return;
        }

        dense[0] = (float)Math.Log(1 + Days(asOf - lastSeen));
        dense[1] = (float)Math.Log(1 + Math.Max(0, orders));
        dense[2] = (float)Math.Log(1 + Math.Max(0, spend - returned));
        dense[3] = (float)Math.Log(1 + eventCount);
        dense[4] = purchases + views == 0 ? 0 : (float)(purchases / (double)(purchases + views));
        dense[5] = (float)Math.Log(1 + Days(asOf - firstSeen));
    }

    /// <summary>
    /// All three inputs of one user at <paramref name="now"/>: <see cref="History"/> of her
    /// <see cref="UserProfile.RecommendationHistory"/> and <see cref="Dense"/> of her <see cref="UserProfile.View"/>.
    /// </summary>
    public int Encode(UserProfile profile, DateTimeOffset now, Func<string, int> indexOf, Span<long> itemIds, Span<float> itemWeights, Span<float> dense)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (dense.Length != FeatureCount)
        {
            throw new ArgumentException($"dense must hold {FeatureCount} features (got {dense.Length}).", nameof(dense));
        }

        // The same numbers as Dense(profile.View(now)), read from the fold state (View counts only types seen, which
        // reads as 0 here too).
        var s = profile.State;
        DenseOf(now, s.FirstSeen, s.LastSeen, s.EventCount, s.Orders, s.Spend, s.Returned, s.Counts[(int)EventType.Purchase], s.Counts[(int)EventType.View], dense);
        ArgumentNullException.ThrowIfNull(indexOf);
        if (itemIds.Length != HistoryLength || itemWeights.Length != HistoryLength)
        {
            throw new ArgumentException($"item_ids and item_weights must hold {HistoryLength} entries (got {itemIds.Length} and {itemWeights.Length}).");
        }

        // History(profile.RecommendationHistory(), …) read from the fold state in the same order (her purchases, then her
        // other interactions) without building that list: this runs at every refresh of the ingest path, and the list and
        // the candidates were several KB per event.
        if (profile.InteractionsInTimeOrder)
        {
            return NewestFirst(s.Purchased, s.History, now, indexOf, itemIds, itemWeights);
        }

        var candidates = ArrayPool<Candidate>.Shared.Rent(Math.Max(1, s.Purchased.Count + s.History.Count));
        try
        {
            var count = 0;
            var position = 0;
            foreach (var p in s.Purchased)
            {
                Add(candidates, ref count, position++, p.ItemId, EventType.Purchase, 0, p.At, indexOf);
            }

            foreach (var h in s.History)
            {
                if (h.Type != EventType.Purchase)
                {
                    Add(candidates, ref count, position++, h.ItemId, h.Type, h.Rating, h.At, indexOf);
                }
            }

            return Fill(candidates.AsSpan(0, count), now, itemIds, itemWeights);
        }
        finally
        {
            ArrayPool<Candidate>.Shared.Return(candidates);
        }
    }

    // Encode's history when both lists are in time order: Fill's order (later timestamp first, then later position, where
    // every other interaction comes after every purchase) is then a merge of the two lists walked from their ends, so the
    // L most recent known entries are found without sorting all of her entries nor looking up the items of those beyond
    // them. A profile's history grows to Purchased + History entries (600 with the defaults) while L stays 50, so this
    // keeps the ingest refresh's cost from growing with her history. The same entries in the same order as Fill's.
    private int NewestFirst(
        List<InteractionState> purchased, List<InteractionState> history, DateTimeOffset now, Func<string, int> indexOf, Span<long> itemIds, Span<float> itemWeights)
    {
        var candidates = ArrayPool<Candidate>.Shared.Rent(HistoryLength);
        try
        {
            var count = 0;
            var p = purchased.Count - 1;
            var h = NextOther(history, history.Count - 1);
            while (count < HistoryLength && (p >= 0 || h >= 0))
            {
                // On equal times the other interaction goes first: its position is after every purchase's.
                if (h >= 0 && (p < 0 || history[h].At >= purchased[p].At))
                {
                    var x = history[h];
                    Add(candidates, ref count, h, x.ItemId, x.Type, x.Rating, x.At, indexOf);
                    h = NextOther(history, h - 1);
                }
                else
                {
                    var x = purchased[p];
                    Add(candidates, ref count, p, x.ItemId, EventType.Purchase, 0, x.At, indexOf);
                    p--;
                }
            }

            return FillInOrder(candidates.AsSpan(0, count), now, itemIds, itemWeights);
        }
        finally
        {
            ArrayPool<Candidate>.Shared.Return(candidates);
        }

        // The last entry at or before `from` that is not a purchase (purchases come from the purchased list), or -1.
        static int NextOther(List<InteractionState> history, int from)
        {
            while (from >= 0 && history[from].Type == EventType.Purchase)
            {
                from--;
            }

            return from;
        }
    }

    private double Decay(TimeSpan age) => age <= TimeSpan.Zero ? 1 : Math.Pow(2, -age.Ticks / (double)HalfLife.Ticks);

    private static double Days(TimeSpan span) => span <= TimeSpan.Zero ? 0 : span.TotalDays;
}
