using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Core.Clustering;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The embedding tier and ML segments over real gRPC and a real ONNX Runtime: a shop with two tastes (home lovers and
/// toy buyers) trains a user encoder, is clustered, and its users land, move and stay in segments with stable ids.
/// </summary>
public sealed class MlSegmentTests : IAsyncLifetime
{
    private const int UsersPerTaste = 24;
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-3);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_segments = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");
    private TestServer _server = null!;
    private int _event;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(null, "--Segmentation:SegmentPublishInterval=00:00:00.200");
        await InitializeShopAsync();
    }

    private async Task InitializeShopAsync()
    {
        var events = new List<Event>();
        for (var u = 0; u < UsersPerTaste; u++)
        {
            for (var i = 0; i < 6; i++)
            {
                events.Add(Buy($"home-{u}", $"h{(u + i) % 10}", "home.decor", u + i));
                events.Add(Buy($"toys-{u}", $"t{(u + i) % 10}", "toys.games", u + i));
            }
        }

        await IngestAsync([.. events]);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Event Buy(string user, string item, string category, int hour) =>
        Events.Make($"ml-{Interlocked.Increment(ref _event)}", user, EventType.Purchase, s_start.AddHours(hour), item, category: category);

    private Task IngestAsync(params Event[] events) =>
        _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));

    private Task<TResponse> CallAsync<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, TRequest request)
        where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
        where TResponse : class, Google.Protobuf.IMessage<TResponse>, new() =>
        _server.Client.UnaryAsync<TRequest, TResponse>(service.FindMethodByName(method), request);

    private Task<UserSegments> SegmentsAsync(string user) =>
        CallAsync<GetUserSegmentsRequest, UserSegments>(s_segments, "GetUserSegments", new GetUserSegmentsRequest { UserId = user });

    private Task<ReclusterResponse> ReclusterAsync(bool dryRun) =>
        CallAsync<ReclusterRequest, ReclusterResponse>(s_admin, "Recluster", new ReclusterRequest { K = 2, DryRun = dryRun, Seed = 7 });

    private async Task TrainAsync()
    {
        var model = await CallAsync<TrainModelRequest, ModelVersion>(s_admin, "TrainModel", new TrainModelRequest { Dimension = 8, Seed = 3, Activate = true });
        Assert.Equal((1L, 8, true), (model.Version, model.Dimension, model.Active));
    }

    [Fact]
    public async Task Train_ServesEmbeddings_ReclusterSeparatesTheTastes_AndDryRunPublishesNothing()
    {
        var before = await CallAsync<ReclusterRequest, ReclusterResponse>(s_admin, "Recluster", new ReclusterRequest { K = 2 }).ContinueWith(t => t.Exception?.InnerException);
        Assert.Equal(StatusCode.FailedPrecondition, Assert.IsType<RpcException>(before).StatusCode);

        await TrainAsync();
        var profile = await CallAsync<GetProfileRequest, Profile>(ProfilesReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("ProfileService"), "GetProfile", new GetProfileRequest { UserId = "home-3" });
        Assert.Equal(8, profile.Embedding.Count);
        Assert.Equal(1, profile.EmbeddingModelVersion);
        Assert.Equal(1, Math.Sqrt(profile.Embedding.Sum(x => (double)x * x)), 4);

        var dryRun = await ReclusterAsync(dryRun: true);
        Assert.False(dryRun.Published);
        Assert.Equal(2 * UsersPerTaste, dryRun.Users);
        Assert.Equal(0, (await CallAsync<ListSegmentsRequest, ListSegmentsResponse>(s_segments, "ListSegments", new ListSegmentsRequest())).ModelVersion);
        Assert.Null((await SegmentsAsync("home-3")).MlSegment);

        var published = await ReclusterAsync(dryRun: false);
        Assert.True(published.Published);
        Assert.Equal(2, published.K);
        Assert.True(published.Silhouette > 0.3, $"silhouette {published.Silhouette}");
        Assert.All(published.Segments, s => Assert.Equal("new", s.Status));

        // k = 0 finds the two tastes: the smallest k near the best silhouette, among k with segments of 5 users or more.
        var chosen = await CallAsync<ReclusterRequest, ReclusterResponse>(s_admin, "Recluster", new ReclusterRequest { K = 0, KMin = 2, KMax = 12, DryRun = true, Seed = 7 });
        Assert.Equal(2, chosen.K);
        Assert.Equal(5, chosen.MinSegmentSize);
        Assert.Contains("minimum gain", chosen.Criterion, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(2, 8), chosen.Candidates.Select(c => c.K)); // 48 users support at most 9 segments of 5
        Assert.Contains(chosen.Warnings, w => w.Contains("–12 not eligible: a segment would have fewer than 5 users", StringComparison.Ordinal)); // 10–12 never fitted
        Assert.All(chosen.Candidates, c => Assert.Equal(c.SmallestSegment >= 5, c.Eligible));
        Assert.DoesNotContain(chosen.Warnings, w => w.StartsWith("no clear cluster structure", StringComparison.Ordinal));
        Assert.Equal(chosen.Segments.Count, chosen.Segments.Select(s => s.Label).Distinct().Count());

        var truth = new List<int>();
        var found = new List<int>();
        for (var u = 0; u < UsersPerTaste; u++)
        {
            foreach (var (user, taste) in new[] { ($"home-{u}", 0), ($"toys-{u}", 1) })
            {
                var ml = (await SegmentsAsync(user)).MlSegment;
                Assert.NotNull(ml);
                Assert.True(ml.ModelVersion >= published.ModelVersion); // live centroid updates publish newer versions
                Assert.InRange(ml.Confidence, 0, 1);
                Assert.NotEmpty(ml.Explanation);
                truth.Add(taste);
                found.Add(ml.SegmentId);
            }
        }

        Assert.True(ClusterMetrics.AdjustedRandIndex(truth, found) >= 0.95, "the two tastes are the two segments");
        var homeSegment = (await SegmentsAsync("home-0")).MlSegment.SegmentId;
        var segment = await CallAsync<GetSegmentRequest, Segment>(s_segments, "GetSegment", new GetSegmentRequest { SegmentId = homeSegment });
        Assert.Equal(UsersPerTaste, segment.Size);
        Assert.Equal(8, segment.Centroid.Count);
        Assert.Equal("home", segment.TopCategories[0].Category);
        Assert.Contains("home", segment.Label, StringComparison.Ordinal);

        var members = new List<string>();
        await foreach (var member in _server.Client.ServerStreamingAsync<StreamSegmentMembersRequest, SegmentMember>(
            s_segments.FindMethodByName("StreamSegmentMembers"), new StreamSegmentMembersRequest { SegmentId = homeSegment }))
        {
            members.Add(member.UserId);
        }

        Assert.Equal(Enumerable.Range(0, UsersPerTaste).Select(u => $"home-{u}").Order(StringComparer.Ordinal), members.Order(StringComparer.Ordinal));

        // Unchanged data clustered again: ids stay (matched), and at least 95% of users keep their segment.
        var again = await ReclusterAsync(dryRun: false);
        Assert.All(again.Segments, s => Assert.Equal("matched", s.Status));
        Assert.True(again.UsersMoved <= again.Users * 0.05, $"{again.UsersMoved} of {again.Users} moved");
        Assert.Equal(homeSegment, (await SegmentsAsync("home-0")).MlSegment.SegmentId);

        var missing = await Assert.ThrowsAsync<RpcException>(() => CallAsync<GetSegmentRequest, Segment>(s_segments, "GetSegment", new GetSegmentRequest { SegmentId = 99 }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task TasteProfile_RecommendsTheItemsNearestHerEmbedding_OnceAnEncoderIsServed()
    {
        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(
            null,
            "--Segmentation:Recommendations:CoOccurrenceWeight=0",
            "--Segmentation:Recommendations:PopularityWeight=0",
            "--Segmentation:Recommendations:RecentlyViewedWeight=0");
        await InitializeShopAsync();
        var recommend = RecommendationsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("RecommendationService");
        var request = new RecommendRequest { UserId = "home-3", Count = 4 };
        Assert.Empty((await CallAsync<RecommendRequest, RecommendResponse>(recommend, "Recommend", request)).Items);

        await TrainAsync();
        var items = (await CallAsync<RecommendRequest, RecommendResponse>(recommend, "Recommend", request)).Items;
        Assert.Equal(4, items.Count);
        // Scored against her embedding; each reason names the item of hers most similar to it.
        Assert.All(items, x => Assert.Equal(ReasonKind.SimilarToViewed, x.Reason.Kind));
        Assert.All(items, x => Assert.Contains(x.Reason.Cause, new[] { "h3", "h4", "h5", "h6", "h7", "h8" }));
        // She bought h3..h8: never one of those; home items she has not bought come first (a D = 8 toy model on 48
        // users: the rest may be toys).
        Assert.DoesNotContain(items, x => x.ItemId is "h3" or "h4" or "h5" or "h6" or "h7" or "h8");
        Assert.StartsWith("h", items[0].ItemId, StringComparison.Ordinal);
        Assert.True(items.Count(x => x.ItemId.StartsWith('h')) >= 2, string.Join(", ", items.Select(x => x.ItemId)));
    }

    [Fact]
    public async Task Reclustering_CountsEveryUsersPurchasesUnderTheMlSegmentSheIsAssigned()
    {
        // Her purchases were made before she had an ML segment; the sweep's assignments move them into hers.
        await TrainAsync();
        await ReclusterAsync(dryRun: false);
        var recommender = _server.Server.Services.GetRequiredService<LiveRecommender>();
        var options = _server.Server.Services.GetRequiredService<SegmentationOptions>().Recommendations;
        var expected = new Segmentation.Core.Recommendations.SegmentPopularity(new Segmentation.Core.Recommendations.ItemCatalog(), options.PopularityHalfLife);
        var segments = new HashSet<int>();
        for (var u = 0; u < UsersPerTaste; u++)
        {
            foreach (var (user, item) in new[] { ($"home-{u}", "h"), ($"toys-{u}", "t") })
            {
                var segment = (await SegmentsAsync(user)).MlSegment.SegmentId;
                segments.Add(segment);
                Assert.Equal(segment, recommender.MlSegmentOf(user));
                for (var i = 0; i < 6; i++)
                {
                    expected.Record([LiveRecommender.MlSegmentKey(segment)], new Segmentation.Core.Recommendations.Interaction($"{item}{(u + i) % 10}", Segmentation.Core.EventType.Purchase, s_start.AddHours(u + i)));
                }
            }
        }

        Assert.Equal(2, segments.Count);
        var now = s_start.AddDays(2);
        foreach (var segment in segments)
        {
            var key = LiveRecommender.MlSegmentKey(segment);
            var counted = recommender.Popularity.ItemsOf(key, now);
            Assert.Equal(expected.ItemsOf(key, now).Keys.Order(StringComparer.Ordinal), counted.Keys.Order(StringComparer.Ordinal));
            foreach (var (item, value) in expected.ItemsOf(key, now))
            {
                Assert.Equal(value, counted[item], value * 1e-9);
            }
        }
    }

    [Fact]
    public async Task AnEventThatMovesHerEmbedding_MovesHerSegmentShortlyAfterTheIngestCall()
    {
        await TrainAsync();
        await ReclusterAsync(dryRun: false);
        var home = (await SegmentsAsync("home-5")).MlSegment.SegmentId;
        var toys = (await SegmentsAsync("toys-5")).MlSegment.SegmentId;
        Assert.NotEqual(home, toys);

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = _server.Client.ServerStreamingAsync<WatchUserSegmentsRequest, SegmentChange>(
            s_segments.FindMethodByName("WatchUserSegments"), new WatchUserSegmentsRequest { UserId = "home-5" }, new CallSettings(CancellationToken: cancel.Token)).GetAsyncEnumerator(cancel.Token);
        var next = watch.MoveNextAsync().AsTask();
        // The watch must be registered before her events go in, or the change it waits for is published to no one; on
        // a loaded machine the stream's start can take well over a second.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (_server.Server.SegmentChanges.WatcherCount == 0 && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(10);
        }

        Assert.True(_server.Server.SegmentChanges.WatcherCount > 0, "the watch was not registered within 20 s");

        // She discovers toys: many recent toy purchases outweigh her older home ones.
        var binge = Enumerable.Range(0, 10).Select(i => Buy("home-5", $"t{i}", "toys.games", 60 + i)).ToArray();
        await IngestAsync(binge);

        // The ingest call has returned once the events were durable; her refresh (Segmentation:Segments:RefreshDelay
        // later) re-embeds her, moves her and publishes the change.
        var changes = new List<SegmentChange>();
        Assert.True(await next);
        changes.Add(watch.Current);
        while (changes.Count < 2 && await watch.MoveNextAsync())
        {
            changes.Add(watch.Current);
        }

        Assert.Contains(changes, c => c.SegmentId == $"ml:{home}" && !c.Entered);
        Assert.Contains(changes, c => c.SegmentId == $"ml:{toys}" && c.Entered);
        Assert.Equal(toys, (await SegmentsAsync("home-5")).MlSegment.SegmentId);
        Assert.Equal(toys, _server.Server.Services.GetRequiredService<LiveRecommender>().MlSegmentOf("home-5"));
    }

    [Fact]
    public async Task ActivatingANewEncoder_Reclusters_AndEveryPollDuringTheSwapSeesAnMlSegment()
    {
        await TrainAsync();
        await ReclusterAsync(dryRun: false);
        var second = await CallAsync<TrainModelRequest, ModelVersion>(s_admin, "TrainModel", new TrainModelRequest { Dimension = 8, Seed = 11, Activate = false });
        Assert.Null(second.Segmentation); // not activated: the segments are not touched
        var request = new BatchGetUserSegmentsRequest { UserIds = { Enumerable.Range(0, UsersPerTaste).SelectMany(u => new[] { $"home-{u}", $"toys-{u}" }) } };

        // Two callers poll every user's segments, back to back, before, during and after the activation. A poll
        // overlaps the swap when it started before the activation returned and ended after it was called.
        var swapStarted = 0;
        var swapEnded = 0;
        long polls = 0, pollsDuringSwap = 0;
        var missing = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var pollers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested || Interlocked.Read(ref polls) == 0)
            {
                var startedBeforeEnd = Volatile.Read(ref swapEnded) == 0;
                var answer = await CallAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(s_segments, "BatchGetUserSegments", request);
                Assert.Equal(request.UserIds.Count, answer.Users.Count);
                foreach (var user in answer.Users.Where(u => u.MlSegment is null))
                {
                    missing.Enqueue(user.UserId);
                }

                Interlocked.Increment(ref polls);
                if (startedBeforeEnd && Volatile.Read(ref swapStarted) == 1)
                {
                    Interlocked.Increment(ref pollsDuringSwap);
                }
            }
        })).ToArray();

        // A poller that fails ends the wait with its failure; a server that stops answering ends it after a minute.
        async Task PolledAsync(long count)
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Interlocked.Read(ref polls) < count)
            {
                if (Array.Find(pollers, p => p.IsCompleted) is { } ended)
                {
                    await ended;
                    Assert.Fail("a poller stopped before it was told to");
                }

                Assert.True(waited.Elapsed < TimeSpan.FromMinutes(1), $"{Interlocked.Read(ref polls)} polls answered of {count} within a minute");
                await Task.Delay(5);
            }
        }

        await PolledAsync(2);

        Volatile.Write(ref swapStarted, 1);
        var activated = await CallAsync<ActivateModelRequest, ModelVersion>(s_admin, "ActivateModel", new ActivateModelRequest { Version = second.Version });
        Volatile.Write(ref swapEnded, 1);
        var after = Interlocked.Read(ref polls);
        await PolledAsync(after + 4);

        await stop.CancelAsync();
        await Task.WhenAll(pollers);

        Assert.Equal("reclustered", activated.Segmentation.Outcome);
        Assert.Equal(2, activated.Segmentation.K); // as many segments as the segmentation it replaces
        Assert.Contains("re-clustered over encoder v2", activated.Segmentation.Message, StringComparison.Ordinal);
        Assert.True(Interlocked.Read(ref pollsDuringSwap) > 0, "no poll overlapped the activation");
        Assert.Empty(missing);
        Assert.Equal("2", (await CallAsync<ListSegmentsRequest, ListSegmentsResponse>(s_segments, "ListSegments", new ListSegmentsRequest())).EmbeddingModelVersion);
        var final = await CallAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(s_segments, "BatchGetUserSegments", request);
        Assert.All(final.Users, u => Assert.True(u.MlSegment.ModelVersion >= activated.Segmentation.ModelVersion, $"{u.UserId}: segmentation v{u.MlSegment.ModelVersion}"));
    }

    [Fact]
    public async Task ModelsHotSwap_ABrokenVersionIsRefused_AndARestartServesTheActiveVersionAndSegmentsAgain()
    {
        await TrainAsync();
        await ReclusterAsync(dryRun: false);
        var second = await CallAsync<TrainModelRequest, ModelVersion>(s_admin, "TrainModel", new TrainModelRequest { Dimension = 4, Seed = 5, Activate = false });
        Assert.Equal((2L, false), (second.Version, second.Active));

        var swapped = await CallAsync<ActivateModelRequest, ModelVersion>(s_admin, "ActivateModel", new ActivateModelRequest { Version = 2 });
        Assert.True(swapped.Active);
        var profiles = ProfilesReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("ProfileService");
        var profile = await CallAsync<GetProfileRequest, Profile>(profiles, "GetProfile", new GetProfileRequest { UserId = "toys-1" });
        Assert.Equal((4, 2L), (profile.Embedding.Count, profile.EmbeddingModelVersion));
        // Activation re-clustered over v2's vectors: new segment ids, the old ones retired.
        Assert.Equal("reclustered", swapped.Segmentation.Outcome);
        var overV2 = await SegmentsAsync("toys-1");
        Assert.True(overV2.MlSegment.ModelVersion >= swapped.Segmentation.ModelVersion);
        Assert.Equal("2", (await CallAsync<ListSegmentsRequest, ListSegmentsResponse>(s_segments, "ListSegments", new ListSegmentsRequest())).EmbeddingModelVersion);

        // A truncated encoder: refused with the problem, v2 keeps serving.
        var broken = Path.Combine(_server.DataDirectory, "models", "v000003");
        Directory.CreateDirectory(broken);
        foreach (var file in Directory.GetFiles(Path.Combine(_server.DataDirectory, "models", "v000002")))
        {
            File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
        }

        var manifest = Path.Combine(broken, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"version\": 2", "\"version\": 3", StringComparison.Ordinal));
        var onnx = Path.Combine(broken, "user_encoder.onnx");
        File.WriteAllBytes(onnx, File.ReadAllBytes(onnx)[..100]);
        var refused = await Assert.ThrowsAsync<RpcException>(() => CallAsync<ActivateModelRequest, ModelVersion>(s_admin, "ActivateModel", new ActivateModelRequest { Version = 3 }));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("user_encoder.onnx", refused.Status.Detail, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => CallAsync<ActivateModelRequest, ModelVersion>(s_admin, "ActivateModel", new ActivateModelRequest { Version = 42 }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(2, (await CallAsync<GetProfileRequest, Profile>(profiles, "GetProfile", new GetProfileRequest { UserId = "toys-1" })).EmbeddingModelVersion);

        var reclustered = await ReclusterAsync(dryRun: false);
        var listed = await CallAsync<ListModelsRequest, ListModelsResponse>(s_admin, "ListModels", new ListModelsRequest());
        Assert.Equal([1L, 2L, 3L], listed.Models.Select(m => m.Version));
        Assert.Equal([false, true, false], listed.Models.Select(m => m.Active));

        await _server.StopAsync();
        _server = await TestServer.StartAsync(_server.DataDirectory);
        var after = await SegmentsAsync("toys-1");
        Assert.True(after.MlSegment.ModelVersion >= reclustered.ModelVersion);
        Assert.Equal(2, (await CallAsync<GetProfileRequest, Profile>(profiles, "GetProfile", new GetProfileRequest { UserId = "toys-1" })).EmbeddingModelVersion);
    }
}
