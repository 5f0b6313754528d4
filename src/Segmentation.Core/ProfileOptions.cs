namespace Segmentation.Core;

/// <summary>How profiles are folded and judged. Bound from configuration by the host; all thresholds in days of event time.</summary>
public sealed class ProfileOptions
{
    /// <summary>Lifecycle thresholds.</summary>
    public LifecycleOptions Lifecycle { get; set; } = new();

    /// <summary>RFM score breakpoints.</summary>
    public RfmOptions Rfm { get; set; } = new();

    /// <summary>Category affinity halves every this long without new engagement.</summary>
    public TimeSpan AffinityHalfLife { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Most categories kept per user; the one with the lowest affinity is dropped first.</summary>
    public int MaxCategories { get; set; } = 32;

    /// <summary>How many distinct recent items are kept.</summary>
    public int RecentItems { get; set; } = 20;

    /// <summary>
    /// Affinity credit per event type. Purchases say most about taste, views least; removals and returns take credit
    /// away (an affinity never goes below 0).
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
}

/// <summary>Lifecycle stage thresholds, in days of event time.</summary>
public sealed class LifecycleOptions
{
    /// <summary>A user is new for this many days after her first event.</summary>
    public int NewForDays { get; set; } = 14;

    /// <summary>At-risk after this many days without activity.</summary>
    public int AtRiskAfterDays { get; set; } = 30;

    /// <summary>Churned after this many days without activity.</summary>
    public int ChurnedAfterDays { get; set; } = 90;

    /// <summary>A churned user who comes back is reactivated for this many days.</summary>
    public int ReactivatedForDays { get; set; } = 30;
}

/// <summary>
/// Fixed breakpoints for RFM scores (1 worst, 5 best). Four ascending breakpoints per dimension split it into five
/// bands; fixed rather than population quintiles so a score is explainable and does not move when others shop.
/// </summary>
public sealed class RfmOptions
{
    /// <summary>Days since the last purchase: at most 7 scores 5, 30 → 4, 90 → 3, 180 → 2, more (or never) → 1.</summary>
    public int[] RecencyDays { get; set; } = [7, 30, 90, 180];

    /// <summary>Orders: at least 8 scores 5, 4 → 4, 2 → 3, 1 → 2, none → 1.</summary>
    public int[] Frequency { get; set; } = [1, 2, 4, 8];

    /// <summary>Net spend: at least 1000 scores 5, 500 → 4, 200 → 3, 50 → 2, less → 1.</summary>
    public double[] Monetary { get; set; } = [50, 200, 500, 1000];
}
