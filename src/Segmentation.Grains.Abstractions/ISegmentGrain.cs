using Segmentation.Core.Clustering;

namespace Segmentation.Grains;

/// <summary>
/// One ML segment's live statistics (key <see cref="TenantKeys.Segment"/>: <c>tenant/segmentId</c>): users join and
/// leave as their embeddings move, one call at a time, so the running sums are exact.
/// </summary>
[Alias("segmentation.ISegmentGrain")]
public interface ISegmentGrain : IGrainWithStringKey
{
    /// <summary>Adds (or updates) a member: her previous contribution to this segment, if any, is replaced.</summary>
    [Alias("Join")]
    Task JoinAsync(SegmentJoin join);

    /// <summary>Removes a member (nothing when she is not in this segment).</summary>
    [Alias("Leave")]
    Task LeaveAsync(string userId);

    /// <summary>A copy of the statistics now.</summary>
    [Alias("GetStatistics")]
    Task<SegmentStatistics> GetStatisticsAsync();
}
