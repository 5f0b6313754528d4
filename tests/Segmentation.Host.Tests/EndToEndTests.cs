using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>The service over real gRPC: ingest, profiles, lifecycle segments, and bad input with exact statuses.</summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow();
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<IngestEventsResponse> IngestAsync(IngestEventsRequest request) =>
        _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, request);

    [Fact]
    public async Task Ingest_MixedBatch_RejectsInvalidEventsWithFieldAndAcceptsTheRest()
    {
        var bad = new List<(Event Event, string Field)>
        {
            (Events.Make("", "u1", EventType.View, s_now), "event_id"),
            (Events.Make("e-user", "", EventType.View, s_now), "user_id"),
            (Events.Make("e-long", new string('x', 129), EventType.View, s_now), "user_id"),
            (Events.Make("e-type", "u1", (EventType)42, s_now), "type"),
            (Events.Make("e-nan", "u1", EventType.Purchase, s_now, price: double.NaN), "price"),
            (Events.Make("e-neg", "u1", EventType.Purchase, s_now, price: -1), "price"),
            (Events.Make("e-qty", "u1", EventType.Purchase, s_now, quantity: 0), "quantity"),
            (Events.Make("e-future", "u1", EventType.View, s_now.AddDays(2)), "timestamp"),
            (Events.Make("e-old", "u1", EventType.View, new DateTimeOffset(1999, 12, 31, 0, 0, 0, TimeSpan.Zero)), "timestamp"),
        };
        var rating = Events.Make("e-rating", "u1", EventType.Rating, s_now);
        rating.Rating = 6;
        bad.Add((rating, "rating"));
        var noTimestamp = Events.Make("e-nots", "u1", EventType.View, s_now);
        noTimestamp.Timestamp = null;
        bad.Add((noTimestamp, "timestamp"));

        var request = new IngestEventsRequest();
        request.Events.Add(Events.Make("good-1", "u1", EventType.View, s_now.AddHours(-2)));
        request.Events.Add(bad.Select(b => b.Event));
        request.Events.Add(Events.Make("good-2", "u1", EventType.Purchase, s_now.AddHours(-1), price: 20, quantity: 2));

        var response = await IngestAsync(request);

        Assert.Equal(2, response.Accepted);
        Assert.Equal(bad.Count, response.Rejected);
        Assert.Equal(IngestOutcome.Accepted, response.Results[0].Outcome);
        Assert.Equal(IngestOutcome.Accepted, response.Results[^1].Outcome);
        for (var i = 0; i < bad.Count; i++)
        {
            var result = response.Results[i + 1];
            Assert.Equal(IngestOutcome.Rejected, result.Outcome);
            Assert.Equal(bad[i].Field, result.Field);
            Assert.False(string.IsNullOrWhiteSpace(result.Reason));
            Assert.Equal(i + 1, result.Index);
        }
    }

    [Fact]
    public async Task Ingest_SameBatchTwice_CountsDuplicatesNotNewEvents()
    {
        var batch = Events.Batch(
            Events.Make("dup-1", "dup-user", EventType.View, s_now.AddMinutes(-5)),
            Events.Make("dup-2", "dup-user", EventType.Purchase, s_now.AddMinutes(-4), price: 5, quantity: 3));
        var first = await IngestAsync(batch);
        var second = await IngestAsync(batch);

        Assert.Equal((2, 0), (first.Accepted, first.Duplicates));
        Assert.Equal((0, 2), (second.Accepted, second.Duplicates));
        var profile = await _server.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "dup-user" });
        Assert.Equal(2, profile.EventCount);
        Assert.Equal(15, profile.Spend, 6);
    }

    [Fact]
    public async Task GetProfile_AfterPurchases_ReportsOrdersSpendRfmCategoriesAndRecentItems()
    {
        var t = s_now.AddDays(-3);
        var order1 = Events.Make("p-1", "shopper", EventType.Purchase, t, item: "mug", price: 8, quantity: 2, category: "home.kitchen.mugs");
        order1.Attributes["order_id"] = "o-1";
        var order1b = Events.Make("p-2", "shopper", EventType.Purchase, t, item: "plate", price: 4, quantity: 1, category: "home.kitchen.plates");
        order1b.Attributes["order_id"] = "o-1";
        var order2 = Events.Make("p-3", "shopper", EventType.Purchase, t.AddDays(1), item: "lamp", price: 30, quantity: 1, category: "home.lighting");
        order2.Attributes["order_id"] = "o-2";
        var view = Events.Make("p-4", "shopper", EventType.View, t.AddDays(2), item: "sofa", category: "home.living");
        await IngestAsync(Events.Batch(order1, order1b, order2, view));

        var profile = await _server.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "shopper" });

        Assert.Equal(4, profile.EventCount);
        Assert.Equal(2, profile.Orders);
        Assert.Equal(50, profile.Spend, 6);
        Assert.Equal(25, profile.AverageOrderValue, 6);
        Assert.Equal(2, profile.Rfm.Frequency);
        Assert.InRange(profile.Rfm.RecencyScore, 1, 5);
        Assert.InRange(profile.Rfm.MonetaryScore, 1, 5);
        Assert.Contains(profile.TopCategories, c => c.Category.StartsWith("home", StringComparison.Ordinal));
        Assert.Equal("sofa", profile.RecentItems[0].ItemId);
        Assert.Equal(Timestamp.FromDateTimeOffset(t), profile.FirstSeen);
        Assert.Equal(3, profile.Counts.Single(c => c.Type == EventType.Purchase).Count);
    }

    [Fact]
    public async Task GetUserSegments_ExplainsLifecycleStage()
    {
        // The clock is event time: a recent event by someone else moves "now" past this user's last activity.
        await IngestAsync(Events.Batch(
            Events.Make("l-1", "lapsing", EventType.Purchase, s_now.AddDays(-120), price: 10, quantity: 1),
            Events.Make("l-2", "lapsing", EventType.View, s_now.AddDays(-47).AddMinutes(-1)),
            Events.Make("l-3", "fresh", EventType.View, s_now.AddMinutes(-1))));

        var lapsing = await _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "lapsing" });
        var fresh = await _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "fresh" });

        Assert.Equal(LifecycleStage.AtRisk, lapsing.Lifecycle.Stage);
        Assert.Contains("47", lapsing.Lifecycle.Explanation, StringComparison.Ordinal);
        Assert.Equal(LifecycleStage.New, fresh.Lifecycle.Stage);
    }

    [Fact]
    public async Task BatchGetUserSegments_ReturnsFoundInOrderAndListsUnknownIds()
    {
        await IngestAsync(Events.Batch(
            Events.Make("b-1", "b-a", EventType.View, s_now.AddMinutes(-3)),
            Events.Make("b-2", "b-b", EventType.View, s_now.AddMinutes(-2))));
        var request = new BatchGetUserSegmentsRequest { UserIds = { "b-b", "nobody", "b-a" } };

        var response = await _server.Client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(Events.BatchGetUserSegments, request);

        Assert.Equal(["b-b", "b-a"], response.Users.Select(u => u.UserId));
        Assert.Equal(["nobody"], response.NotFound);
    }

    [Fact]
    public async Task BadRequests_GetSpecificStatuses_AndTheServerKeepsServing()
    {
        var unknown = await Assert.ThrowsAsync<RpcException>(() =>
            _server.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "never-seen" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        var empty = await Assert.ThrowsAsync<RpcException>(() =>
            _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest()));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Contains("user_id", empty.Status.Detail, StringComparison.Ordinal);

        var tooMany = new BatchGetUserSegmentsRequest();
        tooMany.UserIds.Add(Enumerable.Range(0, 1_001).Select(i => $"u{i}"));
        var batch = await Assert.ThrowsAsync<RpcException>(() =>
            _server.Client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(Events.BatchGetUserSegments, tooMany));
        Assert.Equal(StatusCode.InvalidArgument, batch.StatusCode);
        Assert.Contains("user_ids", batch.Status.Detail, StringComparison.Ordinal);

        var huge = new IngestEventsRequest();
        huge.Events.Add(Enumerable.Range(0, 10_001).Select(i => new Event { EventId = $"h{i}" }));
        var events = await Assert.ThrowsAsync<RpcException>(() => IngestAsync(huge));
        Assert.Equal(StatusCode.InvalidArgument, events.StatusCode);
        Assert.Contains("events", events.Status.Detail, StringComparison.Ordinal);

        var ok = await IngestAsync(Events.Batch(Events.Make("after-bad", "after-bad", EventType.View, s_now.AddMinutes(-1))));
        Assert.Equal(1, ok.Accepted);
    }

    [Fact]
    public async Task StreamEvents_BulkLoad_ReturnsSummaryWithTopReasons()
    {
        static async IAsyncEnumerable<IngestEventsRequest> Batches()
        {
            for (var b = 0; b < 4; b++)
            {
                var request = new IngestEventsRequest();
                for (var i = 0; i < 500; i++)
                {
                    request.Events.Add(Events.Make($"s-{b}-{i}", $"s-user-{i % 50}", EventType.View, s_now.AddMinutes(-10)));
                }

                request.Events.Add(Events.Make($"s-{b}-bad", "", EventType.View, s_now));
                yield return request;
                await Task.Yield();
            }
        }

        var summary = await _server.Client.ClientStreamingAsync<IngestEventsRequest, StreamEventsResponse>(Events.Stream, Batches());

        Assert.Equal(2_004, summary.Received);
        Assert.Equal(2_000, summary.Accepted);
        Assert.Equal(4, summary.Rejected);
        Assert.Equal(4, summary.TopRejectionReasons.Single().Count);
        Assert.StartsWith("user_id", summary.TopRejectionReasons[0].Reason, StringComparison.Ordinal);
        Assert.Equal([500, 1001, 1502, 2003], summary.SampleRejections.Select(r => r.Index));
    }
}
