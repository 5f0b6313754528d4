using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// ExperimentService over real gRPC: definitions checked field by field, deterministic arms returned with
/// GetUserInsight, exposures and conversions counted from ingested events exactly once, results with lift and interval,
/// segment filters, and counts that survive a restart.
/// </summary>
public sealed class ExperimentTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddHours(-2);
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ExperimentService.ExperimentServiceClient Experiments => new(_server.Client);

    private Task IngestAsync(params Event[] events) =>
        _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));

    private async Task<string?> ArmAsync(string user, string experiment)
    {
        var insight = await new RecommendationService.RecommendationServiceClient(_server.Client).GetUserInsightAsync(new GetUserInsightRequest { UserId = user, Count = 1 });
        return insight.Experiments.SingleOrDefault(a => a.ExperimentId == experiment)?.Arm;
    }

    private static ExperimentDefinition Definition(string id, string segment = "", params (string Name, double Share)[] arms)
    {
        var definition = new ExperimentDefinition { Id = id, Segment = segment, Start = Timestamp.FromDateTimeOffset(s_start) };
        definition.Arms.AddRange((arms.Length > 0 ? arms : [("control", 50), ("b", 50)]).Select(a => new ExperimentArm { Name = a.Name, Share = a.Share }));
        return definition;
    }

    [Fact]
    public async Task BadDefinitions_NameEveryField_TakenIdIsAlreadyExists_UnknownIsNotFound()
    {
        var bad = new ExperimentDefinition { Id = "Bad Id!", Segment = "vip", Conversion = (EventType)99 };
        bad.Arms.Add(new ExperimentArm { Name = "a", Share = -1 });
        bad.Arms.Add(new ExperimentArm { Name = "a", Share = 1 });
        var error = await Assert.ThrowsAsync<RpcException>(() => Experiments.CreateExperimentAsync(bad).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        foreach (var field in new[] { "id: 'Bad Id!'", "arms[0].share: must be a positive number", "arms[1].name: 'a' appears twice", "conversion: 99 is not an event type", "segment: 'vip' is not a segment id" })
        {
            Assert.Contains(field, error.Status.Detail, StringComparison.Ordinal);
        }

        var one = new ExperimentDefinition { Id = "one-arm", Arms = { new ExperimentArm { Name = "only", Share = 1 } } };
        Assert.Contains("arms: at least two arms", (await Assert.ThrowsAsync<RpcException>(() => Experiments.CreateExperimentAsync(one).ResponseAsync)).Status.Detail, StringComparison.Ordinal);

        var created = await Experiments.CreateExperimentAsync(Definition("taken"));
        Assert.Equal("taken", created.Experiment.Salt);
        Assert.Equal(EventType.Purchase, created.Experiment.Conversion);
        Assert.Equal(StatusCode.AlreadyExists, (await Assert.ThrowsAsync<RpcException>(() => Experiments.CreateExperimentAsync(Definition("taken")).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => Experiments.GetExperimentAsync(new GetExperimentRequest { Id = "nope" }).ResponseAsync)).StatusCode);
        Assert.Equal(["taken"], (await Experiments.ListExperimentsAsync(new ListExperimentsRequest())).Experiments.Select(e => e.Id));
    }

    [Fact]
    public async Task EveryoneExperiment_CountsEachExposureAndConversionOnce_FindsThePlantedLift_AndSurvivesARestart()
    {
        await Experiments.CreateExperimentAsync(Definition("winback"));

        // 300 users, each seen once after the start (exposed); events before the start expose nobody.
        const int users = 300;
        await IngestAsync([.. Enumerable.Range(0, users).Select(i => Events.Make($"old-{i}", $"u{i}", EventType.View, s_start.AddMinutes(-30), "sku-1"))]);
        await IngestAsync([.. Enumerable.Range(0, users).Select(i => Events.Make($"seen-{i}", $"u{i}", EventType.View, s_start.AddMinutes(1 + (i % 50)), "sku-2"))]);

        // The arm GetUserInsight returns is the one counted. Plant conversions: every 2nd user of arm b buys, every
        // 10th of control; some buy twice (counted once).
        var arms = new Dictionary<string, string>();
        for (var i = 0; i < users; i++)
        {
            arms[$"u{i}"] = await ArmAsync($"u{i}", "winback") ?? throw new InvalidOperationException($"u{i} has no arm");
        }

        var buyers = arms.Where(a => int.Parse(a.Key[1..], System.Globalization.CultureInfo.InvariantCulture) % (a.Value == "b" ? 2 : 10) == 0).Select(a => a.Key).ToList();
        await IngestAsync([.. buyers.Select(u => Events.Make($"buy-{u}", u, EventType.Purchase, s_start.AddHours(1), "sku-3", price: 20))]);
        await IngestAsync([.. buyers.Take(20).Select(u => Events.Make($"again-{u}", u, EventType.Purchase, s_start.AddHours(1.5), "sku-4", price: 20))]);

        var results = await Experiments.GetExperimentAsync(new GetExperimentRequest { Id = "winback" });
        Assert.Equal(["control", "b"], results.Arms.Select(a => a.Arm));
        foreach (var arm in results.Arms)
        {
            Assert.Equal(arms.Count(a => a.Value == arm.Arm), arm.Exposed);
            Assert.Equal(buyers.Count(u => arms[u] == arm.Arm), arm.Converted);
        }

        var b = results.Arms[1];
        Assert.True(b.Lift > 0.3 && b.LiftLow > 0 && b.Significant, $"lift {b.Lift} [{b.LiftLow}, {b.LiftHigh}]");
        Assert.False(results.SampleRatioMismatch);
        Assert.Contains("two-proportion z-test", results.Method, StringComparison.Ordinal);

        // A restart: the counts are stored; a user's later purchase is not counted again, and her arm is the same.
        await _server.StopAsync();
        var restarted = await TestServer.StartAsync(_server.DataDirectory);
        _server = restarted;
        var buyer = buyers[0];
        await IngestAsync(Events.Make("after-restart", buyer, EventType.Purchase, s_start.AddHours(2), "sku-5", price: 20));
        Assert.Equal(arms[buyer], await ArmAsync(buyer, "winback"));
        var again = await Experiments.GetExperimentAsync(new GetExperimentRequest { Id = "winback" });
        Assert.Equal(results.Arms.Select(a => (a.Exposed, a.Converted)), again.Arms.Select(a => (a.Exposed, a.Converted)));
    }

    [Fact]
    public async Task SegmentExperiment_ExposesOnlyMembers_AndTheExposingEventIsNotAConversion()
    {
        await new AdminService.AdminServiceClient(_server.Client).CreateRuleSegmentAsync(new CreateRuleSegmentRequest { Id = "spenders", Expression = "monetary > 100" });
        await Experiments.CreateExperimentAsync(Definition("upsell", "rule:spenders", ("control", 1), ("holdout", 1)));

        // s0..s9 spend 150 at once (a member from that purchase on: exposed, not converted by it); v0..v9 only view.
        await IngestAsync([
            .. Enumerable.Range(0, 10).Select(i => Events.Make($"big-{i}", $"s{i}", EventType.Purchase, s_start.AddMinutes(5), "tv", price: 150)),
            .. Enumerable.Range(0, 10).Select(i => Events.Make($"look-{i}", $"v{i}", EventType.View, s_start.AddMinutes(5), "tv")),
        ]);
        var results = await Experiments.GetExperimentAsync(new GetExperimentRequest { Id = "upsell" });
        Assert.Equal(10, results.Arms.Sum(a => a.Exposed));
        Assert.Equal(0, results.Arms.Sum(a => a.Converted));

        // Their next purchase converts; viewers buying something cheap stay outside the segment and are not counted.
        await IngestAsync([
            .. Enumerable.Range(0, 10).Select(i => Events.Make($"next-{i}", $"s{i}", EventType.Purchase, s_start.AddMinutes(30), "cable", price: 5)),
            .. Enumerable.Range(0, 10).Select(i => Events.Make($"cheap-{i}", $"v{i}", EventType.Purchase, s_start.AddMinutes(30), "cable", price: 5)),
        ]);
        results = await Experiments.GetExperimentAsync(new GetExperimentRequest { Id = "upsell" });
        Assert.Equal(10, results.Arms.Sum(a => a.Exposed));
        Assert.Equal(10, results.Arms.Sum(a => a.Converted));

        var insight = await new RecommendationService.RecommendationServiceClient(_server.Client).GetUserInsightAsync(new GetUserInsightRequest { UserId = "s0", Count = 1 });
        var assignment = Assert.Single(insight.Experiments);
        Assert.Equal(assignment.Arm == "holdout", assignment.Holdout);
        Assert.Empty((await new RecommendationService.RecommendationServiceClient(_server.Client).GetUserInsightAsync(new GetUserInsightRequest { UserId = "v0", Count = 1 })).Experiments);
    }
}
