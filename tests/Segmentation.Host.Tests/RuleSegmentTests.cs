using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>Rule segments over real gRPC: managed through AdminService, evaluated on every query, durable across restarts.</summary>
public sealed class RuleSegmentTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        var events = new List<Event>();
        for (var i = 0; i < 10; i++)
        {
            // Spenders 0..3 spend 100 × (i + 1) on electronics; the others only view home items.
            events.Add(i < 4
                ? Events.Make($"seed-{i}", $"user-{i}", EventType.Purchase, s_now.AddMinutes(i), $"tv-{i}", price: 100 * (i + 1), category: "electronics.tv")
                : Events.Make($"seed-{i}", $"user-{i}", EventType.View, s_now.AddMinutes(i), "mug", category: "home.kitchen"));
        }

        await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch([.. events]));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<TResponse> AdminAsync<TRequest, TResponse>(string method, TRequest request)
        where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
        where TResponse : class, Google.Protobuf.IMessage<TResponse>, new() =>
        _server.Client.UnaryAsync<TRequest, TResponse>(s_admin.FindMethodByName(method), request);

    private Task<UserSegments> SegmentsAsync(string user) =>
        _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = user });

    [Fact]
    public async Task CreatedRule_PutsMatchingUsersInTheSegmentWithReasons_AndAnEventMovesAUserInAtOnce()
    {
        var rule = await AdminAsync<CreateRuleSegmentRequest, RuleSegment>("CreateRuleSegment", new CreateRuleSegmentRequest
        {
            Id = "big-tv-buyers",
            Name = "Big TV buyers",
            Expression = "monetary > 250 && affinity(\"electronics\") > 0.5",
        });
        Assert.Equal("big-tv-buyers", rule.Id);

        var member = await SegmentsAsync("user-3");
        var membership = Assert.Single(member.RuleSegments);
        Assert.Equal(("big-tv-buyers", "Big TV buyers"), (membership.Id, membership.Name));
        Assert.Contains(membership.Reasons, r => r.StartsWith("monetary 400", StringComparison.Ordinal) && r.EndsWith("true", StringComparison.Ordinal));
        Assert.Empty((await SegmentsAsync("user-1")).RuleSegments);
        Assert.Empty((await SegmentsAsync("user-7")).RuleSegments);

        // user-1 (200 spent) buys another TV: the very next query has her in the segment.
        await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(
            Events.Make("more-1", "user-1", EventType.Purchase, s_now.AddMinutes(30), "tv-x", price: 100, category: "electronics.tv")));
        Assert.Equal("big-tv-buyers", Assert.Single((await SegmentsAsync("user-1")).RuleSegments).Id);

        var batch = await _server.Client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(
            Events.BatchGetUserSegments, new BatchGetUserSegmentsRequest { UserIds = { "user-0", "user-3" } });
        Assert.Equal([0, 1], batch.Users.Select(u => u.RuleSegments.Count));
    }

    [Theory]
    [InlineData("monetary >", "expression: at position 10")]
    [InlineData("monetary_9d > 5", "expression: at position 0")]
    [InlineData("lifecycle == \"sleepy\"", "expression: at position 13")]
    public async Task BadExpression_IsInvalidArgumentPointingAtThePosition(string expression, string start)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => AdminAsync<CreateRuleSegmentRequest, RuleSegment>(
            "CreateRuleSegment", new CreateRuleSegmentRequest { Id = "bad", Expression = expression }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(start, error.Status.Detail, StringComparison.Ordinal);

        var dryRun = await Assert.ThrowsAsync<RpcException>(() => AdminAsync<DryRunRuleSegmentRequest, DryRunRuleSegmentResponse>(
            "DryRunRuleSegment", new DryRunRuleSegmentRequest { Expression = expression }));
        Assert.Equal(StatusCode.InvalidArgument, dryRun.StatusCode);
        Assert.Empty((await AdminAsync<ListRuleSegmentsRequest, ListRuleSegmentsResponse>("ListRuleSegments", new ListRuleSegmentsRequest())).Rules);
    }

    [Fact]
    public async Task Ids_AreValidatedAndUnique_DeleteOfAnUnknownIdIsNotFound()
    {
        var create = new CreateRuleSegmentRequest { Id = "buyers", Expression = "orders >= 1" };
        await AdminAsync<CreateRuleSegmentRequest, RuleSegment>("CreateRuleSegment", create);
        var taken = await Assert.ThrowsAsync<RpcException>(() => AdminAsync<CreateRuleSegmentRequest, RuleSegment>("CreateRuleSegment", create));
        Assert.Equal(StatusCode.AlreadyExists, taken.StatusCode);

        var badId = await Assert.ThrowsAsync<RpcException>(() => AdminAsync<CreateRuleSegmentRequest, RuleSegment>(
            "CreateRuleSegment", new CreateRuleSegmentRequest { Id = "Has Spaces", Expression = "orders >= 1" }));
        Assert.Equal(StatusCode.InvalidArgument, badId.StatusCode);
        Assert.StartsWith("id:", badId.Status.Detail, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<RpcException>(() => AdminAsync<DeleteRuleSegmentRequest, DeleteRuleSegmentResponse>(
            "DeleteRuleSegment", new DeleteRuleSegmentRequest { Id = "nope" }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task DryRun_CountsWithoutCreating_AndRulesSurviveARestartUntilDeleted()
    {
        var dryRun = await AdminAsync<DryRunRuleSegmentRequest, DryRunRuleSegmentResponse>(
            "DryRunRuleSegment", new DryRunRuleSegmentRequest { Expression = "purchases >= 1", SampleSize = 2 });
        Assert.Equal((10L, 4L, 2), (dryRun.UsersEvaluated, dryRun.UsersMatched, dryRun.SampleUserIds.Count));
        Assert.All(dryRun.SampleUserIds, id => Assert.Contains(id, new[] { "user-0", "user-1", "user-2", "user-3" }));
        Assert.Empty((await AdminAsync<ListRuleSegmentsRequest, ListRuleSegmentsResponse>("ListRuleSegments", new ListRuleSegmentsRequest())).Rules);

        await AdminAsync<CreateRuleSegmentRequest, RuleSegment>("CreateRuleSegment", new CreateRuleSegmentRequest { Id = "z-browsers", Expression = "purchases == 0" });
        await AdminAsync<CreateRuleSegmentRequest, RuleSegment>("CreateRuleSegment", new CreateRuleSegmentRequest { Id = "a-buyers", Expression = "purchases >= 1" });

        await _server.StopAsync();
        _server = await TestServer.StartAsync(_server.DataDirectory);
        var listed = await AdminAsync<ListRuleSegmentsRequest, ListRuleSegmentsResponse>("ListRuleSegments", new ListRuleSegmentsRequest());
        Assert.Equal(["a-buyers", "z-browsers"], listed.Rules.Select(r => r.Id));
        Assert.Equal("purchases == 0", listed.Rules[1].Expression);
        Assert.Equal("z-browsers", Assert.Single((await SegmentsAsync("user-8")).RuleSegments).Id);

        var deleted = await AdminAsync<DeleteRuleSegmentRequest, DeleteRuleSegmentResponse>("DeleteRuleSegment", new DeleteRuleSegmentRequest { Id = "z-browsers" });
        Assert.Equal("z-browsers", deleted.Deleted.Id);
        Assert.Empty((await SegmentsAsync("user-8")).RuleSegments);
    }
}
