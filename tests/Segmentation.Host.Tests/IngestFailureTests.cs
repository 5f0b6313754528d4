using Grpc.Core;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Tests;

/// <summary>An ingest whose appends fail acknowledges nothing: the whole request fails as UNAVAILABLE, to be retried.</summary>
public sealed class IngestFailureTests
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow();

    [Fact]
    public async Task WhenTheLogRefusesAppends_TheRequestIsUnavailable_AndNoEventIsAcknowledged()
    {
        await using var server = await TestServer.StartAsync();
        var events = new EventService.EventServiceClient(server.Client);
        var first = await events.IngestEventsAsync(Events.Batch(Events.Make("f-1", "f-user", EventType.View, s_now.AddMinutes(-3))));
        Assert.Equal(1, first.Accepted);

        // The log stops taking appends, as when its writer failed: every user grain's append throws. One of the users
        // below is already active, one is new, and one event is invalid (rejected before any append): the request still
        // fails as a whole.
        await ((IAsyncDisposable)server.Server.EventLog).DisposeAsync();
        var batch = Events.Batch(
            Events.Make("f-2", "f-user", EventType.View, s_now.AddMinutes(-2)),
            Events.Make("f-3", "f-other", EventType.Purchase, s_now.AddMinutes(-1)),
            Events.Make("", "f-other", EventType.View, s_now));
        var error = await Assert.ThrowsAsync<RpcException>(() => events.IngestEventsAsync(batch).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("nothing in this batch is acknowledged", error.Status.Detail, StringComparison.Ordinal);
    }
}
