using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting.Placement;

namespace Segmentation.Host.Segments;

/// <summary>
/// One ML segment's live statistics (size, embedding sum, trait means, lifecycle mix, top categories and items): users
/// join and leave it as their embeddings move, in the batches <see cref="MlSegmentation.FlushAsync"/> sends, one call at a
/// time, so the sums are exact. It keeps its members (user → what she contributes), from whichever silo they came. On
/// activation it rebuilds them from what every silo handed it (<see cref="MlSegmentation.CountedMembersEverywhereAsync"/>),
/// so an idle deactivation loses nothing; after its silo died, the members only a dead silo had handed it come back as
/// their users are assigned again.
/// </summary>
[RequiresRole(ServerRoles.Silo)]
internal sealed class SegmentGrain : Grain, ISegmentGrain
{
    // Each member's join as it arrived: what she contributes, subtracted again when she leaves or joins anew (kept as
    // received, not copied into an entry of our own: one object fewer per join, and every ingest refresh joins her).
    private readonly Dictionary<string, SegmentJoin> _members = new(StringComparer.Ordinal);
    private readonly GrainServices _services;
    private MlSegmentation _ml = null!;
    private int _dimensions;
    private SegmentStatistics _statistics = null!;
    private int _segmentId;

    public SegmentGrain(GrainServices services)
    {
        _services = services;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        _segmentId = TenantKeys.SegmentIdOf(key);
        // The segmentation of the segment's tenant.
        _ml = _services.Users.Segmentations is { } segmentations
            ? (await segmentations.ForAsync(TenantKeys.TenantOf(key), cancellationToken)).Ml
            : _services.Users.Ml ?? throw new InvalidOperationException("Segment grains need the ML segmentation.");
        _dimensions = Math.Max(1, _ml.Current?.Dimensions ?? 1);
        _statistics = new SegmentStatistics(_dimensions);
        foreach (var member in await _ml.CountedMembersEverywhereAsync(_segmentId))
        {
            if (_members.TryAdd(member.UserId, member))
            {
                _statistics.Add(member.Traits);
            }
        }
    }

    public Task JoinAsync(SegmentJoin[] joins)
    {
        foreach (var join in joins)
        {
            if (_members.Remove(join.UserId, out var previous))
            {
                _statistics.Remove(previous.Traits);
            }

            if (join.Traits.Embedding.Length != _dimensions)
            {
                // A new embedding model with another D: the segment starts over in the new space. Members still counted
                // in the old one (a segment id reused across encoders) are dropped: they are being re-assigned, and a
                // later leave of theirs finds nothing to remove.
                _dimensions = join.Traits.Embedding.Length;
                _statistics = new SegmentStatistics(_dimensions);
                foreach (var (userId, _) in _members.Where(m => m.Value.Traits.Embedding.Length != _dimensions).ToList())
                {
                    _members.Remove(userId);
                }

                foreach (var (_, entry) in _members)
                {
                    _statistics.Add(entry.Traits);
                }
            }

            _members[join.UserId] = join;
            _statistics.Add(join.Traits);
        }

        return Task.CompletedTask;
    }

    public Task LeaveAsync(string[] userIds)
    {
        foreach (var userId in userIds)
        {
            if (_members.Remove(userId, out var previous))
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

    public Task<SegmentMember[]> GetMembersAsync()
    {
        var members = new SegmentMember[_members.Count];
        var i = 0;
        foreach (var (userId, entry) in _members)
        {
            members[i++] = new SegmentMember(userId, entry.Distance);
        }

        return Task.FromResult(members);
    }
}
