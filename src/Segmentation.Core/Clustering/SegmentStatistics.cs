using System.Globalization;

namespace Segmentation.Core.Clustering;

/// <summary>
/// What one member contributes to her segment's statistics: her embedding and the profile traits labels are made of.
/// Taken when she joins; the same value is subtracted when she leaves, so running sums stay exact.
/// </summary>
/// <param name="Embedding">Her unit embedding.</param>
/// <param name="Monetary">Net spend.</param>
/// <param name="Orders">Orders.</param>
/// <param name="AverageOrderValue">Spend per order (0 without orders).</param>
/// <param name="RecencyDays">Days since her last activity.</param>
/// <param name="Stage">Lifecycle stage.</param>
/// <param name="TopCategory">Her top-level category with the largest share ("" when none).</param>
/// <param name="Purchases">Items she bought recently (at most a few).</param>
public sealed record MemberTraits(
    float[] Embedding,
    double Monetary,
    double Orders,
    double AverageOrderValue,
    double RecencyDays,
    LifecycleStage Stage,
    string TopCategory,
    IReadOnlyList<string> Purchases)
{
    /// <summary>The traits of <paramref name="view"/> with <paramref name="embedding"/>.</summary>
    public static MemberTraits Of(ProfileView view, float[] embedding)
    {
        ArgumentNullException.ThrowIfNull(view);

        // Loops rather than LINQ: every segment refresh takes her traits.
        var top = "";
        foreach (var c in view.TopCategories)
        {
            if (!c.Category.Contains('.', StringComparison.Ordinal))
            {
                top = c.Category;
                break;
            }
        }

        // Kept while she is a member: no list for the many who bought nothing.
        List<string>? purchases = null;
        foreach (var r in view.RecentItems)
        {
            if (r.Type == EventType.Purchase)
            {
                (purchases ??= new List<string>(MaxPurchases)).Add(r.ItemId);
                if (purchases.Count == MaxPurchases)
                {
                    break;
                }
            }
        }

        return new MemberTraits(
            embedding,
            view.Rfm.Monetary,
            view.Orders,
            view.AverageOrderValue,
            Math.Max(0, (view.AsOf - view.LastSeen).TotalDays),
            view.Lifecycle.Stage,
            top,
            purchases is null ? [] : purchases);
    }

    /// <summary>
    /// The traits of <paramref name="profile"/> as of <paramref name="now"/> with <paramref name="embedding"/>: the same
    /// as <see cref="Of(ProfileView, float[])"/> of <c>profile.View(now)</c>, read from the fold state without building
    /// the view (its sorted category list, recent items, RFM scores and lifecycle explanation), which every ML-segment
    /// assignment, one per ingest refresh, would otherwise make and drop.
    /// </summary>
    public static MemberTraits Of(UserProfile profile, DateTimeOffset now, float[] embedding)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var s = profile.State;
        // Counted first, then copied into an array of that size: kept while she is a member, and one refresh of a buyer
        // made a List and its five slots (the ingest refresh assigns every refreshed user).
        var bought = 0;
        foreach (var r in s.RecentItems)
        {
            if (r.Type == EventType.Purchase && ++bought == MaxPurchases)
            {
                break;
            }
        }

        string[] purchases = bought == 0 ? [] : new string[bought];
        bought = 0;
        foreach (var r in s.RecentItems)
        {
            if (bought == purchases.Length)
            {
                break;
            }

            if (r.Type == EventType.Purchase)
            {
                purchases[bought++] = r.ItemId;
            }
        }

        return new MemberTraits(
            embedding,
            s.Spend - s.Returned,
            s.Orders,
            s.Orders > 0 ? s.Spend / s.Orders : 0,
            Math.Max(0, (now - s.LastSeen).TotalDays),
            profile.StageAt(now),
            profile.TopLevelCategoryAt(now),
            purchases);
    }

    // Items bought recently that a member contributes to her segment's top items.
    private const int MaxPurchases = 5;
}

/// <summary>
/// Running sums over a set of users (one segment, or everyone): size, embedding sum, trait means, lifecycle mix, top
/// categories and items. Add and remove are exact inverses. Not thread-safe: owned by one segment grain.
/// </summary>
public sealed class SegmentStatistics
{
    private readonly double[] _embeddingSum;
    private readonly long[] _stages = new long[(int)LifecycleStage.Reactivated + 1];
    private readonly Dictionary<string, long> _categories = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _items = new(StringComparer.Ordinal);
    private double _monetary;
    private double _orders;
    private double _averageOrderValue;
    private double _recency;
    private long _buyers;

    /// <summary>Empty statistics for embeddings of <paramref name="dimensions"/> values.</summary>
    public SegmentStatistics(int dimensions) => _embeddingSum = new double[dimensions];

    /// <summary>Embedding length.</summary>
    public int Dimensions => _embeddingSum.Length;

    /// <summary>Members.</summary>
    public long Size { get; private set; }

    /// <summary>Mean net spend.</summary>
    public double MeanMonetary => Size == 0 ? 0 : _monetary / Size;

    /// <summary>Mean orders.</summary>
    public double MeanOrders => Size == 0 ? 0 : _orders / Size;

    /// <summary>Mean order value over members with orders.</summary>
    public double MeanOrderValue => _buyers == 0 ? 0 : _averageOrderValue / _buyers;

    /// <summary>Mean days since last activity.</summary>
    public double MeanRecencyDays => Size == 0 ? 0 : _recency / Size;

    /// <summary>Share of members with at least one order.</summary>
    public double BuyerShare => Size == 0 ? 0 : _buyers / (double)Size;

    /// <summary>Members per lifecycle stage.</summary>
    public IReadOnlyDictionary<LifecycleStage, long> LifecycleMix =>
        Enumerable.Range(1, _stages.Length - 1).Where(s => _stages[s] > 0).ToDictionary(s => (LifecycleStage)s, s => _stages[s]);

    /// <summary>The share of members whose top category is <paramref name="category"/>.</summary>
    public double CategoryShare(string category) => Size == 0 ? 0 : _categories.GetValueOrDefault(category) / (double)Size;

    /// <summary>Top categories by members, most first (ties by name).</summary>
    public IReadOnlyList<(string Category, long Members)> TopCategories(int count) =>
        [.. _categories.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(count).Select(p => (p.Key, p.Value))];

    /// <summary>Most bought items by members, most first (ties by id).</summary>
    public IReadOnlyList<(string ItemId, long Buyers)> TopItems(int count) =>
        [.. _items.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(count).Select(p => (p.Key, p.Value))];

    /// <summary>Members who recently bought <paramref name="itemId"/>.</summary>
    public long ItemBuyers(string itemId) => _items.GetValueOrDefault(itemId);

    /// <summary>The unit mean embedding of the members (zero when empty).</summary>
    public float[] MeanDirection()
    {
        var mean = new float[_embeddingSum.Length];
        for (var i = 0; i < mean.Length; i++)
        {
            mean[i] = (float)_embeddingSum[i];
        }

        SegmentationModel.Normalise(mean);
        return mean;
    }

    /// <summary>Adds a member.</summary>
    public void Add(MemberTraits member) => Apply(member, +1);

    /// <summary>Removes a member added before with the same traits.</summary>
    public void Remove(MemberTraits member) => Apply(member, -1);

    /// <summary>Adds everything in <paramref name="other"/> (for the all-users baseline).</summary>
    public void Merge(SegmentStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _embeddingSum.Length; i++)
        {
            _embeddingSum[i] += other._embeddingSum[i];
        }

        for (var s = 0; s < _stages.Length; s++)
        {
            _stages[s] += other._stages[s];
        }

        foreach (var (k, v) in other._categories)
        {
            _categories[k] = _categories.GetValueOrDefault(k) + v;
        }

        foreach (var (k, v) in other._items)
        {
            _items[k] = _items.GetValueOrDefault(k) + v;
        }

        Size += other.Size;
        _monetary += other._monetary;
        _orders += other._orders;
        _averageOrderValue += other._averageOrderValue;
        _recency += other._recency;
        _buyers += other._buyers;
    }

    /// <summary>The running sums as plain data (to carry them across a process boundary); <see cref="FromState"/> inverts it.</summary>
    public SegmentStatisticsState ToState() => new(
        [.. _embeddingSum], [.. _stages], new(_categories, StringComparer.Ordinal), new(_items, StringComparer.Ordinal), Size, _monetary, _orders, _averageOrderValue, _recency, _buyers);

    /// <summary>Statistics with the sums of <paramref name="state"/>.</summary>
    public static SegmentStatistics FromState(SegmentStatisticsState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var statistics = new SegmentStatistics(state.EmbeddingSum.Length);
        state.EmbeddingSum.CopyTo(statistics._embeddingSum, 0);
        state.Stages.AsSpan(0, Math.Min(state.Stages.Length, statistics._stages.Length)).CopyTo(statistics._stages);
        foreach (var (k, v) in state.Categories)
        {
            statistics._categories[k] = v;
        }

        foreach (var (k, v) in state.Items)
        {
            statistics._items[k] = v;
        }

        statistics.Size = state.Size;
        statistics._monetary = state.Monetary;
        statistics._orders = state.Orders;
        statistics._averageOrderValue = state.AverageOrderValue;
        statistics._recency = state.Recency;
        statistics._buyers = state.Buyers;
        return statistics;
    }

    /// <summary>One line of numbers for people ("412 users, 38% buyers, mean spend 212.40, ...").</summary>
    public string Summary() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Size:N0} users, {BuyerShare:P0} buyers, mean spend {MeanMonetary:F2}, mean orders {MeanOrders:F2}, order value {MeanOrderValue:F2}, last seen {MeanRecencyDays:F0} days ago");

    private void Apply(MemberTraits m, int sign)
    {
        if (m.Embedding.Length != _embeddingSum.Length)
        {
            throw new ArgumentException($"an embedding of {_embeddingSum.Length} values was expected; got {m.Embedding.Length}");
        }

        for (var i = 0; i < _embeddingSum.Length; i++)
        {
            _embeddingSum[i] += sign * m.Embedding[i];
        }

        Size += sign;
        _monetary += sign * m.Monetary;
        _orders += sign * m.Orders;
        _recency += sign * m.RecencyDays;
        if (m.Orders > 0)
        {
            _buyers += sign;
            _averageOrderValue += sign * m.AverageOrderValue;
        }

        _stages[(int)m.Stage] += sign;
        Count(_categories, m.TopCategory, sign);
        // By index: a foreach through IReadOnlyList would box an enumerator per member counted in and out.
        var purchases = m.Purchases;
        for (var i = 0; i < purchases.Count; i++)
        {
            Count(_items, purchases[i], sign);
        }
    }

    private static void Count(Dictionary<string, long> counts, string key, int sign)
    {
        if (key.Length == 0)
        {
            return;
        }

        var n = counts.GetValueOrDefault(key) + sign;
        if (n <= 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = n;
        }
    }
}

/// <summary>
/// Names a segment by the traits that most distinguish it from everyone: spending and basket size against the mean,
/// buyers or browsers, the category its members favour far more than others do, and its lifecycle stage when more than half its members share it,
/// e.g. "big-basket home buyers, mostly at-risk". Deterministic; pure.
/// </summary>
public static class SegmentLabeler
{
    /// <summary>
    /// Labels for every segment of one segmentation, all different: segments whose <see cref="Label"/> coincides are
    /// told apart by the trait in which they differ most (relative to everyone's mean), with its value, e.g.
    /// "browsers, mostly new (last seen 3 days ago)" and "browsers, mostly new (last seen 41 days ago)"; when even
    /// that coincides, by their position ("#2"). Deterministic.
    /// </summary>
    public static string[] LabelAll(IReadOnlyList<SegmentStatistics> segments, SegmentStatistics everyone)
    {
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(everyone);
        var labels = segments.Select(s => Label(s, everyone)).ToArray();
        foreach (var group in Enumerable.Range(0, labels.Length).GroupBy(i => labels[i], StringComparer.Ordinal).Where(g => g.Count() > 1).ToList())
        {
            var members = group.ToArray();
            var trait = s_traits.MaxBy(t => Spread(t, members.Select(i => segments[i]), everyone))!;
            foreach (var i in members)
            {
                labels[i] += " (" + trait.Describe(segments[i]) + ")";
            }
        }

        // Two segments equal even in their most different trait (rounded): their position keeps the labels apart.
        foreach (var group in Enumerable.Range(0, labels.Length).GroupBy(i => labels[i], StringComparer.Ordinal).Where(g => g.Count() > 1).ToList())
        {
            var n = 1;
            foreach (var i in group)
            {
                labels[i] += " #" + n++.ToString(CultureInfo.InvariantCulture);
            }
        }

        return labels;
    }

    /// <summary>Traits that tell segments apart, with how each reads in a label.</summary>
    private static readonly (Func<SegmentStatistics, double> Value, Func<SegmentStatistics, string> Describe)[] s_traits =
    [
        (s => s.MeanMonetary, s => string.Create(CultureInfo.InvariantCulture, $"mean spend {s.MeanMonetary:F0}")),
        (s => s.MeanOrders, s => string.Create(CultureInfo.InvariantCulture, $"{s.MeanOrders:F1} orders each")),
        (s => s.MeanOrderValue, s => string.Create(CultureInfo.InvariantCulture, $"order value {s.MeanOrderValue:F0}")),
        (s => s.MeanRecencyDays, s => string.Create(CultureInfo.InvariantCulture, $"last seen {s.MeanRecencyDays:F0} days ago")),
        (s => s.BuyerShare, s => string.Create(CultureInfo.InvariantCulture, $"{s.BuyerShare:P0} buyers")),
    ];

    /// <summary>How far apart the segments are in one trait, relative to everyone's mean of it (0 when they agree).</summary>
    private static double Spread((Func<SegmentStatistics, double> Value, Func<SegmentStatistics, string> Describe) trait, IEnumerable<SegmentStatistics> segments, SegmentStatistics everyone)
    {
        var values = segments.Select(trait.Value).ToArray();
        return (values.Max() - values.Min()) / Math.Max(1e-9, Math.Abs(trait.Value(everyone)));
    }

    /// <summary>A label for <paramref name="segment"/> compared with <paramref name="everyone"/>.</summary>
    public static string Label(SegmentStatistics segment, SegmentStatistics everyone)
    {
        ArgumentNullException.ThrowIfNull(segment);
        ArgumentNullException.ThrowIfNull(everyone);
        if (segment.Size == 0)
        {
            return "empty";
        }

        var words = new List<string>();
        var buyers = segment.BuyerShare >= 0.5;
        if (buyers && everyone.MeanMonetary > 0)
        {
            var spend = segment.MeanMonetary / everyone.MeanMonetary;
            var basket = everyone.MeanOrderValue > 0 ? segment.MeanOrderValue / everyone.MeanOrderValue : 1;
            var orders = everyone.MeanOrders > 0 ? segment.MeanOrders / everyone.MeanOrders : 1;
            if (basket >= 1.4)
            {
                words.Add("big-basket");
            }
            else if (basket <= 0.6)
            {
                words.Add("small-basket");
            }

            if (orders >= 1.5)
            {
                words.Add("frequent");
            }
            else if (spend >= 1.5)
            {
                words.Add("big-spending");
            }
            else if (spend <= 0.5 && basket > 0.6)
            {
                words.Add("low-spending");
            }
        }

        // The category with the highest lift over everyone's share, if it is clearly this segment's thing; without
        // categories (some shops send none), the item its members buy far more often than others do.
        var category = segment.TopCategories(5)
            .Select(c => (c.Category, Share: segment.CategoryShare(c.Category), Lift: segment.CategoryShare(c.Category) / Math.Max(1e-9, everyone.CategoryShare(c.Category))))
            .Where(c => c.Share >= 0.3 && c.Lift >= 1.3)
            .OrderByDescending(c => c.Lift).ThenBy(c => c.Category, StringComparer.Ordinal)
            .Select(c => c.Category)
            .FirstOrDefault();
        string? signatureItem = null;
        if (category is not null)
        {
            words.Add(category);
        }
        else if (everyone.Size > 0)
        {
            signatureItem = segment.TopItems(10)
                .Select(i => (i.ItemId, Share: i.Buyers / (double)segment.Size, Lift: i.Buyers / (double)segment.Size / Math.Max(1e-9, everyone.ItemBuyers(i.ItemId) / (double)everyone.Size)))
                .Where(i => i.Share >= 0.2 && i.Lift >= 2)
                .OrderByDescending(i => i.Lift).ThenBy(i => i.ItemId, StringComparer.Ordinal)
                .Select(i => i.ItemId)
                .FirstOrDefault();
        }

        words.Add(buyers ? "buyers" : "browsers");
        if (signatureItem is not null)
        {
            words.Add("of " + signatureItem);
        }

        var label = string.Join(' ', words);
        var (stage, members) = segment.LifecycleMix.OrderByDescending(p => p.Value).ThenBy(p => p.Key).FirstOrDefault();
        if (members * 2 > segment.Size)
        {
            label += ", mostly " + stage switch
            {
                LifecycleStage.New => "new",
                LifecycleStage.Active => "active",
                LifecycleStage.AtRisk => "at-risk",
                LifecycleStage.Churned => "churned",
                _ => "reactivated",
            };
        }

        return label;
    }
}
