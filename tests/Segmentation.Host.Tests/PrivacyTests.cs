using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Privacy;
using Segmentation.Host.Recommendations;
using Segmentation.Storage;
using Segmentation.Testing;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests;

/// <summary>
/// Erasure, export and retention (<c>PrivacyService</c>, <c>Segmentation:Privacy</c>) over a real host on SQLite: after
/// <c>EraseUser</c> returns, her id's bytes are in no file of the data folder, the segment statistics and the
/// co-occurrence and popularity counts equal a recomputation without her, every query answers NOT_FOUND, and a restart
/// (replaying the log) does not bring her back. The PostgreSQL half of the proof is in <see cref="PostgresStorageTests"/>.
/// </summary>
public sealed class PrivacyTests(ITestOutputHelper output)
{
    // Distinctive bytes that appear nowhere else: her id, and items only she touched.
    private const string Her = "zz-erase-me-4f1c9a";
    private const string HerItemA = "zz-her-item-a";
    private const string HerItemB = "zz-her-item-b";
    private const int UsersPerTaste = 10;
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-3);

    // A guard against hanging, not a timing assertion (a loaded 2-core machine may be slow).
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task EraseUser_LeavesNoBytesNoAggregatesAndNoReplay_OfHer_WhenTheCallReturns()
    {
        var data = Directory.CreateTempSubdirectory("seg-erase-").FullName;
        try
        {
            double callSeconds;
            var server = await TestServer.StartAsync(data, "--Segmentation:SnapshotEveryEvents=3", "--Segmentation:SegmentPublishInterval=01:00:00");
            try
            {
                await IngestShopAsync(server);
                await server.Server.Embeddings.TrainAsync(server.Server.EventLog, server.Server.DomainClock.GetUtcNow(), 8, 3, activate: true, CancellationToken.None);
                await new AdminService.AdminServiceClient(server.Client).ReclusterAsync(new ReclusterRequest { K = 2, Seed = 7 });
                await WaitForRefreshesAsync(server);

                // Before: she is everywhere the checks look, or the checks would prove nothing.
                var ml = server.Server.Segmentation;
                var segment = (await SegmentsAsync(server, Her)).MlSegment ?? throw new InvalidOperationException("she has no ML segment");
                var sizeBefore = (await ml.StatisticsAsync(segment.SegmentId, CancellationToken.None)).Size;
                var recommender = server.Server.Services.GetRequiredService<LiveRecommender>();
                var now = server.Server.DomainClock.GetUtcNow();
                Assert.True(recommender.CoOccurrence.CoOccurrence(HerItemA, HerItemB, now) > 0);
                Assert.True(recommender.CoOccurrence.CoOccurrence(HerItemA, "h1", now) > 0);
                Assert.True(DataFilesContain(data, Her), "her id must be in the data folder before the erasure");

                // Someone watches her segments: the watch ends NOT_FOUND.
                using var watch = new SegmentService.SegmentServiceClient(server.Client).WatchUserSegments(new WatchUserSegmentsRequest { UserId = Her }, deadline: DateTime.UtcNow.AddMinutes(3));
                var watching = WatchUntilEndAsync(watch);
                using (var patience = new CancellationTokenSource(s_patience))
                {
                    while (server.Server.SegmentChanges.WatcherCount == 0)
                    {
                        await Task.Delay(20, patience.Token);
                    }
                }

                var privacy = new PrivacyService.PrivacyServiceClient(server.Client);
                var stopwatch = Stopwatch.StartNew();
                var erased = await privacy.EraseUserAsync(new EraseUserRequest { UserId = Her });
                callSeconds = stopwatch.Elapsed.TotalSeconds;

                // Everything below holds the moment the call has returned: nothing is waited for.
                Assert.Equal(8, erased.Events);
                Assert.Superset(new HashSet<string> { "events", "snapshot", "grain", "embedding", "ml-segment", "segment-statistics", "centroids", "co-occurrence", "popularity", "watch-streams" }, erased.Removed.ToHashSet());
                Assert.False(DataFilesContain(data, Her), "her id's bytes are still in a file of the data folder");
                Assert.Equal(StatusCode.NotFound, await watching);
                await AssertNotFoundEverywhereAsync(server);

                // ML segment statistics: the running sums she left equal sums over the members that stay.
                var sizeAfter = 0L;
                foreach (var id in ml.Current!.SegmentIds)
                {
                    var live = await ml.StatisticsAsync(id, CancellationToken.None);
                    var members = ml.Members.All.Where(p => p.Value.SegmentId == id).ToList();
                    Assert.DoesNotContain(members, p => p.Key == Her);
                    Assert.DoesNotContain(await ml.MembersAsync(id, CancellationToken.None), m => m.UserId == Her);
                    var recomputed = new Core.Clustering.SegmentStatistics(live.Dimensions);
                    members.ForEach(p => recomputed.Add(p.Value.Traits));
                    AssertSameStatistics(recomputed, live);
                    sizeAfter += id == segment.SegmentId ? live.Size : 0;
                }

                Assert.Equal(sizeBefore - 1, sizeAfter);

                // Co-occurrence and popularity: equal to a replay of the log as it is now, and her pair is gone.
                await AssertRecommendersEqualAReplayAsync(server);
                Assert.Equal(0, recommender.CoOccurrence.CoOccurrence(HerItemA, HerItemB, now));
                Assert.Equal(0, recommender.CoOccurrence.Occurrence(HerItemA, now));

                // The record says what happened, under a hash of her key, never her id.
                var record = Assert.Single((await privacy.ListErasuresAsync(new ListErasuresRequest())).Records);
                Assert.Equal((PrivacyLog.HashOf("default/" + Her), "erase", 8L), (record.UserHash, record.Kind, record.Events));
                Assert.DoesNotContain(Her, record.ToString(), StringComparison.Ordinal);

                // Asked again: she is not there, as for someone who never was.
                var again = await Assert.ThrowsAsync<RpcException>(() => privacy.EraseUserAsync(new EraseUserRequest { UserId = Her }).ResponseAsync);
                Assert.Equal(StatusCode.NotFound, again.StatusCode);
            }
            finally
            {
                // Stopped, the data folder kept for the restart.
                await server.StopAsync();
            }

            // A restart replays the log: she does not come back.
            var restarted = await TestServer.StartAsync(data);
            try
            {
                await AssertNotFoundEverywhereAsync(restarted);
                await AssertRecommendersEqualAReplayAsync(restarted);
                Assert.Equal(0, restarted.Server.Services.GetRequiredService<LiveRecommender>().CoOccurrence.Occurrence(HerItemA, restarted.Server.DomainClock.GetUtcNow()));
                Assert.Equal(2 * UsersPerTaste, await CountStreamsAsync(restarted.Server.EventLog));
            }
            finally
            {
                await restarted.StopAsync();
            }

            Assert.False(DataFilesContain(data, Her), "her id's bytes came back after the restart");
            output.WriteLine($"EraseUser: {callSeconds:F3} s from the call to its return, all checks true at return; load average {LoadAverage()}");
        }
        finally
        {
            TestServer.TryDelete(data);
        }
    }

    [Fact]
    public async Task ExportUser_IsOneJsonDocument_WithHerEventsProfileSegmentsAndInputs()
    {
        await using var server = await TestServer.StartAsync();
        await IngestAsync(server,
            Events.Make("x-1", "exported", EventType.View, s_start, item: "lamp", category: "home.lighting"),
            Events.Make("x-2", "exported", EventType.Purchase, s_start.AddHours(1), item: "lamp", price: 40, category: "home.lighting"),
            Events.Make("x-3", "someone-else", EventType.Purchase, s_start.AddHours(2), item: "tv", price: 400));
        var privacy = new PrivacyService.PrivacyServiceClient(server.Client);

        var exported = await privacy.ExportUserAsync(new ExportUserRequest { UserId = "exported" });

        Assert.Equal(2, exported.Events);
        using var document = JsonDocument.Parse(exported.Document);
        var root = document.RootElement;
        Assert.Equal(("default", "exported"), (root.GetProperty("tenant").GetString(), root.GetProperty("userId").GetString()));
        Assert.Equal(["x-1", "x-2"], root.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("eventId").GetString()));
        Assert.Equal("EVENT_TYPE_PURCHASE", root.GetProperty("events")[1].GetProperty("type").GetString());
        var profile = root.GetProperty("profile");
        Assert.Equal(("exported", "2", 40.0), (profile.GetProperty("userId").GetString(), profile.GetProperty("eventCount").GetString(), profile.GetProperty("spend").GetDouble()));
        Assert.False(string.IsNullOrEmpty(root.GetProperty("segments").GetProperty("lifecycle").GetProperty("explanation").GetString()));
        Assert.Contains(root.GetProperty("recommendationInputs").GetProperty("history").EnumerateArray(), i => i.GetProperty("itemId").GetString() == "lamp");
        Assert.DoesNotContain("someone-else", exported.Document, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<RpcException>(() => privacy.ExportUserAsync(new ExportUserRequest { UserId = "nobody" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var empty = await Assert.ThrowsAsync<RpcException>(() => privacy.ExportUserAsync(new ExportUserRequest()).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, "user_id: user id is empty"), (empty.StatusCode, empty.Status.Detail));
    }

    [Fact]
    public async Task Retention_OnItsReminder_DropsOldEvents_AndWhatWasDerivedFromThem()
    {
        var recent = TimeProvider.System.GetUtcNow().AddDays(-1);
        var old = recent.AddDays(-100);
        await using var server = await TestServer.StartAsync(
            null,
            "--Segmentation:Privacy:RetentionDays=30",
            "--Segmentation:Privacy:RetentionEvery=00:00:01",
            // "Now" from the wall clock: on event time three users' newest events must back a time before it counts
            // (Segmentation:EventClock:Support), and here the stalest of the three is 100 days old.
            "--Segmentation:Clock=System",
            "--Segmentation:Silo:MinimumReminderPeriod=00:00:01",
            "--Segmentation:SnapshotEveryEvents=1");
        var privacy = new PrivacyService.PrivacyServiceClient(server.Client);
        await IngestAsync(server,
            Events.Make("r-1", "mixed", EventType.Purchase, old, item: "old-a", price: 100),
            Events.Make("r-2", "mixed", EventType.Purchase, old.AddHours(1), item: "old-b", price: 100),
            Events.Make("r-3", "mixed", EventType.Purchase, recent, item: "new-a", price: 5),
            Events.Make("r-4", "old-only", EventType.Purchase, old, item: "old-a", price: 7),
            Events.Make("r-5", "old-only", EventType.Purchase, old.AddHours(2), item: "old-b", price: 7),
            Events.Make("r-6", "recent-only", EventType.Purchase, recent, item: "new-a", price: 9),
            Events.Make("r-7", "recent-only", EventType.Purchase, recent.AddHours(1), item: "new-b", price: 9));

        // The reminder runs retention: wait for its record (a guard against hanging, not a timing assertion).
        using (var patience = new CancellationTokenSource(s_patience))
        {
            while ((await privacy.ListErasuresAsync(new ListErasuresRequest(), cancellationToken: patience.Token)).Records.Count == 0)
            {
                await Task.Delay(100, patience.Token);
            }
        }

        var record = Assert.Single((await privacy.ListErasuresAsync(new ListErasuresRequest())).Records);
        Assert.Equal(("retention", 4L, 2L), (record.Kind, record.Events, record.Users));
        Assert.Equal(["r-3", "r-6", "r-7"], (await EventIdsAsync(server.Server.EventLog)).Order(StringComparer.Ordinal));

        // Her profile is folded again from what is left; a user with nothing left is gone; the others are untouched.
        var mixed = await new ProfileService.ProfileServiceClient(server.Client).GetProfileAsync(new GetProfileRequest { UserId = "mixed" });
        Assert.Equal((1L, 5.0), (mixed.EventCount, mixed.Spend));
        var gone = await Assert.ThrowsAsync<RpcException>(() => new ProfileService.ProfileServiceClient(server.Client).GetProfileAsync(new GetProfileRequest { UserId = "old-only" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Equal(2L, (await new ProfileService.ProfileServiceClient(server.Client).GetProfileAsync(new GetProfileRequest { UserId = "recent-only" })).EventCount);

        // The recommenders equal a replay of what is left: the old pair is gone.
        await AssertRecommendersEqualAReplayAsync(server);
        var now = server.Server.DomainClock.GetUtcNow();
        Assert.Equal(0, server.Server.Services.GetRequiredService<LiveRecommender>().CoOccurrence.CoOccurrence("old-a", "old-b", now));
    }

    [Fact]
    public async Task SegExportEraseAndErasures_AsAUserRunsThem()
    {
        await using var server = await TestServer.StartAsync();
        await IngestAsync(server, Events.Make("seg-1", "seg-erased", EventType.Purchase, s_start, item: "lamp", price: 40));
        var address = server.Server.Address.ToString();
        var file = Path.Combine(server.DataDirectory, "export.json");

        var export = await Access.SegKeysCommandTests.SegAsync(null, "-a", address, "export", "seg-erased", "-o", file);
        Assert.Equal(0, export.ExitCode);
        Assert.Contains("\"seg-1\"", await File.ReadAllTextAsync(file), StringComparison.Ordinal);

        var erase = await Access.SegKeysCommandTests.SegAsync(null, "-a", address, "erase", "seg-erased");
        Assert.Equal(0, erase.ExitCode);
        Assert.Contains("erased: 1 events", erase.Output, StringComparison.Ordinal);
        Assert.Contains(PrivacyLog.HashOf("default/seg-erased"), erase.Output, StringComparison.Ordinal);

        var again = await Access.SegKeysCommandTests.SegAsync(null, "-a", address, "erase", "seg-erased");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("NotFound (5)", again.Error, StringComparison.Ordinal);

        var records = await Access.SegKeysCommandTests.SegAsync(null, "-a", address, "erasures", "--json");
        Assert.Equal(0, records.ExitCode);
        Assert.Contains("\"kind\": \"erase\"", records.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("seg-erased", records.Output, StringComparison.Ordinal);
    }

    private async Task IngestShopAsync(TestServer server)
    {
        var events = new List<Event>();
        for (var u = 0; u < UsersPerTaste; u++)
        {
            for (var i = 0; i < 6; i++)
            {
                events.Add(Buy($"home-{u}", $"h{(u + i) % 10}", "home.decor", u + i, $"home-{u}-{i}"));
                events.Add(Buy($"toys-{u}", $"t{(u + i) % 10}", "toys.games", u + i, $"toys-{u}-{i}"));
            }
        }

        // Her: items only she touched and items others bought too, so her erasure changes shared counts.
        for (var i = 0; i < 4; i++)
        {
            events.Add(Buy(Her, i % 2 == 0 ? HerItemA : HerItemB, "home.decor", 30 + i, $"{Her}-own-{i}"));
            events.Add(Buy(Her, $"h{i}", "home.decor", 40 + i, $"{Her}-shared-{i}"));
        }

        await IngestAsync(server, [.. events]);
    }

    private static Event Buy(string user, string item, string category, int hour, string id) =>
        Events.Make("priv-" + id, user, EventType.Purchase, s_start.AddHours(hour), item, category: category);

    private static Task IngestAsync(TestServer server, params Event[] events) =>
        new EventService.EventServiceClient(server.Client).IngestEventsAsync(Events.Batch(events)).ResponseAsync;

    private static Task<UserSegments> SegmentsAsync(TestServer server, string user) =>
        new SegmentService.SegmentServiceClient(server.Client).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = user }).ResponseAsync;

    private static async Task AssertNotFoundEverywhereAsync(TestServer server)
    {
        var calls = new (string Name, Func<Task> Call)[]
        {
            ("GetProfile", () => new ProfileService.ProfileServiceClient(server.Client).GetProfileAsync(new GetProfileRequest { UserId = Her }).ResponseAsync),
            ("GetUserSegments", () => SegmentsAsync(server, Her)),
            ("Recommend", () => new RecommendationService.RecommendationServiceClient(server.Client).RecommendAsync(new RecommendRequest { UserId = Her, Count = 5 }).ResponseAsync),
            ("ExportUser", () => new PrivacyService.PrivacyServiceClient(server.Client).ExportUserAsync(new ExportUserRequest { UserId = Her }).ResponseAsync),
        };
        foreach (var (name, call) in calls)
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            Assert.True(error.StatusCode == StatusCode.NotFound, $"{name}: {error.StatusCode} {error.Status.Detail}");
        }

        var batch = await new ProfileService.ProfileServiceClient(server.Client).BatchGetProfilesAsync(new BatchGetProfilesRequest { UserIds = { Her } });
        Assert.Equal([Her], batch.NotFound);
        Assert.Empty(await ReadStreamAsync(server.Server.EventLog, TenantKeys.User(Her)));
    }

    // The live co-occurrence and overall popularity against models replayed from the log as it is now.
    private static async Task AssertRecommendersEqualAReplayAsync(TestServer server)
    {
        var live = server.Server.Services.GetRequiredService<LiveRecommender>();
        var replayed = new ItemCoOccurrence(LiveRecommender.CoOccurrenceOptionsOf(server.Server.Options.Recommendations));
        var popularity = new SegmentPopularity(new ItemCatalog(), server.Server.Options.Recommendations.PopularityHalfLife);
        var items = new SortedSet<string>(StringComparer.Ordinal) { HerItemA, HerItemB };
        await foreach (var record in server.Server.EventLog.ReadAllAsync(0, CancellationToken.None))
        {
            var e = EventCodec.Decode(record.Payload.Span);
            if (e.ItemId.Length > 0)
            {
                replayed.Record(e.UserId, Interaction.From(e));
                popularity.Record([SegmentPopularity.Everyone], Interaction.From(e));
                items.Add(e.ItemId);
            }
        }

        var now = server.Server.DomainClock.GetUtcNow();
        foreach (var a in items)
        {
            AssertClose(replayed.Occurrence(a, now), live.CoOccurrence.Occurrence(a, now), $"occurrence of {a}");
            AssertClose(popularity.Popularity(SegmentPopularity.Everyone, a, now), live.Popularity.Popularity(SegmentPopularity.Everyone, a, now), $"popularity of {a}");
            foreach (var b in items.Where(b => string.CompareOrdinal(a, b) < 0))
            {
                AssertClose(replayed.CoOccurrence(a, b, now), live.CoOccurrence.CoOccurrence(a, b, now), $"co-occurrence of {a} and {b}");
                Assert.Equal(replayed.Evidence(a, b), live.CoOccurrence.Evidence(a, b));
            }
        }
    }

    private static void AssertSameStatistics(Core.Clustering.SegmentStatistics expected, Core.Clustering.SegmentStatistics actual)
    {
        Assert.Equal(expected.Size, actual.Size);
        AssertClose(expected.MeanMonetary, actual.MeanMonetary, "mean monetary");
        AssertClose(expected.MeanOrders, actual.MeanOrders, "mean orders");
        AssertClose(expected.MeanOrderValue, actual.MeanOrderValue, "mean order value");
        AssertClose(expected.MeanRecencyDays, actual.MeanRecencyDays, "mean recency");
        AssertClose(expected.BuyerShare, actual.BuyerShare, "buyer share");
        Assert.Equal(expected.TopItems(50), actual.TopItems(50));
        Assert.Equal(expected.TopCategories(50), actual.TopCategories(50));
        Assert.Equal(expected.LifecycleMix.OrderBy(p => p.Key), actual.LifecycleMix.OrderBy(p => p.Key));
        if (expected.Size > 0)
        {
            var (e, a) = (expected.MeanDirection(), actual.MeanDirection());
            for (var i = 0; i < e.Length; i++)
            {
                AssertClose(e[i], a[i], $"centroid direction [{i}]");
            }
        }
    }

    // Sums that had her added and taken away again differ from sums that never had her by rounding only.
    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected}, live {actual}");

    private static async Task<StatusCode> WatchUntilEndAsync(AsyncServerStreamingCall<SegmentChange> watch)
    {
        try
        {
            while (await watch.ResponseStream.MoveNext(CancellationToken.None))
            {
            }

            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static async Task WaitForRefreshesAsync(TestServer server)
    {
        using var patience = new CancellationTokenSource(s_patience);
        while (server.Server.GrainServices.PendingSegmentRefreshes > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), patience.Token);
        }
    }

    private static async Task<List<StoredRecord>> ReadStreamAsync(IEventLog log, string stream)
    {
        var records = new List<StoredRecord>();
        await foreach (var record in log.ReadStreamAsync(stream, 0, CancellationToken.None))
        {
            records.Add(record);
        }

        return records;
    }

    private static async Task<List<string>> EventIdsAsync(IEventLog log)
    {
        var ids = new List<string>();
        await foreach (var record in log.ReadAllAsync(0, CancellationToken.None))
        {
            ids.Add(record.EventId);
        }

        return ids;
    }

    private static async Task<int> CountStreamsAsync(IEventLog log)
    {
        var count = 0;
        await foreach (var _ in log.ReadStreamIdsAsync(CancellationToken.None))
        {
            count++;
        }

        return count;
    }

    // Every file of the data folder, read as it is on disk (the SQLite databases, their WAL and shared memory, models).
    private static bool DataFilesContain(string directory, string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            if (copy.GetBuffer().AsSpan(0, (int)copy.Length).IndexOf(needle) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "(unknown)";
}
