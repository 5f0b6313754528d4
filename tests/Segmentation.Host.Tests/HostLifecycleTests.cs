using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The start and stop order of the composed host: the event-time clock is checkpointed after the silo has stopped and
/// loaded before the first call of the next start is served.
/// </summary>
public sealed class HostLifecycleTests
{
    // Far enough in the past that the wall clock and the first event time both give other answers than event time.
    private static readonly DateTimeOffset s_then = TimeProvider.System.GetUtcNow().AddDays(-400);

    [Fact]
    public async Task Restart_ServesTheFirstCall_WithTheEventTimeClockOfTheLastRun()
    {
        var server = await TestServer.StartAsync();
        var dataDirectory = server.DataDirectory;
        try
        {
            await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(
                Events.Make("c-1", "lapsing", EventType.View, s_then),
                Events.Make("c-2", "later", EventType.View, s_then.AddDays(47))));
            Assert.Equal(LifecycleStage.AtRisk, (await LifecycleAsync(server, "lapsing")).Stage);
            await server.StopAsync();

            // Her snapshot replays nothing, so only the checkpoint can say "now" is 47 days after her last visit (the
            // wall clock would make her churned, her own events active).
            server = await TestServer.StartAsync(dataDirectory);
            var lifecycle = await LifecycleAsync(server, "lapsing");
            Assert.Equal(LifecycleStage.AtRisk, lifecycle.Stage);
            Assert.Contains("47", lifecycle.Explanation, StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<Lifecycle> LifecycleAsync(TestServer server, string user) =>
        (await server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = user })).Lifecycle;
}
