using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// SegmentService.ListSegments lists every segmentation — value (RFM), lifecycle, rules — with live sizes and business
/// metrics next to the shop's: each segment holds exactly the users GetUserSegments puts in it, and the metrics are the
/// members' orders and spend as ingested.
/// </summary>
public sealed class SegmentBusinessMetricsTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private AdminService.AdminServiceClient Admin => new(_server.Client);

    private SegmentService.SegmentServiceClient Segments => new(_server.Client);

    [Fact]
    public async Task ValueLifecycleAndRuleSegments_AreListedWithTheirMembersMetrics()
    {
        await Admin.CreateRuleSegmentAsync(new CreateRuleSegmentRequest { Id = "frequent", Name = "frequent buyers", Expression = "orders >= 10" });
        // 30 loyal buyers (10–19 orders of 80–167 in the last 60 days), 30 lapsed ones (one order of 5–14, 300–387 days
        // ago), 10 who only looked.
        var events = new List<Event>();
        var loyalSpend = 0.0;
        var loyalOrders = 0;
        var lapsedSpend = 0.0;
        for (var u = 0; u < 30; u++)
        {
            for (var o = 0; o < 10 + (u % 10); o++)
            {
                events.Add(Events.Make($"loyal-{u}-{o}", $"loyal-{u}", EventType.Purchase, s_now.AddDays(-(o * 5) - (u % 5)), $"sku-{o}", price: 80 + (u * 3)));
                loyalSpend += 80 + (u * 3);
                loyalOrders++;
            }

            events.Add(Events.Make($"lapsed-{u}", $"lapsed-{u}", EventType.Purchase, s_now.AddDays(-300 - (u * 3)), "sku-1", price: 5 + (u % 10)));
            lapsedSpend += 5 + (u % 10);
        }

        events.AddRange(Enumerable.Range(0, 10).Select(i => Events.Make($"look-{i}", $"looker-{i}", EventType.View, s_now.AddDays(-i), "sku-2")));
        foreach (var chunk in events.Chunk(500))
        {
            await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(chunk));
        }

        await Admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest());
        // Each user's refresh (shortly after her events) records her for the metrics: wait until all 70 are counted.
        ListSegmentsResponse listed = null!;
        for (var i = 0; i < 200 && (listed = await Segments.ListSegmentsAsync(new ListSegmentsRequest())).Shop.Users < 70; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(70, listed.Shop.Users);
        Assert.Equal(60 / 70.0, listed.Shop.ConversionRate, 12);
        Assert.Equal((loyalSpend + lapsedSpend) / (loyalOrders + 30), listed.Shop.AverageOrderValue, 9);
        Assert.Equal(0, listed.ModelVersion);
        Assert.Empty(listed.Segments);

        // Every segment holds exactly the users GetUserSegments puts in it now.
        var users = Enumerable.Range(0, 30).SelectMany(u => new[] { $"loyal-{u}", $"lapsed-{u}" }).Concat(Enumerable.Range(0, 10).Select(i => $"looker-{i}")).ToList();
        var answers = new List<UserSegments>();
        foreach (var user in users)
        {
            answers.Add(await _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = user }));
        }

        Assert.StartsWith("value-", listed.ValueModelVersion, StringComparison.Ordinal);
        Assert.NotEmpty(listed.ValueSegments);
        var byValue = answers.Where(a => a.ValueSegment is not null).GroupBy(a => $"value:{a.ValueSegment.SegmentId}").ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(byValue.OrderBy(p => p.Key), listed.ValueSegments.Where(s => s.Size > 0).Select(s => KeyValuePair.Create(s.SegmentId, s.Size)).OrderBy(p => p.Key));
        Assert.Equal(60, listed.ValueSegments.Sum(s => s.Size));
        Assert.All(listed.ValueSegments, s => Assert.Equal(s.Size, s.Metrics.Users));
        Assert.All(listed.ValueSegments.Where(s => s.Size > 0), s => Assert.Equal(1.0, s.Metrics.ConversionRate));
        Assert.Equal(1.0, listed.ValueSegments.Sum(s => s.Metrics.RevenueShare), 9);
        Assert.Equal(
            answers.Where(a => a.ValueSegment is not null).ToDictionary(a => a.UserId, a => a.ValueSegment.Label).Values.Distinct().Order(),
            listed.ValueSegments.Where(s => s.Size > 0).Select(s => s.Label).Distinct().Order());

        var byStage = answers.GroupBy(a => "lifecycle:" + LifecycleName(a.Lifecycle.Stage)).ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(["lifecycle:new", "lifecycle:active", "lifecycle:at-risk", "lifecycle:churned", "lifecycle:reactivated"], listed.LifecycleSegments.Select(s => s.SegmentId));
        Assert.All(listed.LifecycleSegments, s => Assert.Equal(byStage.GetValueOrDefault(s.SegmentId), s.Size));
        var churned = listed.LifecycleSegments.Single(s => s.SegmentId == "lifecycle:churned");
        Assert.Equal(30, churned.Size); // the lapsed buyers
        Assert.Equal(1.0, churned.Metrics.ChurnRate);
        Assert.Equal(lapsedSpend / (loyalSpend + lapsedSpend), churned.Metrics.RevenueShare, 9);

        // The rule segment: the loyal buyers, with their spend, orders and share of revenue.
        var rule = Assert.Single(listed.RuleSegments);
        Assert.Equal(("rule:frequent", "frequent buyers", "orders >= 10"), (rule.SegmentId, rule.Label, rule.Rule));
        Assert.Equal(answers.Count(a => a.RuleSegments.Any(r => r.Id == "frequent")), rule.Size);
        Assert.Equal(30, rule.Size);
        Assert.Equal(1.0, rule.Metrics.ConversionRate);
        Assert.Equal(loyalSpend / loyalOrders, rule.Metrics.AverageOrderValue, 9);
        Assert.Equal(loyalOrders / 30.0, rule.Metrics.PurchaseFrequency, 12);
        Assert.Equal(loyalSpend / (loyalSpend + lapsedSpend), rule.Metrics.RevenueShare, 9);
        Assert.Equal(0, rule.Metrics.ChurnRate);
        Assert.NotNull(listed.MetricsAsOf);
    }

    private static string LifecycleName(LifecycleStage stage) => stage switch
    {
        LifecycleStage.New => "new",
        LifecycleStage.Active => "active",
        LifecycleStage.AtRisk => "at-risk",
        LifecycleStage.Churned => "churned",
        LifecycleStage.Reactivated => "reactivated",
        _ => "unspecified",
    };
}
