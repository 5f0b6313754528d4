using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Segmentation.Host.WebConsole;
using Segmentation.Testing;

namespace Segmentation.Host.Tests.WebConsole;

/// <summary>
/// The overview's event count is the console tenant's (<c>Segmentation:ConsoleTenant</c>): its users' events in the
/// log as counted, plus its events acknowledged since; another shop's events in the same log count for nothing.
/// </summary>
public sealed class EventLogTallyTests
{
    // A tenant of this test alone: tests in this process share the meters the tally's "added since" listens to.
    private const string ConsoleTenant = "tally-shop";
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheTally_CountsTheConsoleTenantsEvents_NotOtherTenants()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0", $"--Segmentation:ConsoleTenant={ConsoleTenant}");
        await IngestAsync(server, ConsoleTenant, "before", 5);
        await IngestAsync(server, "default", "before", 7);
        await IngestAsync(server, "tally-shop-2", "before", 3);

        var tally = server.Server.Services.GetRequiredService<EventLogTally>();
        var first = await FirstCountAsync(tally);
        // What was counted in the log: the console tenant's 5, not the 15 of the three shops ("tally-shop-2/" is not
        // "tally-shop/", though one name starts with the other).
        Assert.Equal(5, first.Records - first.AddedSince);
        Assert.Equal(0, first.AddedSince);

        // Acknowledged since the count: the console tenant's only.
        await IngestAsync(server, ConsoleTenant, "after", 2);
        await IngestAsync(server, "default", "after", 4);
        var next = await tally.ReadAsync(CancellationToken.None);
        Assert.NotNull(next);
        Assert.Equal(2, next.AddedSince);
        Assert.Equal(7, next.Records);
    }

    // The first read starts the count and waits only briefly for it: read again, a bounded number of times.
    private static async Task<EventTally> FirstCountAsync(EventLogTally tally)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if (await tally.ReadAsync(CancellationToken.None) is { } counted)
            {
                return counted;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the event log was not counted within 30 s");
    }

    private static async Task IngestAsync(TestServer server, string tenant, string prefix, int count)
    {
        var at = TimeProvider.System.GetUtcNow().AddHours(-1);
        var events = Enumerable.Range(0, count).Select(i => Events.Make($"{prefix}-{i}", $"{prefix}-user-{i % 2}", EventType.View, at.AddMinutes(i))).ToArray();
        var response = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
            Events.Ingest, Events.Batch(events), new CallSettings(s_callTimeout, new Metadata { { CallTenant.Header, tenant } }));
        Assert.Equal(count, response.Accepted);
    }
}
