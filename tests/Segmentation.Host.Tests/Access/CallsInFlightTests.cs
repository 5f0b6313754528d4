using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Segmentation.Host.Tests.Edge;

namespace Segmentation.Host.Tests.Access;

/// <summary>
/// A key's unary calls in flight are capped (<c>Auth:RateLimits:CallsInFlight</c>): past the cap they wait in the key's
/// queue, past the queue they are refused RESOURCE_EXHAUSTED with a retry hint, and another tenant's calls go through
/// all the while.
/// </summary>
public sealed class CallsInFlightTests
{
    private const string LookupPath = "/segmentation.v1.SegmentService/GetUserSegments";

    [Fact]
    public async Task CallsPastTheCap_Wait_ThenPastTheQueue_AreRefused_WhileAnotherTenantIsServed()
    {
        await using var server = await KeyedServer.StartAsync(
            "--Segmentation:Auth:RateLimits:CallsInFlight=2", "--Segmentation:Auth:RateLimits:QueuedCalls=1");
        var noisy = await server.CreateKeyAsync("noisy-shop", AccessScope.Read);
        var quiet = await server.CreateKeyAsync("quiet-shop", AccessScope.Read);
        var limiter = server.Server.Services.GetRequiredService<KeyRateLimiters>().CallsInFlight(StoredKey(server, "noisy-shop"))!;
        var request = new GetUserSegmentsRequest { UserId = "nobody" };

        // Two lookups whose message has not arrived: grpc-dotnet waits for it, so each holds one of the key's slots.
        using var http = RawGrpc.NewHttpClient();
        var bodies = new[] { NewBody(), NewBody() };
        var held = bodies.Select(body => RawGrpc.PostAsync(http, server.Server.Address, LookupPath, new ScriptedContent(async stream =>
        {
            await stream.FlushAsync();
            await body.Task;
            await stream.WriteAsync(RawGrpc.Frame(request));
        }), headers: ("authorization", "Bearer " + noisy))).ToArray();
        await UntilAsync(() => limiter.GetStatistics()!.CurrentAvailablePermits == 0);

        // The third waits in the queue, the fourth finds it full.
        var queued = server.Segments(noisy).GetUserSegmentsAsync(request).ResponseAsync;
        await UntilAsync(() => limiter.GetStatistics()!.CurrentQueuedCount == 1);
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Segments(noisy).GetUserSegmentsAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("calls in flight", refused.Status.Detail, StringComparison.Ordinal);
        var pushback = long.Parse(refused.Trailers.GetValue(QuotaRefusal.PushbackHeader)!, CultureInfo.InvariantCulture);
        Assert.Contains($"retry after {pushback} ms", refused.Status.Detail, StringComparison.Ordinal);

        // Another tenant's key is not held up by the noisy key's slots or queue.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(quiet).GetUserSegmentsAsync(request).ResponseAsync)).StatusCode);
        }

        Assert.False(queued.IsCompleted);
        Assert.All(held, call => Assert.False(call.IsCompleted));

        // One held call finishes: its slot goes to the queued call, which is then served.
        bodies[0].SetResult();
        Assert.Equal("5", (await held[0]).Status);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => queued)).StatusCode);
        bodies[1].SetResult();
        Assert.Equal("5", (await held[1]).Status);
        await UntilAsync(() => limiter.GetStatistics()!.CurrentAvailablePermits == 2);
    }

    [Fact]
    public async Task StreamingCalls_AreNotCounted()
    {
        await using var server = await KeyedServer.StartAsync(
            "--Segmentation:Auth:RateLimits:CallsInFlight=1", "--Segmentation:Auth:RateLimits:QueuedCalls=0");
        var key = await server.CreateKeyAsync("watch-shop", AccessScope.Read);
        var limiter = server.Server.Services.GetRequiredService<KeyRateLimiters>().CallsInFlight(StoredKey(server, "watch-shop"))!;
        using var watching = new CancellationTokenSource();
        using var watch = server.Segments(key).WatchUserSegments(new WatchUserSegmentsRequest { UserId = "watched" }, cancellationToken: watching.Token);
        // The watch has reached the server (it stays open: nobody changes that user's segments).
        await UntilAsync(() => server.Server.Services.GetRequiredService<Hosting.GrpcCallStatistics>().InFlight == 1);

        // With the watch open, the key's one slot is still free: a lookup is served, twice.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => server.Segments(key).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }).ResponseAsync)).StatusCode);
        }

        Assert.Equal(1, limiter.GetStatistics()!.CurrentAvailablePermits);
        await watching.CancelAsync();
    }

    private static TaskCompletionSource NewBody() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static StoredApiKey StoredKey(KeyedServer server, string tenant) =>
        server.Server.Services.GetRequiredService<ApiKeyCatalog>().All.Single(k => k.Tenant == tenant);

    // A condition the server reaches on its own soon: polled, and a failure if it never comes.
    private static async Task UntilAsync(Func<bool> condition)
    {
        for (var attempt = 0; attempt < 600 && !condition(); attempt++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }
}
