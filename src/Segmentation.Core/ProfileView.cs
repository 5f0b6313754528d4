namespace Segmentation.Core;

/// <summary>Lifecycle stages. The numbers equal the public contract's <c>segmentation.v1.LifecycleStage</c>.</summary>
public enum LifecycleStage
{
    /// <summary>Not assessed.</summary>
    Unspecified = 0,

    /// <summary>First seen recently.</summary>
    New = 1,

    /// <summary>Active within the at-risk threshold.</summary>
    Active = 2,

    /// <summary>Inactive longer than the at-risk threshold.</summary>
    AtRisk = 3,

    /// <summary>Inactive longer than the churn threshold.</summary>
    Churned = 4,

    /// <summary>Came back after churning.</summary>
    Reactivated = 5,
}

/// <summary>A user's lifecycle stage at some time, since when, and why, in one line.</summary>
public sealed record LifecycleAssessment(LifecycleStage Stage, DateTimeOffset Since, string Explanation);

/// <summary>Recency, frequency and monetary value with their 1–5 scores.</summary>
/// <param name="RecencyDays">Whole days since the last purchase; -1 when the user never purchased.</param>
public sealed record RfmScore(int RecencyDays, long Frequency, double Monetary, int RecencyScore, int FrequencyScore, int MonetaryScore);

/// <summary>Decayed engagement with a category, and its share of the user's total.</summary>
public sealed record CategoryAffinity(string Category, double Affinity, double Share);

/// <summary>An item the user touched recently.</summary>
public sealed record RecentItem(string ItemId, EventType Type, DateTimeOffset At);

/// <summary>How many events of one type.</summary>
public sealed record EventTypeCount(EventType Type, long Count);

/// <summary>A profile with every derived value computed as of <see cref="AsOf"/>.</summary>
public sealed record ProfileView(
    string UserId,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    long EventCount,
    IReadOnlyList<EventTypeCount> Counts,
    long Orders,
    double Spend,
    double Returned,
    double AverageOrderValue,
    DateTimeOffset? LastPurchase,
    RfmScore Rfm,
    IReadOnlyList<CategoryAffinity> TopCategories,
    IReadOnlyList<RecentItem> RecentItems,
    LifecycleAssessment Lifecycle,
    DateTimeOffset AsOf);
