using Segmentation.Core.Clustering;

namespace Segmentation.Grains;

/// <summary>
/// One ML segment's live statistics (key <see cref="TenantKeys.Segment"/>: <c>tenant/segmentId</c>): users join and
/// leave as their embeddings move, in batches (each silo records its users' moves and sends them now and then), one call
/// at a time, so the running sums are exact.
/// </summary>
[Alias("segmentation.ISegmentGrain")]
public interface ISegmentGrain : IGrainWithStringKey
{
    /// <summary>
    /// Adds (or updates) members, in order: each one's previous contribution to this segment, if any, is replaced. A
    /// user must have left her previous segment (<see cref="LeaveAsync"/> on that one) before she joins another.
    /// </summary>
    [Alias("Join")]
    Task JoinAsync(SegmentJoin[] joins);

    /// <summary>Removes members (nothing for a user not in this segment).</summary>
    [Alias("Leave")]
    Task LeaveAsync(string[] userIds);

    /// <summary>A copy of the statistics now.</summary>
    [Alias("GetStatistics")]
    Task<SegmentStatistics> GetStatisticsAsync();

    /// <summary>Who is counted in this segment now, with each one's distance to its centroid.</summary>
    [Alias("GetMembers")]
    Task<SegmentMember[]> GetMembersAsync();
}

/// <summary>A member of an ML segment and her distance to its centroid.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentMember")]
public readonly record struct SegmentMember([property: Id(0)] string UserId, [property: Id(1)] double Distance);
