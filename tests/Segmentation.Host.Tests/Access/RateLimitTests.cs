using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;

namespace Segmentation.Host.Tests.Access;

/// <summary>Per-key quotas: the key over its quota gets RESOURCE_EXHAUSTED with a retry hint; other keys are untouched.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task QueryQuota_RefusesTheKeyOverIt_WithPushback_OtherKeysUnaffected()
    {
        await using var server = await KeyedServer.StartAsync();
        // One call per 100 s: the second call is over quota however slowly this machine runs.
        var limited = await server.CreateKeyAsync("default", AccessScope.Read, queriesPerSecond: 0.01);
        var other = await server.CreateKeyAsync("default", AccessScope.Read);
        var request = new GetUserSegmentsRequest { UserId = "nobody" };

        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(limited).GetUserSegmentsAsync(request).ResponseAsync)).StatusCode);
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Segments(limited).GetUserSegmentsAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("over its query quota", refused.Status.Detail, StringComparison.Ordinal);
        var pushback = long.Parse(refused.Trailers.GetValue("grpc-retry-pushback-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(pushback, 1, 100_000);
        Assert.Contains($"retry after {pushback} ms", refused.Status.Detail, StringComparison.Ordinal);

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(other).GetUserSegmentsAsync(request).ResponseAsync)).StatusCode);
        }
    }

    [Fact]
    public async Task IngestQuota_CountsEvents_AndRefusesABatchLargerThanTheBurst()
    {
        await using var server = await KeyedServer.StartAsync();
        var limited = await server.CreateKeyAsync("default", AccessScope.Ingest, ingestPerSecond: 0.01);
        var now = TimeProvider.System.GetUtcNow();

        var tooBig = await Assert.ThrowsAsync<RpcException>(() => server.Events(limited).IngestEventsAsync(
            Events.Batch(Events.Make("q-1", "quota-user", EventType.View, now.AddMinutes(-2)), Events.Make("q-2", "quota-user", EventType.View, now.AddMinutes(-1)))).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, tooBig.StatusCode);
        Assert.Contains("split it", tooBig.Status.Detail, StringComparison.Ordinal);

        var accepted = await server.Events(limited).IngestEventsAsync(Events.Batch(Events.Make("q-3", "quota-user", EventType.View, now.AddMinutes(-1))));
        Assert.Equal(1, accepted.Accepted);
        var over = await Assert.ThrowsAsync<RpcException>(() => server.Events(limited).IngestEventsAsync(Events.Batch(Events.Make("q-4", "quota-user", EventType.View, now))).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, over.StatusCode);
        Assert.Contains("over its ingest quota", over.Status.Detail, StringComparison.Ordinal);
    }
}
