using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting.Placement;

namespace Segmentation.Host.Segments;

/// <summary>
/// One ML segment's live statistics (size, embedding sum, trait means, lifecycle mix, top categories and items): users
/// join and leave it as their embeddings move, in the batches <see cref="MlSegmentation.FlushAsync"/> sends, one call at a
/// time, so the sums are exact. On activation it rebuilds its sums from the members <see cref="SegmentMembers"/> counts
/// in it, so an idle deactivation loses nothing.
/// </summary>
[RequiresRole(ServerRoles.Silo)]
internal sealed class SegmentGrain : Grain, ISegmentGrain
{
    // Single-silo: the member table is this process's; the cluster issue makes it cluster-wide (segment grains then
    // keep their members in storage).
    private readonly SegmentMembers _members;
    private readonly MlSegmentation _ml;
    private int _dimensions;
    private SegmentStatistics _statistics = null!;
    private int _segmentId;

    public SegmentGrain(GrainServices services)
    {
        _ml = services.Users.Ml ?? throw new InvalidOperationException("Segment grains need the ML segmentation.");
        _members = _ml.Members;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _segmentId = TenantKeys.SegmentIdOf(this.GetPrimaryKeyString());
        _dimensions = Math.Max(1, _ml.Current?.Dimensions ?? 1);
        _statistics = new SegmentStatistics(_dimensions);
        foreach (var (_, entry) in _members.InSegment(_segmentId))
        {
            _statistics.Add(entry.Traits);
        }

        return Task.CompletedTask;
    }

    public Task JoinAsync(SegmentJoin[] joins)
    {
        foreach (var join in joins)
        {
            if (_members.Remove(join.UserId, _segmentId) is { } previous)
            {
                _statistics.Remove(previous.Traits);
            }

            if (join.Traits.Embedding.Length != _dimensions && _statistics.Size == 0)
            {
                // A new embedding model with another D: an empty segment starts over in the new space.
                _dimensions = join.Traits.Embedding.Length;
                _statistics = new SegmentStatistics(_dimensions);
            }

            _members.Set(join.UserId, new MemberEntry(_segmentId, join.Traits, join.Distance));
            _statistics.Add(join.Traits);
        }

        return Task.CompletedTask;
    }

    public Task LeaveAsync(string[] userIds)
    {
        foreach (var userId in userIds)
        {
            if (_members.Remove(userId, _segmentId) is { } previous)
            {
                _statistics.Remove(previous.Traits);
            }
        }

        return Task.CompletedTask;
    }

    public Task<SegmentStatistics> GetStatisticsAsync()
    {
        // A copy of our own: the caller must never share the running sums, whatever Orleans' copier decides.
        var copy = new SegmentStatistics(_dimensions);
        copy.Merge(_statistics);
        return Task.FromResult(copy);
    }
}
