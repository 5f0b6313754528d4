using System.Collections.Concurrent;
using Segmentation.Grains;

namespace Segmentation.Host.Segments;

/// <summary>
/// Every user this silo's user grains have refreshed, by tenant, as the business metrics per segment count her
/// (<see cref="CustomerEntry"/>: her orders, spend and activity times, her ML and rule segments): one dictionary write
/// per refresh, so <see cref="LiveBusinessMetrics"/> sums a tenant's 100,000 users from memory in milliseconds instead
/// of folding the log or asking every grain. An entry stays when her grain deactivates (its facts do not change without
/// events); erasure and retention remove it (<see cref="Privacy.SiloForgetting"/>, <see cref="Grains.UserGrain"/>).
/// </summary>
/// <remarks>
/// Thread-safe. One dictionary per tenant, keyed by the user id within it: a tenant's read never sees, or walks past,
/// another tenant's users (two tenants may use the same user id). Derived state, like <see cref="SegmentMembers"/>:
/// rebuilt after a restart by the start-up sweep, which refreshes every user of every tenant. In a cluster each silo
/// holds the users it refreshed; <see cref="PeerEntries"/> gathers the others' of one tenant (a user who moved keeps a
/// stale entry on her previous silo: the newest record wins).
/// </remarks>
internal sealed class CustomerIndex
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, CustomerEntry>> _byTenant = new(StringComparer.Ordinal);

    /// <summary>
    /// Every entry of <paramref name="tenant"/> recorded here (a moving snapshot, read without locking: concurrent
    /// records may or may not show).
    /// </summary>
    public IEnumerable<CustomerEntry> Local(string tenant) =>
        _byTenant.TryGetValue(tenant, out var entries) ? entries.Select(p => p.Value) : [];

    /// <summary>
    /// In a cluster: every other silo's entries of the tenant given (<see cref="ISiloPeerGrain.GetCustomerEntriesAsync"/>),
    /// or null with one silo.
    /// </summary>
    public Func<string, Task<IReadOnlyList<CustomerEntry>>>? PeerEntries { get; set; }

    /// <summary>Records the user of <paramref name="tenant"/> as her latest refresh saw her.</summary>
    public void Record(string tenant, CustomerEntry entry) =>
        _byTenant.GetOrAdd(tenant, static _ => new ConcurrentDictionary<string, CustomerEntry>(StringComparer.Ordinal))[entry.UserId] = entry;

    /// <summary>The entry of <paramref name="tenant"/>'s user <paramref name="userId"/>, if she was recorded here.</summary>
    public CustomerEntry? Of(string tenant, string userId) =>
        _byTenant.TryGetValue(tenant, out var entries) && entries.TryGetValue(userId, out var entry) ? entry : null;

    /// <summary>Forgets the user of <paramref name="tenant"/> (erased, or her old events dropped: her next refresh records her again).</summary>
    public void Remove(string tenant, string userId)
    {
        // A tenant's (possibly empty) dictionary stays: removing it could race with a concurrent Record into it.
        if (_byTenant.TryGetValue(tenant, out var entries))
        {
            entries.TryRemove(userId, out _);
        }
    }

    /// <summary>Every user of <paramref name="tenant"/> in the cluster once: this silo's entries and its peers', the newest record of each user.</summary>
    public async Task<IEnumerable<CustomerEntry>> EverywhereAsync(string tenant, CancellationToken cancellationToken)
    {
        if (PeerEntries is not { } peers)
        {
            return Local(tenant);
        }

        var merged = new Dictionary<string, CustomerEntry>(StringComparer.Ordinal);
        foreach (var entry in Local(tenant))
        {
            merged[entry.UserId] = entry;
        }

        foreach (var entry in await peers(tenant).WaitAsync(cancellationToken))
        {
            if (!merged.TryGetValue(entry.UserId, out var known) || entry.RecordedAt > known.RecordedAt)
            {
                merged[entry.UserId] = entry;
            }
        }

        return merged.Values;
    }
}
