using System.Diagnostics;
using Google.Protobuf.Collections;
using Microsoft.Extensions.Logging;
using Segmentation.Contracts.V1;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Seeding;

/// <summary>What the seeder wrote.</summary>
/// <param name="Events">Events accepted.</param>
/// <param name="Users">Users created.</param>
/// <param name="ExampleUsers">One user id per persona, to try with <c>seg</c>.</param>
public sealed record SeedSummary(long Events, int Users, IReadOnlyDictionary<string, string> ExampleUsers);

/// <summary>Fills an empty tenant with a <see cref="SyntheticShop"/>, through the normal ingest path.</summary>
public static class ShopSeeder
{
    // Batches of 5,000 events with four calls in flight seeded no faster than this (5,000 users, 347 k events: 9,484
    // against 9,151 events/s at load average 25-33 on two cores): the ingest path's own work, not the call, is the cost.
    private const int BatchSize = 1_000;

    /// <summary>
    /// Seeds when <paramref name="tenant"/> has no events yet, whatever other tenants' events the log holds; returns null
    /// when it had some already.
    /// </summary>
    /// <param name="server">The server to seed through its ingest path.</param>
    /// <param name="users">Users of the shop.</param>
    /// <param name="logger">Progress log.</param>
    /// <param name="cancellationToken">Stops seeding.</param>
    /// <param name="items">Items in the catalogue (popularity is Zipf over them, so the tail may see no events).</param>
    /// <param name="visitEveryItem">Also add one view of every item by a one-off visitor (see <see cref="SyntheticShop.OneOffVisits"/>).</param>
    /// <param name="tenant">The tenant whose users the shop's are (<c>./run.sh</c>: <c>demo</c>).</param>
    public static async Task<SeedSummary?> SeedIfEmptyAsync(
        SegmentationServer server, int users, ILogger logger, CancellationToken cancellationToken, int items = 1_000, bool visitEveryItem = false,
        string tenant = Segmentation.Grains.TenantKeys.DefaultTenant)
    {
        // The tenant's user streams ("tenant/…"), counted on the stream index: another shop in the same log is no reason
        // not to seed this one, and a tenant seeded before is never seeded twice.
        if (await server.EventLog.CountAsync(Segmentation.Grains.TenantKeys.User("", tenant), cancellationToken) > 0)
        {
            return null;
        }

        HostLog.Seeding(logger, users);
        var stopwatch = Stopwatch.StartNew();
        // The shop's history ends a minute ago on the wall clock, so the event-time clock and the wall clock agree.
        var shop = new SyntheticShop(seed: 20_101_201, end: TimeProvider.System.GetUtcNow() - TimeSpan.FromMinutes(1), items);
        var batch = new RepeatedField<Event>();
        long accepted = 0;
        var examples = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var u = 0; u < users; u++)
        {
            examples.TryAdd(SyntheticShop.PersonaOf(u), SyntheticShop.UserId(u));
            foreach (var e in shop.UserEvents(u))
            {
                batch.Add(e);
                if (batch.Count == BatchSize)
                {
                    accepted += (await server.Ingestion.IngestAsync(batch, 0, tenant, cancellationToken)).Accepted;
                    batch.Clear();
                }
            }
        }

        foreach (var e in visitEveryItem ? shop.OneOffVisits() : [])
        {
            batch.Add(e);
            if (batch.Count == BatchSize)
            {
                accepted += (await server.Ingestion.IngestAsync(batch, 0, tenant, cancellationToken)).Accepted;
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            accepted += (await server.Ingestion.IngestAsync(batch, 0, tenant, cancellationToken)).Accepted;
        }

        HostLog.Seeded(logger, accepted, users, stopwatch.Elapsed.TotalSeconds);
        return new SeedSummary(accepted, users, examples);
    }
}
