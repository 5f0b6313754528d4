using Segmentation.Core;

namespace Segmentation.Grains;

/// <summary>What a change to the recommenders of one silo was, so that every other silo's replica makes the same one.</summary>
public enum RecommenderChangeKind
{
    /// <summary>An event of the user was observed (<see cref="RecommenderChange.ItemId"/> and the fields after it).</summary>
    Observed = 1,

    /// <summary>The user's grain activated: her past interactions are remembered again (<see cref="RecommenderChange.History"/>).</summary>
    Activated = 2,

    /// <summary>The user's grain deactivated: her remembered items are forgotten.</summary>
    Deactivated = 3,

    /// <summary>
    /// A late event of hers changed the lifecycle stage an earlier-observed event was made in: its popularity moves from
    /// <see cref="RecommenderChange.FromStage"/> to <see cref="RecommenderChange.Stage"/>.
    /// </summary>
    Restaged = 4,

    /// <summary>
    /// Late events of a user with more distinct items than a user's list holds: what she pairs is derived again, from
    /// her interactions as they were learned (<see cref="RecommenderChange.Before"/>) to the same with the late ones
    /// in event-time order (<see cref="RecommenderChange.History"/>).
    /// </summary>
    Replayed = 5,

    /// <summary>
    /// The user's ML segment changed: her interactions (<see cref="RecommenderChange.History"/>, every one of her
    /// events with an item) move from the popularity of <see cref="RecommenderChange.FromMlSegment"/> to that of
    /// <see cref="RecommenderChange.MlSegment"/> (−1: none), and her later events count under the new one.
    /// </summary>
    MlSegmentMoved = 6,
}

/// <summary>
/// One change made to the recommenders of the silo that hosts the user's grain, as every other silo's replica applies
/// it: an observed event (its item, category, type, time and rating, with her lifecycle stage right after it and her
/// ML segment her interactions are counted under, and the event's log sequence number), her grain activating (with the
/// interactions remembered) or deactivating, or her interactions moving to another stage or ML segment.
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.RecommenderChange")]
public sealed record RecommenderChange(
    [property: Id(0)] RecommenderChangeKind Kind,
    [property: Id(1)] string UserId,
    [property: Id(2)] string ItemId = "",
    [property: Id(3)] string Category = "",
    [property: Id(4)] EventType Type = EventType.Unspecified,
    [property: Id(5)] DateTimeOffset Timestamp = default,
    [property: Id(6)] double Rating = 0,
    [property: Id(7)] LifecycleStage Stage = LifecycleStage.Unspecified,
    [property: Id(8)] int MlSegment = -1,
    [property: Id(9)] RecommenderInteraction[]? History = null,
    [property: Id(10)] long Sequence = 0)
{
    /// <summary>For <see cref="RecommenderChangeKind.Restaged"/>: the stage the event was counted in before.</summary>
    [Id(11)]
    public LifecycleStage FromStage { get; init; }

    /// <summary>The tenant of the user (each tenant has its own recommenders).</summary>
    [Id(12)]
    public string Tenant { get; init; } = TenantKeys.DefaultTenant;

    /// <summary>For <see cref="RecommenderChangeKind.Replayed"/>: her interactions as they were learned, in event-time order.</summary>
    [Id(13)]
    public RecommenderInteraction[]? Before { get; init; }

    /// <summary>For <see cref="RecommenderChangeKind.Observed"/>: its pairs were derived by a <see cref="RecommenderChangeKind.Replayed"/> change before it; only its popularity is learned.</summary>
    [Id(14)]
    public bool PairsReplayed { get; init; }

    /// <summary>For <see cref="RecommenderChangeKind.MlSegmentMoved"/>: the ML segment her interactions were counted under before (−1: none).</summary>
    [Id(15)]
    public int FromMlSegment { get; init; } = -1;
}

/// <summary>One remembered interaction of a user whose grain activated (see <see cref="RecommenderChange"/>).</summary>
[GenerateSerializer, Immutable, Alias("segmentation.RecommenderInteraction")]
public readonly record struct RecommenderInteraction(
    [property: Id(0)] string ItemId,
    [property: Id(1)] EventType Type,
    [property: Id(2)] DateTimeOffset Timestamp,
    [property: Id(3)] double Rating);

/// <summary>
/// The per-silo endpoint of one silo of a cluster (key: that silo's address, <c>SiloAddress.ToParsableString</c>): it is
/// placed on that silo only, and the other silos call it to keep what every silo holds in memory the same cluster-wide:
/// the recommenders (a replica of every silo's changes), the segmentation model in force and the rule segments.
/// </summary>
[Alias("segmentation.ISiloPeerGrain")]
public interface ISiloPeerGrain : IGrainWithStringKey
{
    /// <summary>Applies <paramref name="changes"/> (from one sender, in the order it made them) to this silo's recommenders.</summary>
    [Alias("ApplyRecommenderChanges")]
    Task ApplyRecommenderChangesAsync(RecommenderChange[] changes);

    /// <summary>Another silo published a segmentation model version: this silo loads every tenant's it serves from storage, where newer.</summary>
    [Alias("ReloadSegmentationModel")]
    Task ReloadSegmentationModelAsync();

    /// <summary>Another silo changed the rule segments: this silo loads them from storage.</summary>
    [Alias("ReloadRuleSegments")]
    Task ReloadRuleSegmentsAsync();

    /// <summary>
    /// Another silo stored a new served item model of <paramref name="tenant"/>: this silo loads that tenant's newest from
    /// the snapshot store and serves it (making the tenant's recommender here if it has none yet).
    /// </summary>
    [Alias("ReloadTenantItemModel")]
    Task ReloadItemModelAsync(string tenant);

    /// <summary>Another silo trained a churn model, value segmentation or anomaly forest: this silo serves what the store holds.</summary>
    [Alias("ReloadGrowthModels")]
    Task ReloadGrowthModelsAsync();

    /// <summary>An inference silo started serving another user encoder version: this silo asks for it at its next embedding.</summary>
    [Alias("UserEncoderChanged")]
    Task UserEncoderChangedAsync();

    /// <summary>
    /// Hands the segment moves this silo's users recorded to the segment grains now (a cluster-wide read of segment
    /// statistics or members asks every silo first).
    /// </summary>
    [Alias("FlushSegmentMoves")]
    Task FlushSegmentMovesAsync();

    /// <summary>
    /// The members of <paramref name="tenant"/>'s ML segment <paramref name="segmentId"/> this silo has handed to its segment grain: a segment grain
    /// that activates again (after idling, or after its silo died) rebuilds its sums from every silo's.
    /// </summary>
    [Alias("GetCountedMembers")]
    Task<SegmentJoin[]> GetCountedMembersAsync(string tenant, int segmentId);

    /// <summary>
    /// The users of <paramref name="tenant"/> this silo's user grains have recorded for the business metrics per
    /// segment (a cluster-wide ListSegments of that tenant merges every silo's, the newest record of each user winning).
    /// </summary>
    [Alias("GetCustomerEntries")]
    Task<CustomerEntry[]> GetCustomerEntriesAsync(string tenant);

    /// <summary>
    /// Another silo has watchers of segment changes (<paramref name="watching"/> true; repeated while it has them) or
    /// no longer has any: this silo relays its users' membership changes to <paramref name="silo"/> (its endpoint's key)
    /// from now on, or stops.
    /// </summary>
    [Alias("SegmentWatchersChanged")]
    Task SegmentWatchersChangedAsync(string silo, bool watching);

    /// <summary>
    /// Users were erased, or their old events dropped by retention (<paramref name="userKeys"/>: <c>tenant/userId</c>;
    /// their events are already gone from the log): this silo forgets them (ML segment membership, remembered items,
    /// watchers) and rebuilds its recommenders from the log without their deleted events, before the call returns.
    /// </summary>
    [Alias("UsersErased")]
    Task UsersErasedAsync(string[] userKeys, bool erased);

    /// <summary>Membership changes of another silo's users (in the order it made them), for this silo's watchers.</summary>
    [Alias("DeliverSegmentChanges")]
    Task DeliverSegmentChangesAsync(SegmentMembershipChange[] changes);
}

/// <summary>A user entered or left a segment on another silo, relayed to the silos that have watchers.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentMembershipChange")]
public sealed record SegmentMembershipChange(
    [property: Id(0)] string UserId,
    [property: Id(1)] string SegmentId,
    [property: Id(2)] bool Entered,
    [property: Id(3)] DateTimeOffset At,
    [property: Id(4)] string Reason,
    [property: Id(5)] string Tenant);
