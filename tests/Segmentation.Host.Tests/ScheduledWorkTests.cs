using Google.Protobuf.Reflection;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The periodic and scheduled work over a real silo: segment publication on the segmentation model grain's timer, and
/// re-clustering on its reminder (in-memory reminders, the minimum period lowered for the test).
/// </summary>
public sealed class ScheduledWorkTests
{
    private const int UsersPerTaste = 12;

    // Only the reminder (or an explicit publish) may move the model version in these tests.
    private const string NoTimedPublication = "--Segmentation:SegmentPublishInterval=01:00:00";
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-3);
    private static readonly ServiceDescriptor s_segments = SegmentsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("SegmentService");
    private static readonly ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<ServiceDescriptor>("AdminService");

    // Generous: a guard against hanging, not a timing assertion (a loaded 2-core machine may be slow).
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task ScheduledReclustering_PublishesAModelWithoutAnAdminCall_AndAgainEachPeriod()
    {
        await using var server = await TestServer.StartAsync(
            null,
            "--Segmentation:Segments:ReclusterEvery=00:00:01",
            "--Segmentation:Segments:ReclusterK=2",
            "--Segmentation:Silo:MinimumReminderPeriod=00:00:01",
            NoTimedPublication);
        await IngestShopAsync(server);
        Assert.Equal(0, (await ListSegmentsAsync(server)).ModelVersion);

        // Embeddings only (in process, as the seeding does): the segmentation model must come from the schedule.
        await server.Server.Embeddings.TrainAsync(server.Server.EventLog, server.Server.DomainClock.GetUtcNow(), 8, 3, activate: true, CancellationToken.None);

        // Published first, then everyone is assigned by the reminder's sweep: wait for both.
        var first = await WaitForModelAsync(server, m => m.ModelVersion > 0 && m.Segments.Sum(s => s.Size) == 2 * UsersPerTaste);
        Assert.Equal(2, first.Segments.Count);
        var home = (await SegmentsAsync(server, "home-0")).MlSegment;
        Assert.NotNull(home);
        Assert.True(home.ModelVersion >= first.ModelVersion);
        Assert.NotEqual(home.SegmentId, (await SegmentsAsync(server, "toys-0")).MlSegment.SegmentId);

        // The reminder keeps firing: a later period clusters again and publishes a newer version, keeping the ids.
        var second = await WaitForModelAsync(server, m => m.ModelVersion > first.ModelVersion);
        Assert.Equal(first.Segments.Select(s => s.SegmentId).Order(), second.Segments.Select(s => s.SegmentId).Order());
        Assert.Equal(home.SegmentId, (await SegmentsAsync(server, "home-0")).MlSegment.SegmentId);
    }

    [Fact]
    public async Task ModelGrain_EveryMethod_AnswersOverTheSilo()
    {
        await using var server = await TestServer.StartAsync(null, NoTimedPublication);
        var model = server.Server.Grains.GetGrain<ISegmentationModelGrain>(TenantKeys.DefaultTenant);
        await model.EnsureStartedAsync();
        Assert.Equal(0, await model.PublishAsync());

        await IngestShopAsync(server);
        await server.Server.Embeddings.TrainAsync(server.Server.EventLog, server.Server.DomainClock.GetUtcNow(), 8, 3, activate: true, CancellationToken.None);
        var reclustered = await server.Client.UnaryAsync<ReclusterRequest, ReclusterResponse>(
            s_admin.FindMethodByName("Recluster"), new ReclusterRequest { K = 2, Seed = 7 });

        // The re-clustering's sweep re-assigned everyone after it published: one more version, then nothing changes.
        var published = await model.PublishAsync();
        Assert.True(published >= reclustered.ModelVersion, $"{published} < {reclustered.ModelVersion}");
        Assert.Equal(published, await model.PublishAsync());
        Assert.Equal(published, (await ListSegmentsAsync(server)).ModelVersion);

        // A purchase moves her embedding and re-assigns her (in the refresh shortly after the ack): the next publication
        // is a new version.
        await IngestAsync(server, Buy("home-0", "h9", "home.decor", 50, "moved-1"));
        await WaitForRefreshesAsync(server);
        Assert.True(await model.PublishAsync() > published);
    }

    [Fact]
    public async Task SegmentPublication_RunsOnTheGrainTimer()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:SegmentPublishInterval=00:00:00.200");
        await IngestShopAsync(server);
        await server.Server.Embeddings.TrainAsync(server.Server.EventLog, server.Server.DomainClock.GetUtcNow(), 8, 3, activate: true, CancellationToken.None);
        var reclustered = await server.Client.UnaryAsync<ReclusterRequest, ReclusterResponse>(
            s_admin.FindMethodByName("Recluster"), new ReclusterRequest { K = 2, Seed = 7 });

        // Nobody calls PublishAsync: the sweep's re-assignments are published by the timer.
        var published = await WaitForModelAsync(server, m => m.ModelVersion > reclustered.ModelVersion);
        Assert.Equal(2, published.Segments.Count);
    }

    [Fact]
    public async Task AReclusterPeriodBelowTheReminderMinimum_FailsAtStart_NamingTheSettings()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(null, "--Segmentation:Segments:ReclusterEvery=00:00:10"));
        Assert.Contains("Segmentation:Segments:ReclusterEvery", error.Message, StringComparison.Ordinal);
        Assert.Contains("MinimumReminderPeriod", error.Message, StringComparison.Ordinal);
    }

    private static async Task WaitForRefreshesAsync(TestServer server)
    {
        using var patience = new CancellationTokenSource(s_patience);
        while (server.Server.GrainServices.PendingSegmentRefreshes > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), patience.Token);
        }
    }

    private static async Task<ListSegmentsResponse> WaitForModelAsync(TestServer server, Func<ListSegmentsResponse, bool> ready)
    {
        using var patience = new CancellationTokenSource(s_patience);
        while (true)
        {
            var segments = await ListSegmentsAsync(server);
            if (ready(segments))
            {
                return segments;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), patience.Token);
        }
    }

    private static async Task IngestShopAsync(TestServer server)
    {
        var events = new List<Event>();
        for (var u = 0; u < UsersPerTaste; u++)
        {
            for (var i = 0; i < 6; i++)
            {
                events.Add(Buy($"home-{u}", $"h{(u + i) % 10}", "home.decor", u + i, $"home-{u}-{i}"));
                events.Add(Buy($"toys-{u}", $"t{(u + i) % 10}", "toys.games", u + i, $"toys-{u}-{i}"));
            }
        }

        await IngestAsync(server, [.. events]);
    }

    private static Event Buy(string user, string item, string category, int hour, string id) =>
        Events.Make("sched-" + id, user, EventType.Purchase, s_start.AddHours(hour), item, category: category);

    private static Task IngestAsync(TestServer server, params Event[] events) =>
        server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));

    private static Task<ListSegmentsResponse> ListSegmentsAsync(TestServer server) =>
        server.Client.UnaryAsync<ListSegmentsRequest, ListSegmentsResponse>(s_segments.FindMethodByName("ListSegments"), new ListSegmentsRequest());

    private static Task<UserSegments> SegmentsAsync(TestServer server, string user) =>
        server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = user });
}
