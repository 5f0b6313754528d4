using System.Collections.Concurrent;
using Segmentation.Core.Clustering;
using Segmentation.Grains;

namespace Segmentation.Host.Segments;

/// <summary>A user's membership of an ML segment: the segment and what she contributes to its statistics.</summary>
internal sealed record MemberEntry(int SegmentId, MemberTraits Traits, double Distance);

/// <summary>
/// Who is in which ML segment, process-wide: user id → <see cref="MemberEntry"/>. Written only inside the turns of the
/// <see cref="SegmentGrain"/> of the segment concerned, so a segment's statistics and its entries here always agree;
/// read by anyone (member streams, re-clustering dry runs). Derived state: rebuilt after a restart by the start-up
/// sweep, in which every user is assigned again.
/// </summary>
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
/// join and leave it as their embeddings move, one turn at a time, so the sums are exact. On activation it rebuilds its
/// sums from <see cref="SegmentMembers"/>, so an idle deactivation loses nothing.
/// </summary>
internal sealed class SegmentGrain : Grain
{
    private readonly SegmentMembers _members;
    private int _dimensions;
    private SegmentStatistics _statistics = null!;
    private int _segmentId;

    public SegmentGrain(SegmentMembers members, int dimensions)
    {
        _members = members;
        _dimensions = Math.Max(1, dimensions);
    }

    /// <summary>The grain key of a segment.</summary>
    public static string KeyOf(int segmentId) => "segment/" + segmentId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _segmentId = int.Parse(Key.AsSpan("segment/".Length), System.Globalization.CultureInfo.InvariantCulture);
        _statistics = new SegmentStatistics(_dimensions);
        foreach (var (_, entry) in _members.InSegment(_segmentId))
        {
            _statistics.Add(entry.Traits);
        }

        return Task.CompletedTask;
    }

    /// <summary>Adds (or updates) a member: her previous contribution to this segment, if any, is replaced.</summary>
    public Task JoinAsync(string userId, MemberTraits traits, double distance)
    {
        if (_members.Remove(userId, _segmentId) is { } previous)
        {
            _statistics.Remove(previous.Traits);
        }

        if (traits.Embedding.Length != _dimensions && _statistics.Size == 0)
        {
            // A new embedding model with another D: an empty segment starts over in the new space.
            _dimensions = traits.Embedding.Length;
            _statistics = new SegmentStatistics(_dimensions);
        }

        _members.Set(userId, new MemberEntry(_segmentId, traits, distance));
        _statistics.Add(traits);
        return Task.CompletedTask;
    }

    /// <summary>Removes a member (nothing when she is not in this segment).</summary>
    public Task LeaveAsync(string userId)
    {
        if (_members.Remove(userId, _segmentId) is { } previous)
        {
            _statistics.Remove(previous.Traits);
        }

        return Task.CompletedTask;
    }

    /// <summary>A copy of the statistics now.</summary>
    public Task<SegmentStatistics> GetStatisticsAsync()
    {
        var copy = new SegmentStatistics(_dimensions);
        copy.Merge(_statistics);
        return Task.FromResult(copy);
    }
}
