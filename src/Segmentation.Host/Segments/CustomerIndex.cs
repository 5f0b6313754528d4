using System.Collections.Concurrent;
using Segmentation.Grains;

namespace Segmentation.Host.Segments;

/// <summary>
/// Every user this silo's user grains have refreshed, as the business metrics per segment count her
/// (<see cref="CustomerEntry"/>: her orders, spend and activity times, her ML and rule segments): one dictionary write
/// per refresh, so <see cref="LiveBusinessMetrics"/> sums 100,000 users from memory in milliseconds instead of folding
/// the log or asking every grain. An entry stays when her grain deactivates (its facts do not change without events);
/// erasure and retention remove it (<see cref="Privacy.SiloForgetting"/>, <see cref="Grains.UserGrain"/>).
/// </summary>
/// <remarks>
/// Thread-safe. Derived state, like <see cref="SegmentMembers"/>: rebuilt after a restart by the start-up sweep, which
/// refreshes every user. In a cluster each silo holds the users it refreshed; <see cref="PeerEntries"/> gathers the
/// others' (a user who moved keeps a stale entry on her previous silo: the newest record wins).
/// </remarks>
internal sealed class CustomerIndex
{
    private readonly ConcurrentDictionary<string, CustomerEntry> _entries = new(StringComparer.Ordinal);

    /// <summary>Users recorded here.</summary>
    public int Count => _entries.Count;

    /// <summary>Every entry recorded here (a moving snapshot, read without locking: concurrent records may or may not show).</summary>
    public IEnumerable<CustomerEntry> Local => _entries.Select(p => p.Value);

    /// <summary>In a cluster: every other silo's entries (<see cref="ISiloPeerGrain.GetCustomerEntriesAsync"/>), or null with one silo.</summary>
    public Func<Task<IReadOnlyList<CustomerEntry>>>? PeerEntries { get; set; }

    /// <summary>Records the user as her latest refresh saw her.</summary>
    public void Record(CustomerEntry entry) => _entries[entry.UserId] = entry;

    /// <summary>The user's entry, if she was recorded here.</summary>
    public CustomerEntry? Of(string userId) => _entries.TryGetValue(userId, out var entry) ? entry : null;

    /// <summary>Forgets the user (erased, or her old events dropped: her next refresh records her again).</summary>
    public void Remove(string userId) => _entries.TryRemove(userId, out _);

    /// <summary>Every user of the cluster once: this silo's entries and its peers', the newest record of each user.</summary>
    public async Task<IEnumerable<CustomerEntry>> EverywhereAsync(CancellationToken cancellationToken)
    {
        if (PeerEntries is not { } peers)
        {
            return Local;
        }

        var merged = new Dictionary<string, CustomerEntry>(StringComparer.Ordinal);
        foreach (var (userId, entry) in _entries)
        {
            merged[userId] = entry;
        }

        foreach (var entry in await peers().WaitAsync(cancellationToken))
        {
            if (!merged.TryGetValue(entry.UserId, out var known) || entry.RecordedAt > known.RecordedAt)
            {
                merged[entry.UserId] = entry;
            }
        }

        return merged.Values;
    }
}
