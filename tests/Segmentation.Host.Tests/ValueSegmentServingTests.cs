using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The served value (RFM) segmentation over real gRPC: fitted by AdminService.TrainValueSegments on the server's log,
/// it puts recent big buyers and long-gone one-off buyers in differently labelled segments, keeps ids on a re-run,
/// leaves non-buyers out, and is served again after a restart.
/// </summary>
public sealed class ValueSegmentServingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<UserSegments> SegmentsAsync(string user) =>
        _server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = user });

    private AdminService.AdminServiceClient Admin => new(_server.Client);

    // 30 loyal buyers (10–19 orders of 80–170 in the last 60 days), 30 lapsed ones (one order of 5–15, 300–400 days
    // ago), 10 who only looked.
    private static async Task IngestBuyersAsync(TestServer server)
    {
        var events = new List<Event>();
        for (var u = 0; u < 30; u++)
        {
            for (var o = 0; o < 10 + (u % 10); o++)
            {
                events.Add(Events.Make($"loyal-{u}-{o}", $"loyal-{u}", EventType.Purchase, s_now.AddDays(-(o * 5) - (u % 5)), $"sku-{o}", price: 80 + (u * 3)));
            }

            events.Add(Events.Make($"lapsed-{u}", $"lapsed-{u}", EventType.Purchase, s_now.AddDays(-300 - (u * 3)), "sku-1", price: 5 + (u % 10)));
        }

        events.AddRange(Enumerable.Range(0, 10).Select(i => Events.Make($"look-{i}", $"looker-{i}", EventType.View, s_now.AddDays(-i), "sku-2")));
        foreach (var chunk in events.Chunk(500))
        {
            await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(chunk));
        }
    }

    [Fact]
    public async Task Buyers_GetLabelledValueSegments_StableAcrossARerun_AndAfterARestart()
    {
        await IngestBuyersAsync(_server);

        Assert.Null((await SegmentsAsync("loyal-0")).ValueSegment);
        var trained = await Admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest());
        Assert.Equal(60, trained.Customers);
        Assert.Equal(60, trained.Segments.Sum(s => s.Size));
        Assert.Equal(14, trained.Candidates.Count); // k-means and a mixture for each k of 2..8
        Assert.Contains(trained.Method, new[] { "k-means", "gmm" });

        var loyal = (await SegmentsAsync("loyal-3")).ValueSegment;
        var lapsed = (await SegmentsAsync("lapsed-3")).ValueSegment;
        Assert.NotEqual(loyal.SegmentId, lapsed.SegmentId);
        Assert.Contains(loyal.Label, new[] { "Champions", "Loyal", "Potential loyalists" });
        Assert.Contains(lapsed.Label, new[] { "Lost", "Hibernating", "At risk" });
        Assert.Equal(13, loyal.Frequency);
        Assert.Null((await SegmentsAsync("looker-1")).ValueSegment);

        // A re-run on the same buyers keeps every segment's id; a restart serves the stored one.
        var again = await Admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest());
        Assert.Equal(trained.Segments.Select(s => (s.Label, s.Size)).Order(), again.Segments.Select(s => (s.Label, s.Size)).Order());
        Assert.Equal(trained.Segments.ToDictionary(s => s.Label, s => s.SegmentId).OrderBy(p => p.Key), again.Segments.ToDictionary(s => s.Label, s => s.SegmentId).OrderBy(p => p.Key));
        await _server.StopAsync();
        _server = await TestServer.StartAsync(_server.DataDirectory);
        var restarted = (await SegmentsAsync("lapsed-3")).ValueSegment;
        Assert.Equal((again.Version, lapsed.SegmentId, lapsed.Label), (restarted.ModelVersion, restarted.SegmentId, restarted.Label));

        // An experiment may target a value segment.
        var experiment = await new ExperimentService.ExperimentServiceClient(_server.Client).CreateExperimentAsync(new ExperimentDefinition
        {
            Id = "lapsed-coupon",
            Segment = $"value:{lapsed.SegmentId}",
            Arms = { new ExperimentArm { Name = "holdout", Share = 1 }, new ExperimentArm { Name = "coupon", Share = 1 } },
        });
        Assert.Equal($"value:{lapsed.SegmentId}", experiment.Experiment.Segment);
    }

    [Fact]
    public async Task TheRetrainReminder_TrainsChurnValueSegmentsAndAnomalies_WithoutAnAdminCall()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Churn:RetrainEvery=00:00:01", "--Segmentation:Silo:MinimumReminderPeriod=00:00:01");
        await IngestBuyersAsync(server);
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        UserSegments segments;
        do
        {
            await Task.Delay(200, patience.Token);
            segments = await server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "lapsed-4" });
        }
        while (segments.ValueSegment is null || segments.Anomaly is null || segments.Churn is null);

        Assert.StartsWith("value-", segments.ValueSegment.ModelVersion, StringComparison.Ordinal);
        Assert.StartsWith("anomaly-", segments.Anomaly.ModelVersion, StringComparison.Ordinal);
        Assert.StartsWith("churn-", segments.Churn.ModelVersion, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARetrainPeriodBelowTheReminderMinimum_FailsAtStart_NamingTheSettings()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(null, "--Segmentation:Churn:RetrainEvery=00:00:10"));
        Assert.Contains("Segmentation:Churn:RetrainEvery", error.Message, StringComparison.Ordinal);
        Assert.Contains("MinimumReminderPeriod", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TooFewBuyers_IsFailedPrecondition()
    {
        await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(Events.Make("one", "only", EventType.Purchase, s_now)));
        var error = await Assert.ThrowsAsync<RpcException>(() => Admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("needs at least 20", error.Status.Detail, StringComparison.Ordinal);
    }
}
