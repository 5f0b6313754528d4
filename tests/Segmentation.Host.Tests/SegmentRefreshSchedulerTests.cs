using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Host.Segments;
using Segmentation.Storage;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The deferred segment refresh over a real silo: an ingest leaves a refresh owed, queued with the silo's refresh
/// scheduler, which runs it once due; a query before then refreshes first and leaves nothing owed.
/// </summary>
public sealed class SegmentRefreshSchedulerTests
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow();

    // Generous: a guard against hanging, not a timing assertion (a loaded 2-core machine may be slow).
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task AnOwedRefresh_RunsWhenDue_WithoutAnyQuery()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Segments:RefreshDelay=00:00:00.100");
        var services = server.Server.GrainServices;
        await server.Server.Grains.GetGrain<IUserGrain>(TenantKeys.User("s-user")).ApplyAsync(Batch("s-1", "s-user"));

        // Nothing else runs it here: no query, no sweep (no encoder), no deactivation (idle for minutes first).
        using var patience = new CancellationTokenSource(s_patience);
        while (services.PendingSegmentRefreshes > 0 || services.Refreshes.Queued > 0)
        {
            await Task.Delay(20, patience.Token);
        }
    }

    [Fact]
    public async Task AQueryBeforeTheRefreshIsDue_RefreshesFirst_AndTheQueuedEntryRunsNothing()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Segments:RefreshDelay=00:10:00");
        var services = server.Server.GrainServices;
        var user = server.Server.Grains.GetGrain<IUserGrain>(TenantKeys.User("q-user"));
        await user.ApplyAsync(Batch("q-1", "q-user"));
        await user.ApplyAsync(Batch("q-2", "q-user"));
        Assert.Equal((1, 1), (services.PendingSegmentRefreshes, services.Refreshes.Queued)); // one refresh for both

        Assert.NotNull(await user.GetSegmentsAsync(s_now, includeRules: false));
        Assert.Equal(0, services.PendingSegmentRefreshes);

        // Owed again after another event: a new entry, the first one still queued (cancelled) until its time.
        await user.ApplyAsync(Batch("q-3", "q-user"));
        Assert.Equal((1, 2), (services.PendingSegmentRefreshes, services.Refreshes.Queued));
    }

    [Fact]
    public async Task AnIngest_RefreshesInItsOwnTurn_AndABurstWithinTheDelayOwesOneRefresh()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Segments:RefreshDelay=00:10:00");
        var services = server.Server.GrainServices;
        var customers = server.Server.Services.GetRequiredService<CustomerIndex>();
        var user = server.Server.Grains.GetGrain<IUserGrain>(TenantKeys.User("b-user"));

        // Her first batch: refreshed before the call returns (the index has her), nothing owed, no second call queued.
        await user.ApplyAsync(Batch("b-1", "b-user", -5));
        var first = customers.Of(TenantKeys.DefaultTenant, "b-user")?.LastSeen;
        Assert.NotNull(first);
        Assert.Equal((0, 0), (services.PendingSegmentRefreshes, services.Refreshes.Queued));

        // More within the delay: one refresh owed for both, not one per batch; a query runs it.
        await user.ApplyAsync(Batch("b-2", "b-user", -4));
        await user.ApplyAsync(Batch("b-3", "b-user", -3));
        Assert.Equal((1, 1), (services.PendingSegmentRefreshes, services.Refreshes.Queued));
        Assert.Equal(first, customers.Of(TenantKeys.DefaultTenant, "b-user")?.LastSeen);
        Assert.NotNull(await user.GetSegmentsAsync(s_now, includeRules: false));
        Assert.True(customers.Of(TenantKeys.DefaultTenant, "b-user")?.LastSeen > first, "the query's refresh records her newest event");
    }

    private static EventBatch Batch(string eventId, string user, int minutes) =>
        new([EventCodec.Encode(Events.Make(eventId, user, EventType.View, s_now.AddMinutes(minutes)))]);

    private static EventBatch Batch(string eventId, string user) =>
        new([EventCodec.Encode(Events.Make(eventId, user, EventType.View, s_now.AddMinutes(-5)))]);
}
