using Segmentation.Grains;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// The changes this silo's <see cref="LiveRecommender"/> made since they were last sent to the other silos, in the
/// order they were made. Thread-safe: grains add from any thread; one sender drains.
/// </summary>
internal sealed class RecommenderOutbox
{
    private readonly Lock _lock = new();
    private List<RecommenderChange> _changes = [];

    /// <summary>Changes waiting to be sent.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _changes.Count;
            }
        }
    }

    /// <summary>Records a change, after the ones recorded before it.</summary>
    public void Add(RecommenderChange change)
    {
        lock (_lock)
        {
            _changes.Add(change);
        }
    }

    /// <summary>Drops the changes of <paramref name="userIds"/> of <paramref name="tenant"/> not sent yet (they were erased); returns how many.</summary>
    public int RemoveUsers(string tenant, IReadOnlySet<string> userIds)
    {
        lock (_lock)
        {
            return _changes.RemoveAll(c => c.Tenant == tenant && userIds.Contains(c.UserId));
        }
    }

    /// <summary>Takes every change recorded so far, oldest first (empty when there is none).</summary>
    public RecommenderChange[] Drain()
    {
        List<RecommenderChange> taken;
        lock (_lock)
        {
            if (_changes.Count == 0)
            {
                return [];
            }

            taken = _changes;
            _changes = new List<RecommenderChange>(Math.Min(taken.Count, 65_536));
        }

        return [.. taken];
    }
}
