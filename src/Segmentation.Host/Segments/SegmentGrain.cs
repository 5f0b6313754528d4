using System.Collections.Concurrent;
using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Grains;

namespace Segmentation.Host.Segments;

/// <summary>A user's membership of an ML segment: the segment and what she contributes to its statistics.</summary>
internal sealed record MemberEntry(int SegmentId, MemberTraits Traits, double Distance);

/// <summary>
/// Who is in which ML segment, process-wide: user id → <see cref="MemberEntry"/>. Written only inside the turns of the
/// <see cref="SegmentGrain"/> of the segment concerned, so a segment's statistics and its entries here always agree;
/// read by anyone (member streams, re-clustering dry runs). Derived state: rebuilt after a restart by the start-up
/// sweep, in which every user is assigned again.
/// </summary>
// Single-silo: this table is per process and sees only this silo's segment grains; the cluster issue makes it
// cluster-wide.
internal sealed class SegmentMembers
{
    private readonly ConcurrentDictionary<string, MemberEntry> _entries = new(StringComparer.Ordinal);

    /// <summary>Members of all segments.</summary>
    public int Count => _entries.Count;

    /// <summary>The user's entry, if she is in a segment.</summary>
    public MemberEntry? Of(string userId) => _entries.TryGetValue(userId, out var entry) ? entry : null;

    /// <summary>Every (user, entry) now (a moving snapshot: concurrent changes may or may not show).</summary>
    public IEnumerable<KeyValuePair<string, MemberEntry>> All => _entries;

    /// <summary>The members of one segment now.</summary>
    public IEnumerable<KeyValuePair<string, MemberEntry>> InSegment(int segmentId) => _entries.Where(p => p.Value.SegmentId == segmentId);

    internal void Set(string userId, MemberEntry entry) => _entries[userId] = entry;

    internal MemberEntry? Remove(string userId, int segmentId) =>
        _entries.TryGetValue(userId, out var entry) && entry.SegmentId == segmentId && _entries.TryRemove(new KeyValuePair<string, MemberEntry>(userId, entry)) ? entry : null;
}

/// <summary>
/// One ML segment's live statistics (size, embedding sum, trait means, lifecycle mix, top categories and items): users
/// join and leave it as their embeddings move, one call at a time, so the sums are exact. On activation it rebuilds its
/// sums from <see cref="SegmentMembers"/>, so an idle deactivation loses nothing.
/// </summary>
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

    public Task JoinAsync(SegmentJoin join)
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
        return Task.CompletedTask;
    }

    public Task LeaveAsync(string userId)
    {
        if (_members.Remove(userId, _segmentId) is { } previous)
        {
            _statistics.Remove(previous.Traits);
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
