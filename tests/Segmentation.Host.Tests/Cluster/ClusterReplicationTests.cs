using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Replication;
using Segmentation.Testing;
using MethodDescriptor = Google.Protobuf.Reflection.MethodDescriptor;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// Two silos (each also a gRPC front door) in one cluster over one PostgreSQL store: what one silo's users do reaches
/// the other silo's recommenders within a second, and rule segments changed through one silo are in force on the other
/// when the change returns (ClusterReplication, SiloPeerGrain).
/// </summary>
public sealed class ClusterReplicationTests(ClusterDatabase database) : IClassFixture<ClusterDatabase>
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private static readonly ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<ServiceDescriptor>("AdminService");

    [Fact]
    public async Task PurchaseIngestedThroughOneSilo_ChangesRecommendOnEverySilo_WithinASecond()
    {
        var schema = database.NewSchema("replication");
        await using var cluster = await TwoSilosAsync(schema);
        var (a, b) = cluster;
        // She viewed the kettle; nobody has bought anything with it yet.
        await IngestAsync(a, Events.Make("v-1", "shopper", EventType.View, s_now, item: "kettle", category: "home.kitchen"));
        Assert.DoesNotContain(await RecommendedAsync(b, "shopper"), r => r.ItemId == "teapot");

        // Another user buys the kettle with a teapot, through silo A; her grain lives on one of the two silos, so at
        // least one of them learns it only from the other.
        await IngestAsync(a,
            Events.Make("p-1", "buyer", EventType.Purchase, s_now.AddMinutes(1), item: "kettle", category: "home.kitchen"),
            Events.Make("p-2", "buyer", EventType.Purchase, s_now.AddMinutes(1), item: "teapot", category: "home.kitchen"));
        var acknowledged = Stopwatch.StartNew();
        var seenOnA = await UntilRecommendedAsync(a, "shopper", "teapot", acknowledged);
        var seenOnB = await UntilRecommendedAsync(b, "shopper", "teapot", acknowledged);
        Console.WriteLine($"teapot recommended with the kettle: on silo A {seenOnA.TotalMilliseconds:F0} ms, on silo B {seenOnB.TotalMilliseconds:F0} ms after the purchase was acknowledged");

        // Both silos answer the same, score for score: one model, replicated.
        var fromA = await RecommendedAsync(a, "shopper");
        var fromB = await RecommendedAsync(b, "shopper");
        Assert.Equal(fromA.Select(r => (r.ItemId, r.Score)), fromB.Select(r => (r.ItemId, r.Score)));
    }

    [Fact]
    public async Task RuleSegmentCreatedThroughOneSilo_IsInForceOnTheOther_WhenTheCallReturns_AndCanBeDeletedThere()
    {
        var schema = database.NewSchema("rulesegments");
        await using var cluster = await TwoSilosAsync(schema);
        var (a, b) = cluster;
        await a.Client.UnaryAsync<CreateRuleSegmentRequest, RuleSegment>(s_admin.FindMethodByName("CreateRuleSegment"),
            new CreateRuleSegmentRequest { Id = "big-spenders", Name = "Big spenders", Expression = "monetary > 100" });

        var onB = await b.Client.UnaryAsync<ListRuleSegmentsRequest, ListRuleSegmentsResponse>(s_admin.FindMethodByName("ListRuleSegments"), new ListRuleSegmentsRequest());
        Assert.Contains(onB.Rules, s => s.Id == "big-spenders");

        // B stores the next change on top of A's (its copy and ETag came with the reload), and A sees it.
        await b.Client.UnaryAsync<DeleteRuleSegmentRequest, DeleteRuleSegmentResponse>(s_admin.FindMethodByName("DeleteRuleSegment"), new DeleteRuleSegmentRequest { Id = "big-spenders" });
        var onA = await a.Client.UnaryAsync<ListRuleSegmentsRequest, ListRuleSegmentsResponse>(s_admin.FindMethodByName("ListRuleSegments"), new ListRuleSegmentsRequest());
        Assert.DoesNotContain(onA.Rules, s => s.Id == "big-spenders");
    }

    [Fact]
    public async Task MlSegments_CountEveryUserOnce_WhicheverSiloSheLivesOn_AndEverySiloListsTheSame()
    {
        var schema = database.NewSchema("mlsegments");
        var models = Path.Combine(Path.GetTempPath(), "seg-models-" + Guid.NewGuid().ToString("N"));
        // A serves the encoder (inference); B embeds its users through A's embedder grains. Each has its own models
        // folder: B reads the served version's item numbering from the store (StoredModels).
        await using var cluster = await TwoSilosAsync(schema, [$"--Segmentation:Embeddings:ModelsDirectory={models}-a"],
            [$"--Segmentation:Embeddings:ModelsDirectory={models}-b", "--Segmentation:Roles=gateway,silo"]);
        var (a, b) = cluster;
        var segments = SegmentsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("SegmentService");
        var events = new List<Event>();
        for (var u = 0; u < 12; u++)
        {
            for (var i = 0; i < 6; i++)
            {
                events.Add(Events.Make($"ml-h-{u}-{i}", $"home-{u}", EventType.Purchase, s_now.AddMinutes(-600 + u + i), $"h{(u + i) % 10}", category: "home.decor"));
                events.Add(Events.Make($"ml-t-{u}-{i}", $"toys-{u}", EventType.Purchase, s_now.AddMinutes(-600 + u + i), $"t{(u + i) % 10}", category: "toys.games"));
            }
        }

        await IngestAsync(a, [.. events]);
        await a.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Seed = 3, Activate = true });
        var reclustered = await a.Client.UnaryAsync<ReclusterRequest, ReclusterResponse>(s_admin.FindMethodByName("Recluster"), new ReclusterRequest { K = 2, Seed = 7 });
        Assert.Equal(24, reclustered.Users);
        // Some users moved as the sweep assigned them, on both silos; a second sweep moves some again.
        await b.Client.UnaryAsync<ReclusterRequest, ReclusterResponse>(s_admin.FindMethodByName("Recluster"), new ReclusterRequest { K = 2, Seed = 11 });

        foreach (var server in new[] { a, b })
        {
            var listed = await server.Client.UnaryAsync<ListSegmentsRequest, ListSegmentsResponse>(segments.FindMethodByName("ListSegments"), new ListSegmentsRequest());
            Assert.Equal(2, listed.Segments.Count);
            Assert.Equal(24, listed.Segments.Sum(s => s.Size));
            var members = new List<string>();
            foreach (var segment in listed.Segments)
            {
                await foreach (var member in server.Client.ServerStreamingAsync<StreamSegmentMembersRequest, SegmentMember>(
                    segments.FindMethodByName("StreamSegmentMembers"), new StreamSegmentMembersRequest { SegmentId = segment.SegmentId }))
                {
                    members.Add(member.UserId);
                }
            }

            Assert.Equal(24, members.Distinct().Count());
            Assert.Equal(24, members.Count);
        }

        TestServer.TryDelete(models + "-a");
        TestServer.TryDelete(models + "-b");
    }

    [Fact]
    public async Task UserEncoder_TrainedOnAnInferenceSilo_OutlivesItsDisk_AndIsServedByTheNextInferenceSiloThatStarts()
    {
        var schema = database.NewSchema("storedmodels");
        var models = Path.Combine(Path.GetTempPath(), "seg-models-" + Guid.NewGuid().ToString("N"));
        long trained;
        string[] storeArgs =
        [
            "--Segmentation:Storage:Provider=postgres",
            $"--Segmentation:Storage:ConnectionString={database.Postgres.ConnectionString}",
            $"--Segmentation:Storage:Schema={schema}",
        ];
        await using (var first = await TestServer.StartAsync(extraArgs: [.. storeArgs, $"--Segmentation:Embeddings:ModelsDirectory={models}-first"]))
        {
            var events = Enumerable.Range(0, 8).Select(u => Events.Make($"sm-{u}", $"shopper-{u}", EventType.Purchase, s_now.AddMinutes(u), $"item-{u % 3}", category: "home.decor")).ToArray();
            await IngestAsync(first, events);
            trained = (await first.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Seed = 3, Activate = true })).Version;
        }

        // Its pod and disk are gone; a new one starts on an empty models folder.
        TestServer.TryDelete(models + "-first");
        await using var next = await TestServer.StartAsync(extraArgs: [.. storeArgs, $"--Segmentation:Embeddings:ModelsDirectory={models}-next"]);
        Assert.Equal(trained, next.Server.Embeddings.Version);
        var listed = await next.Client.UnaryAsync<ListModelsRequest, ListModelsResponse>(s_admin.FindMethodByName("ListModels"), new ListModelsRequest());
        Assert.Contains(listed.Models, m => m.Version == trained && m.Active);

        // The next version trained there follows the stored one.
        var again = await next.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Seed = 4, Activate = false });
        Assert.Equal(trained + 1, again.Version);
        TestServer.TryDelete(models + "-next");
    }

    [Fact]
    public async Task ItemModel_TrainedOnOneSilo_IsServedByTheOther_AndByASiloStartedLater_FromTheStore_NotADisk()
    {
        var schema = database.NewSchema("itemmodel");
        var models = Path.Combine(Path.GetTempPath(), "seg-models-" + Guid.NewGuid().ToString("N"));
        const string minUsers = "--Segmentation:Recommendations:ItemModel:MinUsers=5";
        IReadOnlyList<RecommendedItem> served;
        await using (var cluster = await TwoSilosAsync(schema,
            [$"--Segmentation:Embeddings:ModelsDirectory={models}-a", minUsers], [$"--Segmentation:Embeddings:ModelsDirectory={models}-b", minUsers]))
        {
            var (a, b) = cluster;
            await IngestAsync(a, TwoTastes());
            var version = await a.Server.Grains.GetGrain<Segmentation.Grains.IItemModelGrain>(Segmentation.Grains.TenantKeys.DefaultTenant).TrainAsync();
            Assert.Equal(1, version);

            // Each pod has its own disk: the version reached the other through the store, and both serve the same model.
            var onA = a.Server.Services.GetRequiredService<Recommendations.LiveRecommender>().ItemModel;
            var onB = b.Server.Services.GetRequiredService<Recommendations.LiveRecommender>().ItemModel;
            Assert.Equal(1, onA?.Version);
            Assert.Equal(1, onB?.Version);
            Assert.Equal(onA!.BlendWeights, onB!.BlendWeights);
            Assert.Equal(onA.TrainedAt, onB.TrainedAt);
            // The live sources blended with the model (co-occurrence, popularity) reach the other silo's replica within
            // the replication interval, and an answer either silo cached before then within the cache's maximum age
            // (other users' events do not invalidate hers): the two answers agree, scores included, once both have.
            var (fromA, fromB) = await ConvergedAsync(a, b, "home-0");
            served = fromA;
            Assert.NotEmpty(served);
            AssertSameAnswer(served, fromB);
        }

        // Both pods and their disks are gone; a silo that starts on an empty models folder serves the stored version.
        TestServer.TryDelete(models + "-a");
        TestServer.TryDelete(models + "-b");
        await using var later = await TestServer.StartAsync(extraArgs:
        [
            "--Segmentation:Storage:Provider=postgres",
            $"--Segmentation:Storage:ConnectionString={database.Postgres.ConnectionString}",
            $"--Segmentation:Storage:Schema={schema}",
            $"--Segmentation:Embeddings:ModelsDirectory={models}-later",
            minUsers,
        ]);
        var manifest = later.Server.Services.GetRequiredService<Recommendations.LiveRecommender>().ItemModel;
        Assert.Equal(1, manifest?.Version);
        Assert.False(Directory.Exists(Path.Combine(models + "-later", "recommender")), "the version must come from the store, not a folder");
        Assert.Equal(served.Select(r => (r.ItemId, r.Reason.Text)), (await RecommendedAsync(later, "home-0")).Select(r => (r.ItemId, r.Reason.Text)));
        TestServer.TryDelete(models + "-later");
    }

    [Fact]
    public async Task ItemModel_OfATenantThatCameAfterTheSilosStarted_IsStoredUnderItsOwnKey_AndServedByBothSilos()
    {
        var schema = database.NewSchema("tenantmodel");
        var models = Path.Combine(Path.GetTempPath(), "seg-models-" + Guid.NewGuid().ToString("N"));
        const string minUsers = "--Segmentation:Recommendations:ItemModel:MinUsers=5";
        await using (var cluster = await TwoSilosAsync(schema,
            [$"--Segmentation:Embeddings:ModelsDirectory={models}-a", minUsers], [$"--Segmentation:Embeddings:ModelsDirectory={models}-b", minUsers]))
        {
            var (a, b) = cluster;
            var shop = new Grpc.Core.Metadata { { global::Segmentation.Host.Access.CallTenant.Header, "shop-x" } };
            var response = await new EventService.EventServiceClient(a.Client).IngestEventsAsync(Events.Batch(TwoTastes()), shop);
            Assert.Equal(TwoTastes().Length, response.Accepted);
            Assert.Equal(1, await a.Server.Grains.GetGrain<Segmentation.Grains.IItemModelGrain>("shop-x").TrainAsync());

            // Stored under the tenant's own key; tenant default has none, on either silo.
            var store = a.Server.Services.GetRequiredService<Segmentation.Storage.ISnapshotStore>();
            Assert.Equal(1, (await store.ReadAsync("shop-x/models/recommender", CancellationToken.None))?.Sequence);
            Assert.Null(await store.ReadAsync("default/models/recommender", CancellationToken.None));
            var onA = a.Server.Services.GetRequiredService<Recommendations.TenantRecommenders>();
            var onB = b.Server.Services.GetRequiredService<Recommendations.TenantRecommenders>();
            Assert.Null(onA.Default.ItemModel);
            Assert.Null(onB.Default.ItemModel);

            // The other silo started before tenant shop-x had an event, and serves its version all the same.
            Assert.Equal(1, onB.For("shop-x").ItemModel?.Version);
            Assert.Equal(onA.For("shop-x").ItemModel!.TrainedAt, onB.For("shop-x").ItemModel!.TrainedAt);
            // The tenant's live sources (co-occurrence, popularity) reach the other silo's replica within the replication
            // interval: until then its answer blends the same model with fewer of them (seen in CI: "similar to what you
            // viewed" there where this silo said "often viewed with").
            var (fromA, fromB) = await ConvergedAsync(a, b, "home-0", shop);
            Assert.NotEmpty(fromA);
            AssertSameAnswer(fromA, fromB);
        }

        TestServer.TryDelete(models + "-a");
        TestServer.TryDelete(models + "-b");
    }

    // The same items, reasons and scores. A replica sums the same decayed contributions as the silo that learned them,
    // but in the order its batches arrived (each silo learns its own users' events first), so a score may differ in its
    // last bits: scores are compared to 1e-9 of their size.
    private static bool SameAnswer(IReadOnlyList<RecommendedItem> expected, IReadOnlyList<RecommendedItem> actual) =>
        expected.Select(r => (r.ItemId, r.Reason.Text)).SequenceEqual(actual.Select(r => (r.ItemId, r.Reason.Text)))
        && expected.Zip(actual).All(p => Math.Abs(p.First.Score - p.Second.Score) <= 1e-9 * Math.Abs(p.First.Score));

    private static void AssertSameAnswer(IReadOnlyList<RecommendedItem> expected, IReadOnlyList<RecommendedItem> actual)
    {
        Assert.Equal(expected.Select(r => (r.ItemId, r.Reason.Text)), actual.Select(r => (r.ItemId, r.Reason.Text)));
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.True(Math.Abs(e.Score - a.Score) <= 1e-9 * Math.Abs(e.Score), $"{e.ItemId}: {e.Score} here, {a.Score} there");
        }
    }

    // Two tastes: home shoppers view and buy home-1..home-6, toy shoppers toys-1..toys-6, each a different subset.
    private static Event[] TwoTastes()
    {
        var events = new List<Event>();
        for (var u = 0; u < 24; u++)
        {
            var (user, prefix, category) = u % 2 == 0 ? ($"home-{u}", "home", "home.kitchen") : ($"toys-{u}", "toys", "toys.games");
            for (var i = 1; i <= 6; i++)
            {
                if ((u + i) % 4 != 0)
                {
                    events.Add(Events.Make($"im-v-{u}-{i}", user, EventType.View, s_now.AddMinutes(u + i), $"{prefix}-{i}", category: category));
                }

                if ((u + i) % 3 == 0)
                {
                    events.Add(Events.Make($"im-p-{u}-{i}", user, EventType.Purchase, s_now.AddMinutes(u + i + 1), $"{prefix}-{i}", category: category));
                }
            }
        }

        return [.. events];
    }

    [Fact]
    public async Task SegmentWatchers_OnEitherSilo_SeeEverySilosUsers()
    {
        var schema = database.NewSchema("watch");
        await using var cluster = await TwoSilosAsync(schema);
        var (a, b) = cluster;
        var segments = SegmentsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("SegmentService");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watchers = new[] { a, b }.Select(server => server.Client.ServerStreamingAsync<WatchSegmentChangesRequest, SegmentChange>(
            segments.FindMethodByName("WatchSegmentChanges"), new WatchSegmentChangesRequest { SegmentId = "lifecycle:" }, new CallSettings(CancellationToken: cancel.Token)).GetAsyncEnumerator(cancel.Token)).ToArray();
        var firsts = watchers.Select(w => w.MoveNextAsync().AsTask()).ToArray();
        // Each silo relays its users' changes once it has heard that the other has watchers.
        var waited = Stopwatch.StartNew();
        while (a.Server.Services.GetRequiredService<SegmentChangeRelay>().WatchingSilos.Count < 1 || b.Server.Services.GetRequiredService<SegmentChangeRelay>().WatchingSilos.Count < 1)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the silos did not hear of each other's watchers within 30 s");
            await Task.Delay(20);
        }

        // Twenty users, half through each silo: wherever their grains live, one of the two watchers learns of them only
        // by relay. Each enters lifecycle:new.
        const int users = 20;
        for (var u = 0; u < users; u++)
        {
            await IngestAsync(u % 2 == 0 ? a : b, Events.Make($"wv-{u}", $"watched-{u}", EventType.View, s_now.AddMinutes(u), item: "kettle", category: "home.kitchen"));
        }

        var acknowledged = Stopwatch.StartNew();
        for (var w = 0; w < watchers.Length; w++)
        {
            var entered = new HashSet<string>(StringComparer.Ordinal);
            var more = await firsts[w];
            while (more)
            {
                var change = watchers[w].Current;
                Assert.Equal(("lifecycle:new", true), (change.SegmentId, change.Entered));
                Assert.True(entered.Add(change.UserId), $"{change.UserId} entered lifecycle:new twice");
                if (entered.Count == users)
                {
                    break;
                }

                more = await watchers[w].MoveNextAsync();
            }

            Console.WriteLine($"watcher on silo {(w == 0 ? 'A' : 'B')}: all {entered.Count} users, {acknowledged.ElapsedMilliseconds} ms after the last ingest returned");
            Assert.Equal(Enumerable.Range(0, users).Select(u => $"watched-{u}").Order(), entered.Order());
        }

        await cancel.CancelAsync();
        foreach (var watcher in watchers)
        {
            try
            {
                await watcher.DisposeAsync();
            }
            catch (Exception ex) when (ex is OperationCanceledException or Grpc.Core.RpcException)
            {
            }
        }
    }

    private sealed class Cluster(TestServer a, TestServer b) : IAsyncDisposable
    {
        public void Deconstruct(out TestServer first, out TestServer second) => (first, second) = (a, b);

        public async ValueTask DisposeAsync()
        {
            await b.DisposeAsync();
            await a.DisposeAsync();
        }
    }

    // Development membership around silo A's port; events, snapshots and rules in one PostgreSQL schema.
    [Fact]
    public async Task UserErasedThroughOneSilo_IsGoneFromEverySilosRecommenders_WhenTheCallReturns()
    {
        var schema = database.NewSchema("erasure");
        await using var cluster = await TwoSilosAsync(schema);
        var (a, b) = cluster;
        await IngestAsync(a, Events.Make("e-v", "shopper", EventType.View, s_now, item: "kettle", category: "home.kitchen"));
        await IngestAsync(a,
            Events.Make("e-1", "to-erase", EventType.Purchase, s_now.AddMinutes(1), item: "kettle", category: "home.kitchen"),
            Events.Make("e-2", "to-erase", EventType.Purchase, s_now.AddMinutes(1), item: "teapot", category: "home.kitchen"),
            Events.Make("e-3", "stays", EventType.Purchase, s_now.AddMinutes(2), item: "kettle", category: "home.kitchen"),
            Events.Make("e-4", "stays", EventType.Purchase, s_now.AddMinutes(2), item: "mug", category: "home.kitchen"));
        var acknowledged = Stopwatch.StartNew();
        await UntilRecommendedAsync(a, "shopper", "teapot", acknowledged);
        await UntilRecommendedAsync(b, "shopper", "teapot", acknowledged);

        // Through silo B: her grain lives on one of the two, so at least one silo forgets her only because it was told.
        var erased = await new PrivacyService.PrivacyServiceClient(b.Client).EraseUserAsync(new EraseUserRequest { UserId = "to-erase" });

        Assert.Equal(2, erased.Events);
        foreach (var silo in new[] { a, b })
        {
            var recommender = silo.Server.Services.GetRequiredService<Recommendations.LiveRecommender>();
            var now = silo.Server.DomainClock.GetUtcNow();
            Assert.Equal(0, recommender.CoOccurrence.CoOccurrence("kettle", "teapot", now));
            Assert.True(recommender.CoOccurrence.CoOccurrence("kettle", "mug", now) > 0, "the user who stays must still count");
            Assert.DoesNotContain(await RecommendedAsync(silo, "shopper"), r => r.ItemId == "teapot");
            var gone = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => silo.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "to-erase" }));
            Assert.Equal(Grpc.Core.StatusCode.NotFound, gone.StatusCode);
        }
    }

    [Fact]
    public async Task ExperimentCreatedThroughOneSilo_GivesEveryUserTheSameArm_ThroughEitherSilo_AsThePureAssignmentDoes()
    {
        var schema = database.NewSchema("experiments");
        await using var cluster = await TwoSilosAsync(schema);
        var (a, b) = cluster;
        var definition = new ExperimentDefinition { Id = "winback", Salt = "dec", Start = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(s_now) };
        definition.Arms.Add(new ExperimentArm { Name = "holdout", Share = 10 });
        definition.Arms.Add(new ExperimentArm { Name = "email", Share = 45 });
        definition.Arms.Add(new ExperimentArm { Name = "coupon", Share = 45 });
        await new ExperimentService.ExperimentServiceClient(a.Client).CreateExperimentAsync(definition);
        // A silo reads a tenant's experiments again when its copy is older than 2 s at an ingest (README).
        await Task.Delay(TimeSpan.FromSeconds(2.5));

        // Users ingested through both silos; their grains are placed on either, so each silo assigns some of them.
        const int users = 60;
        for (var i = 0; i < users; i++)
        {
            await IngestAsync(i % 2 == 0 ? a : b, Events.Make($"x-{i}", $"shopper-{i}", EventType.View, s_now.AddMinutes(1), item: "kettle", category: "home.kitchen"));
        }

        var pure = new Segmentation.Core.Experiments.Experiment
        {
            Id = "winback",
            Salt = "dec",
            Arms = [new("holdout", 10), new("email", 45), new("coupon", 45)],
        };
        var arms = new List<string>();
        for (var i = 0; i < users; i++)
        {
            var user = $"shopper-{i}";
            var throughA = await ArmAsync(a, user);
            var throughB = await ArmAsync(b, user);
            Assert.Equal(throughA, throughB);
            Assert.Equal(pure.Arms[Segmentation.Core.Experiments.ArmAssignment.Assign(pure, user)].Name, throughA);
            arms.Add(throughA!);
        }

        Assert.Equal(["coupon", "email", "holdout"], arms.Distinct().Order(StringComparer.Ordinal));
        // Every exposure was counted once, whichever silo her grain lives on, and both silos report the same.
        var results = await new ExperimentService.ExperimentServiceClient(b.Client).GetExperimentAsync(new GetExperimentRequest { Id = "winback" });
        Assert.Equal(arms.GroupBy(x => x).ToDictionary(g => g.Key, g => (long)g.Count()), results.Arms.ToDictionary(r => r.Arm, r => r.Exposed));
    }

    private static async Task<string?> ArmAsync(TestServer server, string userId)
    {
        var insight = await new RecommendationService.RecommendationServiceClient(server.Client).GetUserInsightAsync(new GetUserInsightRequest { UserId = userId, Count = 1 });
        return insight.Experiments.SingleOrDefault(x => x.ExperimentId == "winback")?.Arm;
    }

    private async Task<Cluster> TwoSilosAsync(string schema, string[]? firstArgs = null, string[]? secondArgs = null)
    {
        var primaryPort = FreePort();
        string[] args =
        [
            "--Segmentation:Storage:Provider=postgres",
            $"--Segmentation:Storage:ConnectionString={database.Postgres.ConnectionString}",
            $"--Segmentation:Storage:Schema={schema}",
            "--Segmentation:Cluster:Membership=development",
            $"--Segmentation:Cluster:ClusterId={schema}",
            $"--Segmentation:Cluster:PrimarySilo=127.0.0.1:{primaryPort}",
        ];
        var a = await TestServer.StartAsync(extraArgs: [.. args, $"--Segmentation:Silo:SiloPort={primaryPort}", .. firstArgs ?? []]);
        var b = await TestServer.StartAsync(extraArgs: [.. args, .. secondArgs ?? []]);
        // Both must see the other as active before either sends it anything.
        var waited = Stopwatch.StartNew();
        while (a.Server.Services.GetRequiredService<SiloPeers>().Others().Count < 1 || b.Server.Services.GetRequiredService<SiloPeers>().Others().Count < 1)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "the two silos did not see each other as active within 60 s");
            await Task.Delay(50);
        }

        return new Cluster(a, b);
    }

    private static async Task IngestAsync(TestServer server, params Event[] events)
    {
        var response = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));
        Assert.Equal(events.Length, response.Accepted);
    }

    // Her ten recommendations from the server (under the tenant the headers name; the default tenant without).
    private static async Task<IReadOnlyList<RecommendedItem>> RecommendedAsync(TestServer server, string userId, Grpc.Core.Metadata? headers = null) =>
        (await new RecommendationService.RecommendationServiceClient(server.Client).RecommendAsync(new RecommendRequest { UserId = userId, Count = 10 }, headers)).Items;

    // Both silos' answers for the user once they name the same items for the same reasons with the same scores (polled
    // for at most 30 s; the last pair when they never do, for the assertion to show). Items and reasons alone may agree
    // while one silo still serves an answer cached before the last replicated contributions arrived (seen in CI:
    // home-4 4.446 here, 4.408 there).
    private static async Task<(IReadOnlyList<RecommendedItem> A, IReadOnlyList<RecommendedItem> B)> ConvergedAsync(TestServer a, TestServer b, string userId, Grpc.Core.Metadata? headers = null)
    {
        var until = Stopwatch.StartNew();
        while (true)
        {
            var (fromA, fromB) = (await RecommendedAsync(a, userId, headers), await RecommendedAsync(b, userId, headers));
            if (until.Elapsed > TimeSpan.FromSeconds(30) || SameAnswer(fromA, fromB))
            {
                return (fromA, fromB);
            }

            await Task.Delay(50);
        }
    }

    // How long after `since` started the item was first recommended (polled every 10 ms, for at most 30 s).
    private static async Task<TimeSpan> UntilRecommendedAsync(TestServer server, string userId, string itemId, Stopwatch since)
    {
        while (!(await RecommendedAsync(server, userId)).Any(r => r.ItemId == itemId && r.Reason.Kind == ReasonKind.BoughtTogether))
        {
            Assert.True(since.Elapsed < TimeSpan.FromSeconds(30), $"{itemId} not recommended to {userId} on {server.Server.Address} within 30 s");
            await Task.Delay(10);
        }

        return since.Elapsed;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
