using System.Collections.Concurrent;
using Segmentation.Core.Statistics;
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
/// another tenant's users (two tenants may use the same user id). Each user's slot is updated in place under its own
/// lock (a refresh allocates nothing here), and readers get <see cref="CustomerEntry"/> copies taken under that lock, so
/// an entry read is always one refresh's, never half of two. Derived state, like <see cref="SegmentMembers"/>:
/// rebuilt after a restart by the start-up sweep, which refreshes every user of every tenant. In a cluster each silo
/// holds the users it refreshed; <see cref="PeerEntries"/> gathers the others' of one tenant (a user who moved keeps a
/// stale entry on her previous silo: the newest record wins).
/// </remarks>
internal sealed class CustomerIndex
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Slot>> _byTenant = new(StringComparer.Ordinal);

    /// <summary>
    /// Every entry of <paramref name="tenant"/> recorded here (a moving snapshot: concurrent records may or may not show;
    /// each entry is one refresh's).
    /// </summary>
    public IEnumerable<CustomerEntry> Local(string tenant) =>
        _byTenant.TryGetValue(tenant, out var entries) ? entries.Select(p => p.Value.Entry()) : [];

    /// <summary>
    /// In a cluster: every other silo's entries of the tenant given (<see cref="ISiloPeerGrain.GetCustomerEntriesAsync"/>),
    /// or null with one silo.
    /// </summary>
    public Func<string, Task<IReadOnlyList<CustomerEntry>>>? PeerEntries { get; set; }

    /// <summary>
    /// Records the user <paramref name="userId"/> of <paramref name="tenant"/> as her latest refresh saw her: her
    /// <paramref name="facts"/>, ML segment (-1: none), rule segments (see <see cref="CustomerEntry.Rules"/>; kept, not
    /// copied) and the wall-clock time of that refresh.
    /// </summary>
    public void Record(string tenant, string userId, in CustomerFacts facts, int mlSegment, string[] rules, DateTimeOffset recordedAt)
    {
        var entries = _byTenant.GetOrAdd(tenant, static _ => new ConcurrentDictionary<string, Slot>(StringComparer.Ordinal));
        // Her slot from her first refresh on; one removed meanwhile (erasure, retention) is written and dropped, as if
        // the removal had come just after this record.
        var slot = entries.TryGetValue(userId, out var known) ? known : entries.GetOrAdd(userId, static id => new Slot(id));
        slot.Write(facts, mlSegment, rules, recordedAt);
    }

    /// <summary>The entry of <paramref name="tenant"/>'s user <paramref name="userId"/>, if she was recorded here (a copy).</summary>
    public CustomerEntry? Of(string tenant, string userId) =>
        _byTenant.TryGetValue(tenant, out var entries) && entries.TryGetValue(userId, out var slot) ? slot.Entry() : null;

    /// <summary>The rule segments <paramref name="tenant"/>'s user <paramref name="userId"/> was last recorded in, if she was (no copy).</summary>
    public string[]? RulesOf(string tenant, string userId) =>
        _byTenant.TryGetValue(tenant, out var entries) && entries.TryGetValue(userId, out var slot) ? slot.Rules : null;

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

    /// <summary>One user's latest record, written in place by each refresh; read as a <see cref="CustomerEntry"/> copy.</summary>
    /// <remarks>Writes and copies hold the slot's own monitor (one refresh of her at a time writes, so it is uncontended
    /// but for a reader), which keeps the fields of one record together; the monitor lives in the object header, so a
    /// slot costs no more memory than the record it replaces.</remarks>
    private sealed class Slot(string userId)
    {
        private CustomerFacts _facts;
        private int _mlSegment = -1;
        private string[] _rules = [];
        private DateTimeOffset _recordedAt;

        /// <summary>The rule segments of the last record (an array never changed once recorded).</summary>
        public string[] Rules => Volatile.Read(ref _rules);

        public void Write(in CustomerFacts facts, int mlSegment, string[] rules, DateTimeOffset recordedAt)
        {
            lock (this)
            {
                _facts = facts;
                _mlSegment = mlSegment;
                _rules = rules;
                _recordedAt = recordedAt;
            }
        }

        public CustomerEntry Entry()
        {
            lock (this)
            {
                return CustomerEntry.Of(userId, _facts, _mlSegment, _rules, _recordedAt);
            }
        }
    }
}
