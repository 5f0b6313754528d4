using System.Globalization;

namespace Segmentation.Core;

/// <summary>
/// How profiles are folded and judged. Bound from configuration by the host; all thresholds are in event time.
/// Call <see cref="Validate"/> once at startup: a profile trusts its options.
/// </summary>
public sealed class ProfileOptions
{
    /// <summary>Lifecycle thresholds.</summary>
    public LifecycleOptions Lifecycle { get; set; } = new();

    /// <summary>RFM score breakpoints.</summary>
    public RfmOptions Rfm { get; set; } = new();

    /// <summary>Category affinity halves every this long without new engagement (event time). Must be positive.</summary>
    public TimeSpan AffinityHalfLife { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Most categories (paths and their parents) kept per user; the lowest affinity is dropped first.</summary>
    public int MaxCategories { get; set; } = 32;

    /// <summary>How many distinct recent items are kept.</summary>
    public int RecentItems { get; set; } = 20;

    /// <summary>
    /// How many recent item interactions (views, cart adds and removals, wishlists, purchases, ratings) are kept for the recommenders,
    /// newest last; older ones are dropped.
    /// </summary>
    public int HistoryInteractions { get; set; } = 100;

    /// <summary>How many distinct purchased items are remembered (so they are not recommended again); the oldest purchase is forgotten first.</summary>
    public int PurchasedItems { get; set; } = 500;

    /// <summary>
    /// Affinity credit per event type. Purchases say most about taste, views little, searches least; removals and
    /// returns take credit away (an affinity never goes below 0). A type missing here (or weighted 0) leaves affinities
    /// alone. Binding from configuration overrides the listed types and keeps the others.
    /// Defaults: view 1, search 0.5, add_to_cart 3, remove_from_cart -1, purchase 5, return -3, rating 2, review 2,
    /// wishlist 2.
    /// </summary>
    public Dictionary<EventType, double> EventWeights { get; set; } = new()
    {
        [EventType.View] = 1,
        [EventType.Search] = 0.5,
        [EventType.AddToCart] = 3,
        [EventType.RemoveFromCart] = -1,
        [EventType.Purchase] = 5,
        [EventType.Return] = -3,
        [EventType.Rating] = 2,
        [EventType.Review] = 2,
        [EventType.Wishlist] = 2,
    };

    /// <summary>The problems with these options, one sentence each naming the setting; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (AffinityHalfLife <= TimeSpan.Zero)
        {
            problems.Add("AffinityHalfLife must be positive");
        }

        if (MaxCategories < 1)
        {
            problems.Add("MaxCategories must be at least 1");
        }

        if (RecentItems < 1)
        {
            problems.Add("RecentItems must be at least 1");
        }

        if (HistoryInteractions < 0)
        {
            problems.Add("HistoryInteractions must not be negative");
        }

        if (PurchasedItems < 0)
        {
            problems.Add("PurchasedItems must not be negative");
        }

        foreach (var (type, weight) in EventWeights)
        {
            if (!double.IsFinite(weight))
            {
                problems.Add($"EventWeights[{type}] must be a finite number");
            }
        }

        var l = Lifecycle;
        if (l.NewForDays < 0 || l.ReactivatedForDays < 0)
        {
            problems.Add("Lifecycle.NewForDays and Lifecycle.ReactivatedForDays must not be negative");
        }

        if (l.AtRiskAfterDays < 1 || l.ChurnedAfterDays <= l.AtRiskAfterDays)
        {
            problems.Add("Lifecycle needs 1 <= AtRiskAfterDays < ChurnedAfterDays");
        }

        CheckBreakpoints(problems, "Rfm.RecencyDays", Rfm.RecencyDays?.Select(d => (double)d));
        CheckBreakpoints(problems, "Rfm.Frequency", Rfm.Frequency?.Select(f => (double)f));
        CheckBreakpoints(problems, "Rfm.Monetary", Rfm.Monetary);
        return problems;
    }

    private static void CheckBreakpoints(List<string> problems, string name, IEnumerable<double>? breakpoints)
    {
        if (breakpoints is null)
        {
            return;
        }

        var b = breakpoints.ToArray();
        var ascending = b.Length == RfmOptions.BreakpointCount && b.All(double.IsFinite) && b.Zip(b.Skip(1)).All(p => p.First < p.Second);
        if (!ascending)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name} must be {RfmOptions.BreakpointCount} strictly ascending numbers"));
        }
    }
}

/// <summary>Lifecycle stage thresholds, in whole days of event time.</summary>
public sealed class LifecycleOptions
{
    /// <summary>A user is new for this many days after her first event.</summary>
    public int NewForDays { get; set; } = 14;

    /// <summary>At-risk after more than this many days without activity.</summary>
    public int AtRiskAfterDays { get; set; } = 30;

    /// <summary>Churned after more than this many days without activity; must exceed <see cref="AtRiskAfterDays"/>.</summary>
    public int ChurnedAfterDays { get; set; } = 90;

    /// <summary>A churned user who comes back is reactivated for this many days.</summary>
    public int ReactivatedForDays { get; set; } = 30;
}

/// <summary>
/// Fixed breakpoints for RFM scores (1 worst, 5 best). Four strictly ascending breakpoints per dimension split it into
/// five bands; fixed rather than population quintiles so a score is explainable and does not move when others shop.
/// A null array means the documented default. (Null rather than a default array because configuration binding appends
/// to an existing array instead of replacing it.)
/// </summary>
public sealed class RfmOptions
{
    /// <summary>Breakpoints per dimension.</summary>
    public const int BreakpointCount = 4;

    /// <summary>Default <see cref="RecencyDays"/>.</summary>
    public static IReadOnlyList<int> DefaultRecencyDays { get; } = [7, 30, 90, 180];

    /// <summary>Default <see cref="Frequency"/>.</summary>
    public static IReadOnlyList<int> DefaultFrequency { get; } = [1, 2, 4, 8];

    /// <summary>Default <see cref="Monetary"/>.</summary>
    public static IReadOnlyList<double> DefaultMonetary { get; } = [50, 200, 500, 1000];

    /// <summary>
    /// Whole days since the last purchase, upper bounds of scores 5..2. Default [7, 30, 90, 180]: at most 7 days
    /// scores 5, at most 30 → 4, at most 90 → 3, at most 180 → 2, more (or never purchased) → 1.
    /// </summary>
    public int[]? RecencyDays { get; set; }

    /// <summary>
    /// Orders, lower bounds of scores 2..5. Default [1, 2, 4, 8]: no order scores 1, 1 → 2, 2–3 → 3, 4–7 → 4, 8+ → 5.
    /// </summary>
    public int[]? Frequency { get; set; }

    /// <summary>
    /// Net spend (purchases minus returns), lower bounds of scores 2..5. Default [50, 200, 500, 1000]: under 50 scores 1,
    /// 50 → 2, 200 → 3, 500 → 4, 1000 and more → 5.
    /// </summary>
    public double[]? Monetary { get; set; }
}
