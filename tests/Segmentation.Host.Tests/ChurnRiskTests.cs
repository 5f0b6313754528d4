using System.Text.RegularExpressions;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.V1;
using Segmentation.Host.Seeding;

namespace Segmentation.Host.Tests;

/// <summary>
/// Churn risk end to end: the synthetic shop is seeded through the ingest path, the server trains its churn model on
/// its own log (AdminService.TrainChurnModel), and GetUserSegments / GetUserInsight answer with each user's risk, band
/// and top three reasons; the model is stored and served again after a restart.
/// </summary>
public sealed partial class ChurnRiskTests
{
    [Fact]
    public async Task TrainedOnItsOwnLog_ScoresChurnersAboveLoyalBuyers_WithReasons_AndServesTheModelAfterARestart()
    {
        var server = await TestServer.StartAsync();
        var dataDirectory = server.DataDirectory;
        try
        {
            await ShopSeeder.SeedIfEmptyAsync(server.Server, 300, NullLogger.Instance, CancellationToken.None);
            var segments = new SegmentService.SegmentServiceClient(server.Client);
            Assert.Null((await segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(3) })).Churn);

            var info = await new AdminService.AdminServiceClient(server.Client).TrainChurnModelAsync(new TrainChurnModelRequest());
            Assert.StartsWith("churn-", info.Version, StringComparison.Ordinal);
            Assert.Equal(60, info.HorizonDays);
            Assert.Equal(8, info.Features.Count);
            Assert.Equal(8, info.Weights.Count);
            Assert.True(info.Examples > 0 && info.ChurnRate is > 0 and < 1, $"{info.Examples} examples, churn rate {info.ChurnRate}");

            var byPersona = new Dictionary<string, List<double>>();
            for (var u = 0; u < 100; u++)
            {
                var answer = await segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(u) });
                var churn = answer.Churn;
                Assert.NotNull(churn);
                Assert.Equal(info.Version, churn.ModelVersion);
                Assert.Equal(churn.Probability >= 0.7 ? "high" : churn.Probability >= 0.4 ? "medium" : "low", churn.Band);
                Assert.Equal(3, churn.Reasons.Count);
                Assert.All(churn.Reasons, r => Assert.Matches(Reason(), r));
                (byPersona.TryGetValue(SyntheticShop.PersonaOf(u), out var list) ? list : byPersona[SyntheticShop.PersonaOf(u)] = []).Add(churn.Probability);
            }

            Assert.True(byPersona["churner"].Average() > byPersona["loyal"].Average() + 0.3, $"churners {byPersona["churner"].Average():F2}, loyal {byPersona["loyal"].Average():F2}");
            var insight = await new RecommendationService.RecommendationServiceClient(server.Client).GetUserInsightAsync(new GetUserInsightRequest { UserId = SyntheticShop.UserId(3), Count = 5 });
            Assert.Equal(info.Version, insight.Segments.Churn.ModelVersion);

            await server.StopAsync();
            server = await TestServer.StartAsync(dataDirectory);
            var again = await new SegmentService.SegmentServiceClient(server.Client).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(3) });
            Assert.Equal(info.Version, again.Churn.ModelVersion);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task AnEmptyLog_CannotBeTrainedOn_AndSaysWhy()
    {
        await using var server = await TestServer.StartAsync();
        var error = await Assert.ThrowsAsync<RpcException>(async () => await new AdminService.AdminServiceClient(server.Client).TrainChurnModelAsync(new TrainChurnModelRequest()));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.StartsWith("churn: ", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadSettings_AreRefusedAtStart_NamingTheSetting()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(null, "--Segmentation:Churn:HighFrom=0.3"));
        Assert.Contains("Segmentation:Churn", error.Message, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^.+: [+−]\d\.\d\d$")]
    private static partial Regex Reason();
}
