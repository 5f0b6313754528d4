namespace Segmentation.Core;

/// <summary>
/// Everything a <see cref="UserProfile"/> folds, as plain serializable data (a snapshot). Restoring it and applying
/// more events gives exactly the state of applying all events from scratch.
/// </summary>
/// <remarks>
/// It is also the live state of every active user, so it is laid out for memory: the entries of its lists are structs
/// (no object header or reference per entry), its strings are shared through <see cref="ProfileStrings"/>, and each
/// list grows to its configured bound, never past it. The JSON of this layout is the same as that of format 2's
/// classes, so snapshots of either read the same.
/// </remarks>
public sealed class ProfileState
{
    /// <summary>
    /// The layout of this state written by this build. A snapshot with another value was folded by a build that kept
    /// different fields: it must not be restored; the user's events are replayed from the start instead.
    /// </summary>
    public const int CurrentFormat = 3;

    /// <summary>The layout the snapshot was written with (absent in the first layout, so it reads as 0).</summary>
    public int Format { get; set; }

    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>Events folded.</summary>
    public long EventCount { get; set; }

    /// <summary>Events per type, indexed by <see cref="EventType"/> value.</summary>
    public long[] Counts { get; set; } = [];

    /// <summary>Earliest event time.</summary>
    public DateTimeOffset FirstSeen { get; set; }

    /// <summary>Latest event time (last activity).</summary>
    public DateTimeOffset LastSeen { get; set; }

    /// <summary>
    /// The event key (<see cref="UserProfile.EventKey"/>) of the last event in fold order, the greatest folded at
    /// <see cref="LastSeen"/> (see <see cref="UserProfile.FoldOrder"/>): an event that sorts after it folds on; one that
    /// sorts before it is late and the profile is folded again in order. A hash, not the id: 8 bytes in every live
    /// profile instead of a string. Added in format 3.
    /// </summary>
    public long LastEventKey { get; set; }

    /// <summary>When the user last came back after more than the at-risk gap; null if never.</summary>
    public DateTimeOffset? ResumedAt { get; set; }

    /// <summary>When the user last came back after more than the churn gap; null if never.</summary>
    public DateTimeOffset? ReactivatedAt { get; set; }

    /// <summary>Days of the gap before the last reactivation.</summary>
    public int ReactivationGapDays { get; set; }

    /// <summary>Orders (purchase lines grouped by order_id).</summary>
    public long Orders { get; set; }

    /// <summary>The order id of the last purchase folded ("" when it had none).</summary>
    public string LastOrderId { get; set; } = "";

    /// <summary>Gross purchase value.</summary>
    public double Spend { get; set; }

    /// <summary>Value of returns.</summary>
    public double Returned { get; set; }

    /// <summary>Latest purchase time; null if none.</summary>
    public DateTimeOffset? LastPurchase { get; set; }

    /// <summary>Decayed affinities as of each one's own time.</summary>
    public List<CategoryState> Categories { get; set; } = [];

    /// <summary>Distinct recent items, newest first.</summary>
    public List<RecentItemState> RecentItems { get; set; } = [];

    /// <summary>Recent item interactions for the recommenders, in fold order (newest last).</summary>
    public List<InteractionState> History { get; set; } = [];

    /// <summary>Distinct purchased items with their latest purchase, least recently purchased first.</summary>
    public List<InteractionState> Purchased { get; set; } = [];
}

/// <summary>An item interaction kept for the recommenders.</summary>
public struct InteractionState
{
    /// <summary>The item.</summary>
    public string ItemId { get; set; }

    /// <summary>What happened.</summary>
    public EventType Type { get; set; }

    /// <summary>When.</summary>
    public DateTimeOffset At { get; set; }

    /// <summary>Stars of a rating (0 for other types).</summary>
    public double Rating { get; set; }
}

/// <summary>A category's affinity <see cref="Value"/> as of <see cref="AsOf"/>.</summary>
public struct CategoryState
{
    /// <summary>Category path.</summary>
    public string Category { get; set; }

    /// <summary>Affinity at <see cref="AsOf"/>.</summary>
    public double Value { get; set; }

    /// <summary>When <see cref="Value"/> was computed.</summary>
    public DateTimeOffset AsOf { get; set; }
}

/// <summary>A recent item.</summary>
public struct RecentItemState
{
    /// <summary>The item.</summary>
    public string ItemId { get; set; }

    /// <summary>The event type that touched it last.</summary>
    public EventType Type { get; set; }

    /// <summary>When.</summary>
    public DateTimeOffset At { get; set; }
}
