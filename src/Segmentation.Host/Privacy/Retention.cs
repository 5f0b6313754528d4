using System.Diagnostics;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Storage;

namespace Segmentation.Host.Privacy;

/// <summary>
/// Drops events older than each tenant's retention (<see cref="PrivacyOptions.RetentionDaysOf"/>, days before the domain
/// clock's now) from the log and everything derived from them, with the guarantees of an erasure: the events are deleted
/// (their bytes zeroed in SQLite, vacuumed in PostgreSQL); each user whose events were dropped forgets her snapshot and
/// deactivates (<see cref="IUserGrain.ForgetAsync"/>), so her profile is folded again from what is left, and is assigned
/// her ML segment again (or is gone, with nothing left); every silo rebuilds its recommenders from the log; the segment
/// statistics and centroids follow. One record per tenant in the <see cref="PrivacyLog"/>.
/// </summary>
/// <remarks>
/// A run reads the whole log once (event time is inside the payload). Events that arrive while it runs are newer than
/// the cutoff, so they are never dropped by it.
/// </remarks>
internal sealed class Retention(IEventLog log, IGrainFactory grains, SiloForgetting forgetting, PrivacyLog records, PrivacyOptions options, Func<string, TimeProvider> domainClockOf, TimeProvider wallClock)
{
    /// <summary>Runs retention for every tenant that has one; returns the records of the tenants where events were dropped.</summary>
    public async Task<IReadOnlyList<ErasureRecord>> RunAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        if (!options.AnyRetention)
        {
            return [];
        }

        var expired = new List<long>();
        var users = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal); // tenant → user keys
        var perTenant = new Dictionary<string, long>(StringComparer.Ordinal);
        var cutoffs = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
        await foreach (var record in log.ReadAllAsync(0, cancellationToken))
        {
            var tenant = TenantKeys.TenantOf(record.StreamId);
            if (!cutoffs.TryGetValue(tenant, out var cutoff))
            {
                var days = options.RetentionDaysOf(tenant);
                // Days before the tenant's own "now": each shop's clock is its own.
                cutoffs[tenant] = cutoff = days > 0 ? domainClockOf(tenant).GetUtcNow().AddDays(-days) : null;
            }

            if (cutoff is null || EventCodec.Decode(record.Payload.Span).Timestamp >= cutoff)
            {
                continue;
            }

            expired.Add(record.Sequence);
            perTenant[tenant] = perTenant.GetValueOrDefault(tenant) + 1;
            if (!users.TryGetValue(tenant, out var keys))
            {
                users[tenant] = keys = new HashSet<string>(StringComparer.Ordinal);
            }

            keys.Add(record.StreamId);
        }

        if (expired.Count == 0)
        {
            return [];
        }

        await log.DeleteAsync(expired, cancellationToken);
        var touched = users.Values.SelectMany(k => k).ToList();
        // Their snapshots fold the dropped events: gone, and each grain deactivated, to fold what is left when next asked.
        await Task.WhenAll(touched.Select(key => grains.GetGrain<IUserGrain>(key).ForgetAsync(deleteEvents: false)));
        await forgetting.ForgetEverywhereAsync(touched, erased: false, cancellationToken);

        // Users with events left are assigned their ML segment again from what is left (nothing happens for the others).
        await Task.WhenAll(touched.Select(key => grains.GetGrain<IUserGrain>(key).RefreshSegmentAsync()));
        await forgetting.RepublishSegmentsAsync(users.Keys, grains, cancellationToken);

        var result = new List<ErasureRecord>();
        foreach (var (tenant, count) in perTenant)
        {
            var record = new ErasureRecord(wallClock.GetUtcNow(), tenant, "retention", "",
                ["events", "snapshots", "grains", "embeddings", "ml-segments", "segment-statistics", "centroids", "co-occurrence", "popularity"],
                count, users[tenant].Count, stopwatch.Elapsed.TotalSeconds);
            await records.AppendAsync(record, cancellationToken);
            result.Add(record);
        }

        return result;
    }
}
