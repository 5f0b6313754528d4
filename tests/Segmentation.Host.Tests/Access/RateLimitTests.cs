using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
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

    [Fact]
    public async Task QueryOverQuota_IsHeldForItsTurn_WhenNear_AndRefusedWithoutTakingATurn_WhenFar()
    {
        // One call per second, three deep; a call may be held up to 1.5 s for its turn.
        await using var server = await KeyedServer.StartAsync(
            "--Segmentation:Auth:RateLimits:BurstSeconds=3", "--Segmentation:Auth:RateLimits:QueryWait=00:00:01.500", "--Segmentation:Auth:RateLimits:RefusalDelay=00:00:00");
        var key = await server.CreateKeyAsync("default", AccessScope.Read, queriesPerSecond: 1);
        var request = new GetUserSegmentsRequest { UserId = "nobody" };
        var statistics = server.Server.Services.GetRequiredService<Hosting.GrpcCallStatistics>();
        // The call path warmed first by another key: the drain below must take well under half a second of the bucket's
        // clock, or its refill brings the turns this test calls far within QueryWait (a cold first call on a loaded
        // machine took longer).
        var warm = await server.CreateKeyAsync("default", AccessScope.Read, queriesPerSecond: 1_000);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(warm).GetUserSegmentsAsync(request).ResponseAsync)).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(key).GetUserSegmentsAsync(request).ResponseAsync)).StatusCode);
        }

        // Drained: the next token is about a second away, and the next call is held for it rather than refused...
        var held = server.Segments(key).GetUserSegmentsAsync(request).ResponseAsync;
        for (var attempt = 0; attempt < 600 && statistics.InFlight == 0 && !held.IsCompleted; attempt++)
        {
            await Task.Delay(50);
        }

        // ...while the turn after it, two seconds away, is too far: refused with that wait, and the refusal takes no
        // turn, so the next refusal is told no later a time (a flood of refusals does not push the turns out).
        var third = await Assert.ThrowsAsync<RpcException>(() => server.Segments(key).GetUserSegmentsAsync(request).ResponseAsync);
        var fourth = await Assert.ThrowsAsync<RpcException>(() => server.Segments(key).GetUserSegmentsAsync(request).ResponseAsync);
        Assert.Equal((StatusCode.ResourceExhausted, StatusCode.ResourceExhausted), (third.StatusCode, fourth.StatusCode));
        var thirdHint = long.Parse(third.Trailers.GetValue(QuotaRefusal.PushbackHeader)!, System.Globalization.CultureInfo.InvariantCulture);
        var fourthHint = long.Parse(fourth.Trailers.GetValue(QuotaRefusal.PushbackHeader)!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(thirdHint, 1_501, 2_001);
        Assert.InRange(fourthHint, 1, thirdHint);

        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => held)).StatusCode);
    }

    [Fact]
    public async Task QueryOverQuota_RefusalIsHeldForTheRefusalDelay_AndItsHintCountsThatWaitAsAlreadyWaited()
    {
        // One call per 100 s: a refusal's hint is about 100 s, so the 2 s refusal delay applies in full.
        await using var server = await KeyedServer.StartAsync("--Segmentation:Auth:RateLimits:RefusalDelay=00:00:02", "--Segmentation:Auth:RateLimits:QueryWait=00:00:00");
        var key = await server.CreateKeyAsync("default", AccessScope.Read, queriesPerSecond: 0.01);
        var request = new GetUserSegmentsRequest { UserId = "nobody" };
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(key).GetUserSegmentsAsync(request).ResponseAsync)).StatusCode);

        // A client ignoring hints retries at once; it gets each refusal no sooner than the delay (a lower bound: a timer
        // never fires early), so its loop is slowed to one refusal per caller per delay.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Segments(key).GetUserSegmentsAsync(request).ResponseAsync);
        var elapsed = clock.Elapsed;
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(1_990), $"the refusal came after {elapsed.TotalMilliseconds:F0} ms, before the 2 s refusal delay");
        var pushback = long.Parse(refused.Trailers.GetValue(QuotaRefusal.PushbackHeader)!, System.Globalization.CultureInfo.InvariantCulture);
        // The bucket's ~100 s less the 2 s already spent waiting for the answer.
        Assert.InRange(pushback, 1, 98_001);
        Assert.Contains($"retry after {pushback} ms", refused.Status.Detail, StringComparison.Ordinal);
    }
}
