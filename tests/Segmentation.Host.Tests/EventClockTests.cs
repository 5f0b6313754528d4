using Google.Protobuf.WellKnownTypes;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;
using Segmentation.Testing;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests;

/// <summary>
/// The event-time clock over real gRPC: one stray row from two years later, ingested into a replayed store (the Online
/// Retail sample's first 2,500 rows), moves nobody's "now" and changes no other customer's stage or since-date.
/// </summary>
public sealed class EventClockTests
{
    private readonly ITestOutputHelper _output;

    public EventClockTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task OneEventTwoYearsLater_InAReplayedStore_ChangesNoOtherUsersStage()
    {
        var path = Path.Combine(Repository.Datasets, "online-retail-sample", "online_retail.first19999.csv.gz");
        Assert.True(File.Exists(path), $"dataset missing: {path} (CI always has ../shared/datasets)");
        var events = new List<Event>();
        await foreach (var e in EventFileReader.ReadAsync(path, EventFileFormat.OnlineRetail, CancellationToken.None))
        {
            if (events.Count == 2_500)
            {
                break;
            }

            events.Add(e);
        }

        await using var server = await TestServer.StartAsync();
        foreach (var chunk in events.Chunk(500))
        {
            var batch = new IngestEventsRequest();
            batch.Events.Add(chunk);
            await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, batch);
        }

        var users = events.Select(e => e.UserId).Where(u => u.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        var before = await StagesAsync(server, users);
        // "Now" is the replay's own last day, the first of December 2010 (the first 2,500 rows).
        var last = before.Users[0].AsOf.ToDateTimeOffset();
        Assert.Equal(new DateTime(2010, 12, 1), last.UtcDateTime.Date);

        var stray = Events.Make("stray-1", "stray", EventType.Purchase, last.AddYears(2), item: "sku-stray");
        var ack = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(stray));
        Assert.Equal(1, ack.Accepted);

        var after = await StagesAsync(server, users);
        _output.WriteLine($"{users.Count} customers as of {before.Users[0].AsOf}; after a row dated {last.AddYears(2):yyyy-MM-dd}: as of {after.Users[0].AsOf}, "
            + string.Join(", ", after.Users.GroupBy(u => u.Lifecycle.Stage).Select(g => $"{g.Key} {g.Count()}")));
        Assert.Equal(
            before.Users.Select(u => (u.UserId, u.Lifecycle.Stage, u.Lifecycle.Since, u.AsOf)),
            after.Users.Select(u => (u.UserId, u.Lifecycle.Stage, u.Lifecycle.Since, u.AsOf)));
    }

    private static Task<BatchGetUserSegmentsResponse> StagesAsync(TestServer server, List<string> users)
    {
        var request = new BatchGetUserSegmentsRequest();
        request.UserIds.Add(users);
        return server.Client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(Events.BatchGetUserSegments, request);
    }
}
