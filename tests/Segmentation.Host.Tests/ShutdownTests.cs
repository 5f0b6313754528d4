using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>Graceful shutdown and restart: nothing acknowledged is lost, snapshots are flushed.</summary>
public sealed class ShutdownTests
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow();
    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_healthCheck =
        HealthReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("Health").FindMethodByName("Check");

    [Fact]
    public async Task ShutdownTimeout_IsTheHostsGracefulStopBudget()
    {
        await using var server = await TestServer.StartAsync(extraArgs: "--Segmentation:ShutdownTimeout=00:01:30");

        var host = server.Server.Services.GetRequiredService<IOptions<HostOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(90), host.ShutdownTimeout);
    }

    [Fact]
    public async Task ShutdownTimeout_DefaultsTo25Seconds()
    {
        await using var server = await TestServer.StartAsync();

        Assert.Equal(TimeSpan.FromSeconds(25), server.Server.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:05")]
    public async Task ShutdownTimeout_NotPositive_FailsTheStartNamingTheSetting(string value)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(extraArgs: $"--Segmentation:ShutdownTimeout={value}"));

        Assert.Contains("Segmentation:ShutdownTimeout must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_FlushesSnapshots_AndRestartServesTheSameProfiles()
    {
        // Compared as of the same event time: a live shop's "now" is the wall clock, which moves between the two calls,
        // so the store is kept on its event-time watermark (LiveWithin 0: never live).
        const string NeverLive = "--Segmentation:EventClock:LiveWithin=00:00:00";
        var server = await TestServer.StartAsync(null, NeverLive);
        try
        {
            var request = new IngestEventsRequest();
            for (var i = 0; i < 300; i++)
            {
                request.Events.Add(Events.Make($"r-{i}", $"r-user-{i % 30}", i % 3 == 0 ? EventType.Purchase : EventType.View, s_now.AddMinutes(-300 + i), price: 3, quantity: 1));
            }

            await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, request);
            var ids = new BatchGetProfilesRequest();
            ids.UserIds.Add(Enumerable.Range(0, 30).Select(i => $"r-user-{i}"));
            var before = await server.Client.UnaryAsync<BatchGetProfilesRequest, BatchGetProfilesResponse>(Events.BatchGetProfiles, ids);
            var activations = server.Server.GrainServices.ActiveUserGrains;
            await server.StopAsync();
            Assert.True(activations >= 30);

            var snapshots = new Storage.Sqlite.SqliteSnapshotStore(Path.Combine(server.DataDirectory, "snapshots.db"));
            await using (snapshots)
            {
                for (var i = 0; i < 30; i++)
                {
                    var snapshot = await snapshots.ReadAsync(Segmentation.Grains.TenantKeys.UserSnapshot(Segmentation.Grains.TenantKeys.User($"r-user-{i}")), CancellationToken.None);
                    Assert.NotNull(snapshot);
                    Assert.True(snapshot.Sequence > 0);
                }
            }

            await using var restarted = await TestServer.StartAsync(server.DataDirectory, NeverLive);
            var after = await restarted.Client.UnaryAsync<BatchGetProfilesRequest, BatchGetProfilesResponse>(Events.BatchGetProfiles, ids);
            Assert.Equal(before, after);
        }
        finally
        {
            TestServer.TryDelete(server.DataDirectory);
        }
    }

    [Fact]
    public async Task Drain_TurnsHealthNotServing_AndNewCallsGetUnavailable()
    {
        await using var server = await TestServer.StartAsync();
        var healthy = await server.Client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(s_healthCheck, new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, healthy.Status);

        server.Server.BeginDrain();
        var draining = await server.Client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(s_healthCheck, new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, draining.Status);

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "x" }));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
    }
}
