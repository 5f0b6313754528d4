using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

public sealed class AdminTests
{
    [Fact]
    public async Task GetServerStats_ReportsProcessVitals_AndFinishedCallsByStatus()
    {
        await using var server = await TestServer.StartAsync();
        var now = TimeProvider.System.GetUtcNow();
        await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(Events.Make("a-1", "admin-user", EventType.View, now.AddMinutes(-1))));
        await server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "admin-user" });
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() =>
                server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "nobody" }));
        }

        await Assert.ThrowsAsync<RpcException>(() =>
            server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "" }));

        var stats = await server.Client.UnaryAsync<GetServerStatsRequest, ServerStats>(Events.GetServerStats, new GetServerStatsRequest());

        Assert.True(stats.WorkingSetBytes > 0);
        Assert.True(stats.GcHeapBytes > 0);
        Assert.True(stats.ThreadCount > 0);
        Assert.True(stats.OpenHandles > 0);
        Assert.True(stats.UptimeSeconds > 0);
        Assert.InRange(stats.ActiveUserGrains, 1, 2); // the user, and perhaps "nobody" still awaiting idle collection
        Assert.Equal(1, stats.CallsInFlight); // this call
        var byStatus = stats.CallsByStatus.ToDictionary(s => s.Name, s => s.Calls);
        Assert.Equal(2, byStatus["OK"]); // the ingest and the lookup; this call is not finished yet
        Assert.Equal(3, byStatus["NOT_FOUND"]);
        Assert.Equal(1, byStatus["INVALID_ARGUMENT"]);
        Assert.Equal(5, stats.CallsByStatus.Single(s => s.Name == "NOT_FOUND").Code);
        Assert.Equal(stats.CallsByStatus.OrderBy(s => s.Code).Select(s => s.Code), stats.CallsByStatus.Select(s => s.Code));
    }

    [Fact]
    public async Task CallStatistics_CountProtocolErrorsAnsweredBeforeAnyHandler()
    {
        await using var server = await TestServer.StartAsync();
        using var http = new HttpClient { DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var content = new ByteArrayContent(new byte[5]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var response = await http.PostAsync(new Uri(server.Server.Address, "/no.such.Service/Method"), content);
        Assert.Equal("12", response.Headers.GetValues("grpc-status").Single());

        var stats = await server.Client.UnaryAsync<GetServerStatsRequest, ServerStats>(Events.GetServerStats, new GetServerStatsRequest());
        Assert.Equal(1, stats.CallsByStatus.Single(s => s.Name == "UNIMPLEMENTED").Calls);
    }
}
