using System.Collections.Concurrent;
using Segmentation.Grains;

namespace Segmentation.Host.Segments;

/// <summary>
/// Who is in which ML segment, as this silo's user grains decided: user id → the <see cref="SegmentJoin"/> of her
/// assignment (her segment, traits and distance), in two layers.
/// The <em>counted</em> layer is what this silo has handed to the <see cref="SegmentGrain"/>s (written by
/// <see cref="MlSegmentation.FlushAsync"/> once they took it; a segment grain that activates again rebuilds its
/// members from every silo's counted layer). The <em>recorded</em> layer is what user
/// grains decided since: each refresh records her latest entry (or her leaving) with <see cref="Record"/>, a dictionary
/// write instead of a segment grain call, and <see cref="MlSegmentation.FlushAsync"/> hands the recorded changes to the
/// segment grains in batches (periodically, and before anyone reads statistics or counted members).
/// </summary>
/// <remarks>
/// <para>Thread-safe. Derived state: rebuilt after a restart by the start-up sweep, in which every user is assigned again.
/// Only a user's latest record matters (a user who moved twice between flushes is counted once, where she is now), so
/// the recorded layer holds at most one entry per user.</para>
/// <para>Both layers hold the join made at her assignment, which the flush hands to the segment grain and the segment
/// grain keeps: one object per assignment, where an entry object here, a SegmentJoin made by the flush and an entry in
/// the segment grain were three. Every ingest refresh assigns her, and each of those lived until her next refresh, long
/// enough to survive the gen0 collections in between. A reference, not a struct: the counted layer's dictionary writes a
/// reference in place, and would allocate a new node for every update of a struct wider than a reference.</para>
/// </remarks>
internal sealed class SegmentMembers
{
    private readonly ConcurrentDictionary<string, SegmentJoin> _counted = new(StringComparer.Ordinal);

    // Recorded since the last flush began (null: she left), and the batch a flush is applying now: readers of Of look
    // through both, so what a user grain recorded stays visible until the segment grains have counted it.
    private readonly Lock _gate = new();
    private Dictionary<string, SegmentJoin?> _recorded = new(StringComparer.Ordinal);
    private Dictionary<string, SegmentJoin?>? _flushing;

    // The batch the last flush applied, emptied, to record into once the next flush begins: the two dictionaries take
    // turns instead of a new one per flush. A flush every StatisticsFlushInterval (200 ms) during an ingest takes a few
    // thousand users; a new dictionary grew to that size again each time, its entries array on the large object heap
    // (over 85 KB from about 3,500 users on), whose allocations bring on full collections of the whole heap.
    private Dictionary<string, SegmentJoin?>? _spare;

    // The largest batch kept as the spare (about 460 KB): the start-up sweep's flush, every user at once, is not kept.
    private const int MaxSpareCapacity = 16_384;

    /// <summary>Members of all segments, as counted.</summary>
    public int Count => _counted.Count;

    /// <summary>Users whose latest change the segment grains have not counted yet.</summary>
    public int Uncounted
    {
        get
        {
            lock (_gate)
            {
                return _recorded.Count + (_flushing?.Count ?? 0);
            }
        }
    }

    /// <summary>The user's entry as last recorded (counted or not), if she is in a segment.</summary>
    public SegmentJoin? Of(string userId)
    {
        lock (_gate)
        {
            if (_recorded.TryGetValue(userId, out var recorded) || (_flushing?.TryGetValue(userId, out recorded) ?? false))
            {
                return recorded;
            }
        }

        return Counted(userId);
    }

    /// <summary>The user's entry as the segment grains count it.</summary>
    public SegmentJoin? Counted(string userId) => _counted.TryGetValue(userId, out var entry) ? entry : null;

    /// <summary>Every (user, entry) counted now (a moving snapshot: concurrent changes may or may not show).</summary>
    public IEnumerable<KeyValuePair<string, SegmentJoin>> All => _counted;

    /// <summary>The counted members of one segment now.</summary>
    public IEnumerable<KeyValuePair<string, SegmentJoin>> InSegment(int segmentId) => _counted.Where(p => p.Value.SegmentId == segmentId);

    /// <summary>Records where the user is now (null: in no segment), for the next flush to count.</summary>
    public void Record(string userId, SegmentJoin? entry)
    {
        lock (_gate)
        {
            _recorded[userId] = entry;
        }
    }

    /// <summary>
    /// Takes what was recorded for a flush to apply (null when nothing was); it stays visible to <see cref="Of"/> until
    /// <see cref="EndFlush"/>, and is the caller's to read until then only (it is emptied and recorded into again
    /// afterwards). One flush at a time (the caller serialises them).
    /// </summary>
    internal Dictionary<string, SegmentJoin?>? BeginFlush()
    {
        lock (_gate)
        {
            if (_recorded.Count == 0)
            {
                return null;
            }

            _flushing = _recorded;
            _recorded = _spare ?? new Dictionary<string, SegmentJoin?>(StringComparer.Ordinal);
            _spare = null;
            return _flushing;
        }
    }

    /// <summary>
    /// Ends the flush: when it failed, its changes not recorded again since go back to be applied by the next one (a
    /// segment grain's join replaces a member's previous contribution and a leave of a non-member is nothing, so applying
    /// a change twice counts it once).
    /// </summary>
    internal void EndFlush(bool applied)
    {
        lock (_gate)
        {
            if (!applied && _flushing is { } failed)
            {
                foreach (var (userId, entry) in failed)
                {
                    _recorded.TryAdd(userId, entry);
                }
            }

            if (_flushing is { } done && done.EnsureCapacity(0) <= MaxSpareCapacity)
            {
                // Clear keeps its room: the next flush's records go in without growing it again.
                done.Clear();
                _spare = done;
            }

            _flushing = null;
        }
    }

    /// <summary>Marks the user's entry (null: in no segment) as handed to the segment grains (by a flush that succeeded).</summary>
    internal void SetCounted(string userId, SegmentJoin? entry)
    {
        if (entry is { } counted)
        {
            _counted[userId] = counted;
        }
        else
        {
            _counted.TryRemove(userId, out _);
        }
    }
}
