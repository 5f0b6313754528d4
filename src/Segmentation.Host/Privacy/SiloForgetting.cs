using Microsoft.Extensions.DependencyInjection;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Replication;
using Segmentation.Host.Segments;
using Segmentation.Storage;

namespace Segmentation.Host.Privacy;

/// <summary>
/// What every silo does once users were erased, or lost old events to retention, and their events are gone from the log:
/// it takes them out of its ML segment records and its business metrics' customers, ends the watches of an erased user, drops her recommender changes not
/// sent yet, and rebuilds its recommender replica from the log (<see cref="LiveRecommender.RebuildWithoutAsync"/>).
/// <see cref="ForgetEverywhereAsync"/> does it here and on every other silo (<see cref="ISiloPeerGrain.UsersErasedAsync"/>)
/// before it returns.
/// </summary>
internal sealed class SiloForgetting(TenantRecommenders recommenders, TenantSegmentations segmentations, SegmentChangeFeed feed, IEventLog log, SegmentationOptions options, IServiceProvider services)
{
    /// <summary>Forgets the users on this silo; returns how many watches of theirs it ended.</summary>
    public async Task<int> ForgetAsync(IReadOnlyCollection<string> userKeys, bool erased, CancellationToken cancellationToken)
    {
        var watches = 0;
        if (erased && services.GetService<Hosting.ClockCheckpointService>() is { } clock)
        {
            // The event-time clock names the users whose newest events back "now": not her any more.
            await clock.ForgetAsync(userKeys, cancellationToken);
        }

        // The recommenders and segment records know users by id within their tenant: each tenant's are rebuilt alone.
        foreach (var tenantUsers in userKeys.GroupBy(TenantKeys.TenantOf, StringComparer.Ordinal))
        {
            var recommender = recommenders.For(tenantUsers.Key);
            var userIds = tenantUsers.Select(TenantKeys.UserIdOf).ToHashSet(StringComparer.Ordinal);
            var ml = segmentations.For(tenantUsers.Key).Ml;
            var customers = services.GetService<CustomerIndex>();
            foreach (var userId in userIds)
            {
                ml.Leave(userId);
                customers?.Remove(tenantUsers.Key, userId);
                watches += erased ? feed.EndWatchesOf(TenantKeys.User(userId, tenantUsers.Key)) : 0;
            }

            if (erased)
            {
                recommender.Outbox?.RemoveUsers(tenantUsers.Key, userIds);
            }

            // Retention keeps the users (their grains forget and restore their remembered items themselves); erasure forgets them.
            await recommender.RebuildWithoutAsync(log, options.Profiles, erased ? userIds : [], cancellationToken);
        }

        return watches;
    }

    /// <summary>
    /// <see cref="ForgetAsync"/> here and on every other active silo. Returns the watches ended here; a silo that could
    /// not be told fails the call (it would still serve their contributions).
    /// </summary>
    public async Task<int> ForgetEverywhereAsync(IReadOnlyCollection<string> userKeys, bool erased, CancellationToken cancellationToken)
    {
        var watches = await ForgetAsync(userKeys, erased, cancellationToken);
        if (services.GetService<SiloPeers>() is { } peers)
        {
            var keys = userKeys.ToArray();
            if (await peers.BroadcastAsync(peer => peer.UsersErasedAsync(keys, erased)) is { Count: > 0 } failed)
            {
                throw new ServiceUnavailableException(
                    $"silo {failed[0].Silo} (and {failed.Count - 1} more) could not be told to forget the users; their events are deleted, ask again to finish: {failed[0].Error.Message}");
            }
        }

        return watches;
    }

    /// <summary>
    /// Hands every silo's recorded segment moves to the segment grains (the statistics lose the users who left) and has
    /// the segmentation model grain of each of <paramref name="tenants"/> publish a version (centroids without them).
    /// </summary>
    public async Task RepublishSegmentsAsync(IEnumerable<string> tenants, IGrainFactory grains, CancellationToken cancellationToken)
    {
        foreach (var tenant in tenants.Distinct(StringComparer.Ordinal))
        {
            var ml = segmentations.For(tenant).Ml;
            await ml.FlushEverywhereAsync(cancellationToken);
            if (ml.Current is not null)
            {
                await grains.GetGrain<ISegmentationModelGrain>(tenant).PublishNowAsync().WaitAsync(cancellationToken);
            }
        }
    }
}
