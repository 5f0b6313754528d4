using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Segmentation.Host.Recommendations;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// A tenant whose first events arrive after the start gets its scheduled work then, not at the next start: its growth
/// models (churn, value segments, anomalies) and its item model are trained by their reminders without an admin call
/// and without a restart (short periods, in-memory reminders with the minimum lowered for the test).
/// </summary>
public sealed class LateTenantScheduleTests
{
    private const string LateTenant = "late-shop";
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);

    // Generous: a guard against hanging, not a timing assertion (a loaded 2-core machine may be slow).
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ATenantFirstSeenAfterTheStart_HasItsGrowthAndItemModelsTrainedOnSchedule_WithoutARestart()
    {
        await using var server = await TestServer.StartAsync(
            null,
            "--Segmentation:Churn:RetrainEvery=00:00:01",
            "--Segmentation:Recommendations:ItemModel:RefreshEvery=00:00:01",
            "--Segmentation:Recommendations:ItemModel:MinUsers=5",
            "--Segmentation:Silo:MinimumReminderPeriod=00:00:01");
        var tenant = new Metadata { { CallTenant.Header, LateTenant } };
        var itemModels = server.Server.Services.GetRequiredService<TenantItemModels>().For(LateTenant);
        Assert.Equal(0, await itemModels.Store.NewestVersionAsync(CancellationToken.None));

        // The tenant's first events, well after the start-up work looked at the log (it held none of them).
        await IngestBuyersAsync(server, tenant);

        using var patience = new CancellationTokenSource(s_patience);
        UserSegments segments;
        long itemModelVersion;
        do
        {
            await Task.Delay(200, patience.Token);
            segments = await server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(
                Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "lapsed-4" }, new CallSettings(s_callTimeout, tenant, CancellationToken: patience.Token));
            itemModelVersion = await itemModels.Store.NewestVersionAsync(patience.Token);
        }
        while (segments.ValueSegment is null || segments.Anomaly is null || segments.Churn is null || itemModelVersion == 0);

        Assert.StartsWith("value-", segments.ValueSegment.ModelVersion, StringComparison.Ordinal);
        Assert.StartsWith("anomaly-", segments.Anomaly.ModelVersion, StringComparison.Ordinal);
        Assert.StartsWith("churn-", segments.Churn.ModelVersion, StringComparison.Ordinal);
        Assert.True(itemModelVersion >= 1);

        // Trained on the tenant's own events: tenant default has none, and no model of its own.
        var defaultsOwn = await Assert.ThrowsAsync<RpcException>(() => server.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(
            Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "lapsed-4" }, new CallSettings(s_callTimeout)));
        Assert.Equal(StatusCode.NotFound, defaultsOwn.StatusCode);
    }

    // Loyal repeat buyers, lapsed one-off buyers and lookers: enough for churn, value segments, anomalies and an item model.
    private static async Task IngestBuyersAsync(TestServer server, Metadata tenant)
    {
        var events = new List<Event>();
        for (var u = 0; u < 30; u++)
        {
            for (var o = 0; o < 10 + (u % 10); o++)
            {
                events.Add(Events.Make($"loyal-{u}-{o}", $"loyal-{u}", EventType.Purchase, s_now.AddDays(-(o * 5) - (u % 5)), $"sku-{(o + u) % 12}", price: 80 + (u * 3)));
            }

            events.Add(Events.Make($"lapsed-{u}", $"lapsed-{u}", EventType.Purchase, s_now.AddDays(-300 - (u * 3)), "sku-1", price: 5 + (u % 10)));
        }

        events.AddRange(Enumerable.Range(0, 10).Select(i => Events.Make($"look-{i}", $"looker-{i}", EventType.View, s_now.AddDays(-i), "sku-2")));
        foreach (var chunk in events.Chunk(500))
        {
            var response = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(chunk), new CallSettings(s_callTimeout, tenant));
            Assert.Equal(chunk.Length, response.Accepted);
        }
    }
}
