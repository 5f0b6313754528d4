using Google.Protobuf;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;
using Segmentation.Testing;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests;

/// <summary>
/// A user's profile, lifecycle and recommendations are a function of her set of events, not of the order they arrive
/// in: real data (a MovieLens-100k subset, an Online Retail subset) ingested over gRPC into a fresh service in five
/// random arrival orders — fully shuffled, or time-sorted with late stragglers; batches of random sizes — gives the
/// profiles (protobuf equality), lifecycle since-dates and Recommend lists of the time-sorted load, users with more
/// distinct items than Recommendations:MaxItemsPerUser (100) included; and after a restart, whose recommenders are
/// rebuilt from the log (LiveRecommender.RebuildAsync), the same Recommend lists again.
/// </summary>
public sealed class ArrivalOrderTests
{
    // Subsets small enough for CI: the first 60 MovieLens users (24 of them with more than 100 distinct items), the
    // first 2,500 Online Retail rows.
    private const int MovieLensUsers = 60;
    private const int OnlineRetailRows = 2_500;

    private readonly ITestOutputHelper _output;

    public ArrivalOrderTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [InlineData("movielens")]
    [InlineData("online-retail")]
    public async Task FiveArrivalOrders_GiveTheProfilesStagesAndRecommendations_OfTheTimeSortedLoad(string dataset)
    {
        var events = await LoadAsync(dataset);
        var heavy = events.GroupBy(e => e.UserId).Count(g => g.Select(e => e.ItemId).Distinct().Count() > 100);
        var users = events.Select(e => e.UserId).Where(u => u.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var sorted = events.OrderBy(e => e.Timestamp.ToDateTimeOffset()).ThenBy(e => e.EventId, StringComparer.Ordinal).ToList();
        var expected = await RunAsync(Batches(sorted, new Random(0)), users, restart: false);
        Assert.NotEmpty(expected.Profiles);
        Assert.Contains(expected.Recommendations, r => r.Items.Count > 0);

        for (var seed = 1; seed <= 5; seed++)
        {
            var random = new Random(seed);
            var order = seed % 2 == 1 ? Shuffled(events, random) : WithStragglers(sorted, random);
            var refolds = Segmentation.Host.Internal.SegmentationDiagnostics.Refolds;
            var calls = Batches(order, random);
            var batches = calls.Count;
            // The first two orders also restart the service: the rebuilt recommenders answer as the time-sorted load's.
            var actual = await RunAsync(calls, users, restart: seed <= 2);
            var after = Segmentation.Host.Internal.SegmentationDiagnostics.Refolds;
            _output.WriteLine($"{dataset} order {seed} ({(seed % 2 == 1 ? "shuffled" : "sorted with 5% late")}): {events.Count} events, {users.Count} users ({heavy} with over 100 items), {batches} calls; "
                + $"re-folds {after.Refolds - refolds.Refolds}, events re-folded {after.Events - refolds.Events}; ingest took {actual.Ingest.TotalSeconds / expected.Ingest.TotalSeconds:F2}x the sorted load's; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

            Assert.Equal(expected.Profiles.Count, actual.Profiles.Count);
            for (var i = 0; i < expected.Profiles.Count; i++)
            {
                Assert.Equal(expected.Profiles[i], actual.Profiles[i]);
            }

            Assert.Equal(expected.Stages, actual.Stages);
            AssertSameLists(expected.Recommendations, actual.Recommendations);
            if (actual.Restarted is { } restarted)
            {
                AssertSameLists(expected.Recommendations, restarted);
            }
        }
    }

    private static void AssertSameLists(List<RecommendResponse> expected, List<RecommendResponse> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (want, got) = (expected[i], actual[i]);
            Assert.Equal(want.Items.Select(x => (x.ItemId, x.Reason.ToString())), got.Items.Select(x => (x.ItemId, x.Reason.ToString())));
            Assert.All(want.Items.Zip(got.Items), p => Assert.Equal(p.First.Score, p.Second.Score, 1e-9 * Math.Abs(p.First.Score)));
        }
    }

    private sealed record Outcome(
        List<Profile> Profiles, List<(string User, LifecycleStage Stage, DateTimeOffset Since)> Stages, List<RecommendResponse> Recommendations, TimeSpan Ingest, List<RecommendResponse>? Restarted);

    private static async Task<Outcome> RunAsync(List<IngestEventsRequest> batches, List<string> users, bool restart)
    {
        var server = await TestServer.StartAsync(null, "--Segmentation:EarliestEventTime=1995-01-01");
        try
        {
            var ingest = System.Diagnostics.Stopwatch.StartNew();
            foreach (var batch in batches)
            {
                await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, batch);
            }

            ingest.Stop();
            var outcome = await QueryAsync(server, users, ingest.Elapsed);
            if (restart)
            {
                await server.StopAsync();
                server = await TestServer.StartAsync(server.DataDirectory, "--Segmentation:EarliestEventTime=1995-01-01");
                outcome = outcome with { Restarted = await RecommendAsync(server, users) };
            }

            return outcome;
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<List<RecommendResponse>> RecommendAsync(TestServer server, List<string> users)
    {
        var recommendations = new List<RecommendResponse>();
        foreach (var user in users)
        {
            recommendations.Add(await server.Client.UnaryAsync<RecommendRequest, RecommendResponse>(Events.Recommend, new RecommendRequest { UserId = user, Count = 10 }));
        }

        return recommendations;
    }

    private static async Task<Outcome> QueryAsync(TestServer server, List<string> users, TimeSpan ingest)
    {

        var profiles = new BatchGetProfilesRequest();
        profiles.UserIds.Add(users);
        var segments = new BatchGetUserSegmentsRequest();
        segments.UserIds.Add(users);
        var gotProfiles = await server.Client.UnaryAsync<BatchGetProfilesRequest, BatchGetProfilesResponse>(Events.BatchGetProfiles, profiles);
        var gotSegments = await server.Client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(Events.BatchGetUserSegments, segments);
        return new Outcome(
            [.. gotProfiles.Profiles],
            [.. gotSegments.Users.Select(u => (u.UserId, u.Lifecycle.Stage, u.Lifecycle.Since.ToDateTimeOffset()))],
            await RecommendAsync(server, users),
            ingest,
            null);
    }

    // Every event once, in a random order.
    private static List<Event> Shuffled(List<Event> events, Random random)
    {
        var order = events.ToList();
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(order));
        return order;
    }

    // Time order, except that one event in 20 arrives at the end, in random order (a device syncing late).
    private static List<Event> WithStragglers(List<Event> sorted, Random random)
    {
        var late = sorted.Where(_ => random.Next(20) == 0).ToList();
        var lateIds = late.Select(e => e.EventId).ToHashSet(StringComparer.Ordinal);
        return [.. sorted.Where(e => !lateIds.Contains(e.EventId)), .. Shuffled(late, random)];
    }

    // Consecutive batches of 1 to 400 events, so a user's events split across calls.
    private static List<IngestEventsRequest> Batches(List<Event> order, Random random)
    {
        var batches = new List<IngestEventsRequest>();
        for (var at = 0; at < order.Count;)
        {
            var size = Math.Min(order.Count - at, random.Next(1, 401));
            var batch = new IngestEventsRequest();
            batch.Events.Add(order.Skip(at).Take(size));
            batches.Add(batch);
            at += size;
        }

        return batches;
    }

    private static async Task<List<Event>> LoadAsync(string dataset)
    {
        var (path, format) = dataset == "movielens"
            ? (Path.Combine(Repository.Datasets, "movielens-100k", "u.data.gz"), EventFileFormat.MovieLens)
            : (Path.Combine(Repository.Datasets, "online-retail-sample", "online_retail.first19999.csv.gz"), EventFileFormat.OnlineRetail);
        Assert.True(File.Exists(path), $"dataset missing: {path} (CI always has ../shared/datasets)");
        var events = new List<Event>();
        await foreach (var e in EventFileReader.ReadAsync(path, format, CancellationToken.None))
        {
            if (dataset == "movielens" ? int.TryParse(e.UserId, System.Globalization.CultureInfo.InvariantCulture, out var user) && user <= MovieLensUsers : events.Count < OnlineRetailRows)
            {
                events.Add(e);
            }
        }

        return events;
    }
}
