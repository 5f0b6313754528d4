using Segmentation.Grains;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Replication;

/// <summary>
/// Which other silos have watchers of segment changes (<c>WatchUserSegments</c>, <c>WatchSegmentChanges</c>), and the
/// membership changes of this silo's users waiting to be relayed to them. A silo with watchers says so when its first
/// watcher arrives and again every <see cref="AnnounceEvery"/> while it has any (a silo that joined later learns it
/// then); an announcement not repeated within <see cref="AnnouncementLifetime"/> lapses, so a silo that died stops
/// being sent to. While no other silo watches, nothing is recorded: watching costs nothing until someone watches.
/// Thread-safe: user grains record on their turns while the relay timer drains.
/// </summary>
internal sealed class SegmentChangeRelay(TimeProvider time)
{
    /// <summary>How often a silo with watchers repeats that it has them.</summary>
    public static readonly TimeSpan AnnounceEvery = TimeSpan.FromSeconds(3);

    /// <summary>How long an announcement holds without being repeated.</summary>
    public static readonly TimeSpan AnnouncementLifetime = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _watchingUntil = new(StringComparer.Ordinal);
    private List<SegmentMembershipChange> _pending = [];
    private volatile bool _anyWatching;

    /// <summary>The silos (their endpoints' keys) whose announcement holds now.</summary>
    public IReadOnlyList<string> WatchingSilos
    {
        get
        {
            lock (_lock)
            {
                Expire();
                return [.. _watchingUntil.Keys];
            }
        }
    }

    /// <summary>Records a change of this silo's users for the watching silos, if there are any.</summary>
    public void Record(MembershipChange change)
    {
        if (!_anyWatching)
        {
            return;
        }

        var relayed = new SegmentMembershipChange(change.UserId, change.SegmentId, change.Entered, change.At, change.Reason, change.Tenant);
        lock (_lock)
        {
            _pending.Add(relayed);
        }
    }

    /// <summary><paramref name="silo"/> announced that it has watchers (or that it no longer has).</summary>
    public void Announced(string silo, bool watching)
    {
        lock (_lock)
        {
            if (watching)
            {
                _watchingUntil[silo] = time.GetUtcNow() + AnnouncementLifetime;
            }
            else
            {
                _watchingUntil.Remove(silo);
            }

            _anyWatching = _watchingUntil.Count > 0;
        }
    }

    /// <summary>
    /// Takes the changes recorded so far (oldest first) with the silos to send them to; empty when there is nothing to
    /// send. Changes recorded for silos whose announcements all lapsed are dropped.
    /// </summary>
    public (IReadOnlyList<string> Silos, SegmentMembershipChange[] Changes) Drain()
    {
        lock (_lock)
        {
            Expire();
            if (_pending.Count == 0 || _watchingUntil.Count == 0)
            {
                _pending.Clear();
                return ([], []);
            }

            var taken = _pending.ToArray();
            _pending = [];
            return ([.. _watchingUntil.Keys], taken);
        }
    }

    // Under _lock.
    private void Expire()
    {
        var now = time.GetUtcNow();
        foreach (var (silo, until) in _watchingUntil)
        {
            if (until <= now)
            {
                _watchingUntil.Remove(silo);
            }
        }

        _anyWatching = _watchingUntil.Count > 0;
    }
}
