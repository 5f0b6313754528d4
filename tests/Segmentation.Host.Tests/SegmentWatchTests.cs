using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>WatchUserSegments / WatchSegmentChanges over real gRPC server streaming.</summary>
public sealed class SegmentWatchTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_segments = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");
    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_watchUser = s_segments.FindMethodByName("WatchUserSegments");
    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_watchSegment = s_segments.FindMethodByName("WatchSegmentChanges");
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task WaitForWatchersAsync(int count)
    {
        for (var i = 0; i < 500 && _server.Server.SegmentChanges.WatcherCount < count; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(count, _server.Server.SegmentChanges.WatcherCount);
    }

    private Task IngestAsync(params Event[] events) =>
        _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));

    [Fact]
    public async Task Watchers_SeeTheirOwnTenantsUsersOnly_EvenUnderTheSameUserId()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        CallSettings As(string tenant) => new(Headers: new Metadata { { "x-tenant", tenant } }, CancellationToken: cancel.Token);
        await using var userOfA = _server.Client.ServerStreamingAsync<WatchUserSegmentsRequest, SegmentChange>(s_watchUser, new WatchUserSegmentsRequest { UserId = "same" }, As("shop-a")).GetAsyncEnumerator(cancel.Token);
        await using var allOfB = _server.Client.ServerStreamingAsync<WatchSegmentChangesRequest, SegmentChange>(s_watchSegment, new WatchSegmentChangesRequest { SegmentId = "" }, As("shop-b")).GetAsyncEnumerator(cancel.Token);
        var userOfANext = userOfA.MoveNextAsync().AsTask();
        var allOfBNext = allOfB.MoveNextAsync().AsTask();
        await WaitForWatchersAsync(2);

        // Tenant default's and tenant b's "same" first: neither reaches tenant a's watcher of "same".
        await IngestAsync(Events.Make("t-1", "same", EventType.View, s_now));
        await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(Events.Make("t-2", "same", EventType.View, s_now)), As("shop-b"));
        Assert.True(await allOfBNext);
        Assert.Equal(("same", "lifecycle:new", true), (allOfB.Current.UserId, allOfB.Current.SegmentId, allOfB.Current.Entered));
        Assert.False(userOfANext.IsCompleted);

        await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(Events.Make("t-3", "same", EventType.Purchase, s_now)), As("shop-a"));
        Assert.True(await userOfANext);
        Assert.Equal(("same", "lifecycle:new", true), (userOfA.Current.UserId, userOfA.Current.SegmentId, userOfA.Current.Entered));

        // Tenant b's watcher of everything saw no change of tenant a's or default's users: its next is b's own.
        allOfBNext = allOfB.MoveNextAsync().AsTask();
        await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(Events.Make("t-4", "other-b", EventType.View, s_now)), As("shop-b"));
        Assert.True(await allOfBNext);
        Assert.Equal("other-b", allOfB.Current.UserId);
    }

    [Fact]
    public async Task Watchers_SeeTheChangesTheirFilterTakes_AsEventsArrive()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var options = new CallSettings(CancellationToken: cancel.Token);
        await using var user = _server.Client.ServerStreamingAsync<WatchUserSegmentsRequest, SegmentChange>(s_watchUser, new WatchUserSegmentsRequest { UserId = "watched" }, options).GetAsyncEnumerator(cancel.Token);
        await using var rules = _server.Client.ServerStreamingAsync<WatchSegmentChangesRequest, SegmentChange>(s_watchSegment, new WatchSegmentChangesRequest { SegmentId = "rule:" }, options).GetAsyncEnumerator(cancel.Token);
        var userNext = user.MoveNextAsync().AsTask();
        var rulesNext = rules.MoveNextAsync().AsTask();
        await WaitForWatchersAsync(2);

        await IngestAsync(Events.Make("w-1", "other", EventType.View, s_now));
        await IngestAsync(Events.Make("w-2", "watched", EventType.View, s_now));
        Assert.True(await userNext);
        Assert.Equal(("watched", "lifecycle:new", true), (user.Current.UserId, user.Current.SegmentId, user.Current.Entered));
        Assert.StartsWith("first seen", user.Current.Reason, StringComparison.Ordinal);
        Assert.Equal(s_now, user.Current.At.ToDateTimeOffset());

        var admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
        await _server.Client.UnaryAsync<CreateRuleSegmentRequest, RuleSegment>(
            admin.FindMethodByName("CreateRuleSegment"), new CreateRuleSegmentRequest { Id = "buyers", Expression = "purchases >= 1" });
        await IngestAsync(Events.Make("w-3", "watched", EventType.Purchase, s_now.AddMinutes(1)));

        Assert.True(await user.MoveNextAsync());
        Assert.Equal(("rule:buyers", true), (user.Current.SegmentId, user.Current.Entered));
        Assert.Contains("purchases 1 >= 1", user.Current.Reason, StringComparison.Ordinal);
        Assert.True(await rulesNext);
        Assert.Equal(("watched", "rule:buyers"), (rules.Current.UserId, rules.Current.SegmentId));
    }

    [Fact]
    public async Task RuleMembershipsKeptWhileNobodyWatched_AreWhatALaterWatcherSeesHerLeave()
    {
        var admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
        foreach (var (id, expression) in new[] { ("abandoners", "carts >= 1 && purchases == 0"), ("buyers", "purchases >= 1") })
        {
            await _server.Client.UnaryAsync<CreateRuleSegmentRequest, RuleSegment>(
                admin.FindMethodByName("CreateRuleSegment"), new CreateRuleSegmentRequest { Id = id, Expression = expression });
        }

        // Nobody watches: the refresh decides her rules without their reasons, and keeps the memberships.
        await IngestAsync(Events.Make("l-1", "late", EventType.AddToCart, s_now));

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var user = _server.Client.ServerStreamingAsync<WatchUserSegmentsRequest, SegmentChange>(
            s_watchUser, new WatchUserSegmentsRequest { UserId = "late" }, new CallSettings(CancellationToken: cancel.Token)).GetAsyncEnumerator(cancel.Token);
        var next = user.MoveNextAsync().AsTask();
        await WaitForWatchersAsync(1);
        await IngestAsync(Events.Make("l-2", "late", EventType.Purchase, s_now.AddMinutes(1)));

        // Left first, then entered: the rule she was put in unwatched is the one she leaves.
        Assert.True(await next);
        Assert.Equal(("late", "rule:abandoners", false), (user.Current.UserId, user.Current.SegmentId, user.Current.Entered));
        Assert.True(await user.MoveNextAsync());
        Assert.Equal(("rule:buyers", true), (user.Current.SegmentId, user.Current.Entered));
        Assert.Contains("purchases 1 >= 1: true", user.Current.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadSegmentId_IsInvalidArgument_AndShutdownEndsWatchesWithUnavailable()
    {
        var bad = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in _server.Client.ServerStreamingAsync<WatchSegmentChangesRequest, SegmentChange>(s_watchSegment, new WatchSegmentChangesRequest { SegmentId = "vip" }))
            {
            }
        });
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.StartsWith("segment_id:", bad.Status.Detail, StringComparison.Ordinal);

        var watch = Task.Run(async () =>
        {
            await foreach (var _ in _server.Client.ServerStreamingAsync<WatchSegmentChangesRequest, SegmentChange>(s_watchSegment, new WatchSegmentChangesRequest()))
            {
            }
        });
        await WaitForWatchersAsync(1);
        var stop = _server.Server.StopAsync();
        var ended = await Assert.ThrowsAsync<RpcException>(() => watch);
        Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        await stop;
    }
}
