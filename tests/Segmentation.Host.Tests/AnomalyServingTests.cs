using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The served anomaly model over real gRPC: trained by AdminService.TrainAnomalyModel on the server's log, it flags an
/// injected bot and card tester (anomaly:flagged with the inputs that isolated them) and not the ordinary shoppers,
/// publishes the flag to watchers, and is served again after a restart from the store.
/// </summary>
public sealed class AnomalyServingTests : IAsyncLifetime
{
    // 01:00 UTC twenty days ago: the bot's 600 views (3 h 20 min) fall on one UTC day, as the anomaly inputs count days,
    // whatever the hour the test runs (from 20:40 UTC, now minus 20 days put them across midnight, on two days).
    private static readonly DateTimeOffset s_day = new DateTimeOffset(TimeProvider.System.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero).AddDays(-20).AddHours(1);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_segments = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task IngestAsync(params Event[] events) =>
        _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));

    private Task<UserSegments> SegmentsAsync(string user) =>
        _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = user });

    private AdminService.AdminServiceClient Admin => new(_server.Client);

    [Fact]
    public async Task TrainedForest_FlagsTheBotAndTheCardTester_NotShoppers_TellsWatchers_AndSurvivesARestart()
    {
        // 60 shoppers: a few views and an order of 20–80 on each of 2–4 days.
        var events = new List<Event>();
        for (var u = 0; u < 60; u++)
        {
            for (var d = 0; d < 2 + (u % 3); d++)
            {
                var at = s_day.AddDays(d * 2).AddHours(u % 10);
                for (var v = 0; v < 2 + ((u + d) % 4); v++)
                {
                    events.Add(Events.Make($"s{u}-{d}-v{v}", $"shopper-{u}", EventType.View, at.AddMinutes(v), $"sku-{(u + v) % 30}"));
                }

                events.Add(Events.Make($"s{u}-{d}-buy", $"shopper-{u}", EventType.Purchase, at.AddMinutes(10), $"sku-{u % 30}", price: 20 + ((u * 7) % 60)));
            }
        }

        // A bot: 600 views in one day, nothing bought. A card tester: 40 orders of 1.00 in one day.
        events.AddRange(Enumerable.Range(0, 600).Select(i => Events.Make($"bot-{i}", "bot", EventType.View, s_day.AddSeconds(i * 20), $"sku-{i % 30}")));
        events.AddRange(Enumerable.Range(0, 40).Select(i => Events.Make($"card-{i}", "card-tester", EventType.Purchase, s_day.AddMinutes(i), "gift-card", price: 1)));
        foreach (var chunk in events.Chunk(500))
        {
            await IngestAsync(chunk);
        }

        Assert.Null((await SegmentsAsync("bot")).Anomaly);
        var trained = await Admin.TrainAnomalyModelAsync(new TrainAnomalyModelRequest());
        Assert.Equal(62, trained.Users);
        Assert.Equal(0.6, trained.FlagThreshold);

        var bot = (await SegmentsAsync("bot")).Anomaly;
        var card = (await SegmentsAsync("card-tester")).Anomaly;
        Assert.True(bot.Flagged, $"bot scored {bot.Score}");
        Assert.True(card.Flagged, $"card tester scored {card.Score}");
        Assert.Equal(3, bot.Reasons.Count);
        Assert.Contains(bot.Reasons, r => r.StartsWith("views 600", StringComparison.Ordinal) || r.StartsWith("events_per_active_day 600", StringComparison.Ordinal));
        Assert.Contains(card.Reasons, r => r.StartsWith("orders", StringComparison.Ordinal) || r.StartsWith("average_order_value", StringComparison.Ordinal));
        var shoppers = await Task.WhenAll(Enumerable.Range(0, 60).Select(u => SegmentsAsync($"shopper-{u}")));
        Assert.All(shoppers, s => Assert.Equal(trained.Version, s.Anomaly.ModelVersion));
        Assert.True(shoppers.Count(s => s.Anomaly.Flagged) <= 3, $"{shoppers.Count(s => s.Anomaly.Flagged)} of 60 shoppers flagged");
        Assert.Equal(2 + shoppers.Count(s => s.Anomaly.Flagged), trained.Flagged);

        // A watcher of anomaly: sees the bot enter at its next event.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = _server.Client.ServerStreamingAsync<WatchSegmentChangesRequest, SegmentChange>(
            s_segments.FindMethodByName("WatchSegmentChanges"), new WatchSegmentChangesRequest { SegmentId = "anomaly:" }, new CallSettings(CancellationToken: cancel.Token)).GetAsyncEnumerator(cancel.Token);
        var next = watch.MoveNextAsync().AsTask();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (_server.Server.SegmentChanges.WatcherCount < 1 && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(10);
        }

        Assert.True(_server.Server.SegmentChanges.WatcherCount > 0, "the watch was not registered within 20 s");

        await IngestAsync(Events.Make("bot-more", "bot", EventType.View, s_day.AddHours(4), "sku-1"));
        Assert.True(await next);
        Assert.Equal(("bot", "anomaly:flagged", true), (watch.Current.UserId, watch.Current.SegmentId, watch.Current.Entered));
        Assert.StartsWith("anomaly score 0.", watch.Current.Reason, StringComparison.Ordinal);

        // A restart serves the stored forest: the same version, the same flag.
        await _server.StopAsync();
        _server = await TestServer.StartAsync(_server.DataDirectory);
        var again = (await SegmentsAsync("card-tester")).Anomaly;
        Assert.Equal((trained.Version, true, card.Score), (again.ModelVersion, again.Flagged, again.Score));
    }

    [Fact]
    public async Task TooFewUsers_IsFailedPrecondition()
    {
        await IngestAsync(Events.Make("one", "only", EventType.View, s_day));
        var error = await Assert.ThrowsAsync<RpcException>(() => Admin.TrainAnomalyModelAsync(new TrainAnomalyModelRequest()).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("a forest needs at least 16", error.Status.Detail, StringComparison.Ordinal);
    }
}
