using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Segmentation.Host.Seeding;
using Segmentation.Host.Tests.Access;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests;

/// <summary>
/// Tenants (issue 13 item 1): the same user id ingested into two tenants stays two users — profiles, lifecycle (each
/// tenant's own event-time clock), rule segments, recommendations and similar items (no item or co-occurrence crosses),
/// also after a restart rebuilds the recommenders from the log — and a key of one tenant cannot read another's. Then
/// issue 17 item 3: the synthetic shop seeded into tenant <c>demo</c> and a slice of the real Online Retail sample
/// ingested into <c>default</c> keep their own "now", lifecycle, recommendations and segment statistics.
/// </summary>
public sealed class TenantIsolationTests
{
    private static readonly DateTimeOffset s_shopA = new(2020, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset s_shopB = new(2012, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly ITestOutputHelper _output;

    public TenantIsolationTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task SameUserId_InTwoTenants_StaysTwoUsers_InProfilesSegmentsRulesAndRecommendations_AcrossARestart()
    {
        var data = Path.Combine(Path.GetTempPath(), "seg-tenants-" + Guid.NewGuid().ToString("N"));
        try
        {
            var server = await TestServer.StartAsync(data);
            try
            {
                await IngestShopAsync(server, "shop-a", "a", s_shopA);
                await IngestShopAsync(server, "shop-b", "b", s_shopB);

                // Rule segments are the tenant's own.
                var adminA = new AdminService.AdminServiceClient(Invoker(server, "shop-a"));
                await adminA.CreateRuleSegmentAsync(new CreateRuleSegmentRequest { Id = "big", Name = "big spenders", Expression = "monetary > 1" });
                Assert.Single((await adminA.ListRuleSegmentsAsync(new ListRuleSegmentsRequest())).Rules);
                Assert.Empty((await new AdminService.AdminServiceClient(Invoker(server, "shop-b")).ListRuleSegmentsAsync(new ListRuleSegmentsRequest())).Rules);
                Assert.Empty((await new AdminService.AdminServiceClient(server.Client).ListRuleSegmentsAsync(new ListRuleSegmentsRequest())).Rules);

                await AssertIsolatedAsync(server, rules: true);

                // Tenant default has no user u1; a bad tenant id is INVALID_ARGUMENT naming the header.
                var missing = await Assert.ThrowsAsync<RpcException>(() => new ProfileService.ProfileServiceClient(server.Client).GetProfileAsync(new GetProfileRequest { UserId = "u1" }).ResponseAsync);
                Assert.Equal(StatusCode.NotFound, missing.StatusCode);
                var bad = await Assert.ThrowsAsync<RpcException>(() => new ProfileService.ProfileServiceClient(Invoker(server, "Shop_A")).GetProfileAsync(new GetProfileRequest { UserId = "u1" }).ResponseAsync);
                Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
                Assert.StartsWith(CallTenant.Header + ":", bad.Status.Detail, StringComparison.Ordinal);

                // The user encoder serves the whole deployment: tenant default only may train or activate one.
                var denied = await Assert.ThrowsAsync<RpcException>(() => adminA.TrainModelAsync(new TrainModelRequest { Activate = true }).ResponseAsync);
                Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
            }
            finally
            {
                // Stopped, not disposed: the data folder stays for the restart.
                await server.StopAsync();
            }

            // A restart rebuilds each tenant's recommenders and clock from the log, still apart.
            await using (var restarted = await TestServer.StartAsync(data))
            {
                await AssertIsolatedAsync(restarted, rules: true);

                // Erasing u1 of shop-a leaves shop-b's u1 whole, and shop-b's "bought together" untouched.
                await new PrivacyService.PrivacyServiceClient(Invoker(restarted, "shop-a")).EraseUserAsync(new EraseUserRequest { UserId = "u1" });
                var erased = await Assert.ThrowsAsync<RpcException>(() => new ProfileService.ProfileServiceClient(Invoker(restarted, "shop-a")).GetProfileAsync(new GetProfileRequest { UserId = "u1" }).ResponseAsync);
                Assert.Equal(StatusCode.NotFound, erased.StatusCode);
                var kept = await new ProfileService.ProfileServiceClient(Invoker(restarted, "shop-b")).GetProfileAsync(new GetProfileRequest { UserId = "u1" });
                Assert.Equal((2L, 2L), (kept.EventCount, kept.Orders));
                var similarB = await new RecommendationService.RecommendationServiceClient(Invoker(restarted, "shop-b")).SimilarItemsAsync(new SimilarItemsRequest { ItemId = "b-1", Count = 10 });
                Assert.Equal("b-2", similarB.Items[0].ItemId);
            }
        }
        finally
        {
            TestServer.TryDelete(data);
        }
    }

    [Fact]
    public async Task KeyOfTenantB_CannotReadTenantA()
    {
        await using var server = await KeyedServer.StartAsync();
        var keyA = await server.CreateKeyAsync("shop-a", AccessScope.All);
        var keyB = await server.CreateKeyAsync("shop-b", AccessScope.All);
        await new EventService.EventServiceClient(server.Invoker(keyA)).IngestEventsAsync(Events.Batch(Events.Make("e1", "u1", EventType.Purchase, s_shopA, "a-1")));

        var profileA = await new ProfileService.ProfileServiceClient(server.Invoker(keyA)).GetProfileAsync(new GetProfileRequest { UserId = "u1" });
        Assert.Equal(1, profileA.Orders);

        // Key B sees its own tenant, where u1 has no events...
        var own = await Assert.ThrowsAsync<RpcException>(() => new ProfileService.ProfileServiceClient(server.Invoker(keyB)).GetProfileAsync(new GetProfileRequest { UserId = "u1" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, own.StatusCode);
        // ...and naming tenant A is refused.
        var headers = new Metadata { { CallTenant.Header, "shop-a" } };
        var foreign = await Assert.ThrowsAsync<RpcException>(() => new ProfileService.ProfileServiceClient(server.Invoker(keyB)).GetProfileAsync(new GetProfileRequest { UserId = "u1" }, headers).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, foreign.StatusCode);
        Assert.Contains("shop-b", foreign.Status.Detail, StringComparison.Ordinal);
        var similar = await Assert.ThrowsAsync<RpcException>(() => new RecommendationService.RecommendationServiceClient(server.Invoker(keyB)).SimilarItemsAsync(new SimilarItemsRequest { ItemId = "a-1", Count = 5 }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, similar.StatusCode);

        // Key A naming its own tenant is served as without the header.
        var named = new Metadata { { CallTenant.Header, "shop-a" } };
        Assert.Equal(1, (await new ProfileService.ProfileServiceClient(server.Invoker(keyA)).GetProfileAsync(new GetProfileRequest { UserId = "u1" }, named)).Orders);
    }

    [Fact]
    public async Task DemoShop_InItsOwnTenant_HasEveryModel_AndARealFileKeepsItsOwnClockLifecycleRecommendationsSegmentsAndModels()
    {
        await using var server = await TestServer.StartAsync();

        // The first run: the synthetic shop seeded into tenant demo and every model trained on it (what ./run.sh does).
        var demo = await ShopSeeder.SeedIfEmptyAsync(server.Server, 300, NullLogger.Instance, CancellationToken.None, tenant: "demo");
        Assert.NotNull(demo);
        var firstRun = new StringWriter();
        await ShopModels.TrainAsync(server.Server, "demo", firstRun);
        _output.WriteLine(firstRun.ToString());
        Assert.DoesNotContain("No ", firstRun.ToString(), StringComparison.Ordinal);

        // Tenant demo shows what a newcomer saw before tenants: ML segments with unique labels, value segments, churn
        // risk and anomaly scores.
        var demoSegments = new SegmentService.SegmentServiceClient(Invoker(server, "demo"));
        var demoList = await demoSegments.ListSegmentsAsync(new ListSegmentsRequest());
        Assert.True(demoList.ModelVersion > 0 && demoList.Segments.Count >= 2, $"demo segmentation v{demoList.ModelVersion}, {demoList.Segments.Count} segments");
        Assert.Equal(demoList.Segments.Count, demoList.Segments.Select(x => x.Label).Distinct().Count());
        var demoUser = demo.ExampleUsers.Values.First();
        var demoView = await demoSegments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = demoUser });
        Assert.NotNull(demoView.MlSegment);
        Assert.NotNull(demoView.Churn);
        Assert.NotNull(demoView.Anomaly);
        var buyers = 0;
        foreach (var user in demo.ExampleUsers.Values)
        {
            buyers += (await demoSegments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = user })).ValueSegment is null ? 0 : 1;
        }

        Assert.True(buyers > 0, "no example user of the demo has a value segment");
        // The demo keeps its own "now" (its history ends a minute before it was seeded).
        Assert.True(demoView.AsOf.ToDateTimeOffset() > DateTimeOffset.UtcNow.AddDays(-1), $"demo as of {demoView.AsOf}");

        // Tenant default has none of it.
        Assert.Equal(0, (await new SegmentService.SegmentServiceClient(server.Client).ListSegmentsAsync(new ListSegmentsRequest())).ModelVersion);

        // A slice of the real Online Retail sample (December 2010) into tenant default, as `seg ingest` sends it.
        var path = Path.Combine(Repository.Datasets, "online-retail-sample", "online_retail.first19999.csv.gz");
        var batch = new IngestEventsRequest();
        await foreach (var e in EventFileReader.ReadAsync(path, EventFileFormat.OnlineRetail, CancellationToken.None))
        {
            if (batch.Events.Count == 4_000)
            {
                break;
            }

            batch.Events.Add(e);
        }

        var ingested = await new EventService.EventServiceClient(server.Client).IngestEventsAsync(batch);
        Assert.True(ingested.Accepted > 1_000, $"accepted {ingested.Accepted}");
        var allCustomers = batch.Events.Where(e => e.UserId.Length > 0).Select(e => e.UserId).Distinct().ToList();
        var customers = allCustomers.Take(50).ToList();

        // Their lifecycle is as of their own last event (December 2010), not the demo's "now" (no "last activity 2,622
        // days ago").
        var request = new BatchGetUserSegmentsRequest();
        request.UserIds.Add(customers);
        var segments = await new SegmentService.SegmentServiceClient(server.Client).BatchGetUserSegmentsAsync(request);
        Assert.Equal(customers.Count, segments.Users.Count);
        var last = segments.Users[0].AsOf.ToDateTimeOffset();
        var newest = batch.Events.Where(e => e.UserId.Length > 0).Max(e => e.Timestamp.ToDateTimeOffset());
        Assert.True(last.Year == 2010 && last.Month == 12 && last <= newest, $"as of {last:u}, newest row {newest:u}");
        Assert.All(segments.Users, u => Assert.Equal(last, u.AsOf.ToDateTimeOffset()));
        Assert.All(segments.Users, u => Assert.NotEqual(LifecycleStage.Churned, u.Lifecycle.Stage));
        // No model of the demo's reaches them: until tenant default is clustered and trained, they have none.
        Assert.All(segments.Users, u => Assert.True(u.MlSegment is null && u.Churn is null && u.Anomaly is null && u.ValueSegment is null, u.UserId));
        var notInDefault = await Assert.ThrowsAsync<RpcException>(() => new SegmentService.SegmentServiceClient(server.Client).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = demoUser }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, notInDefault.StatusCode);

        // No demo item (sku-*) in their recommendations...
        var recommendations = new RecommendationService.RecommendationServiceClient(server.Client);
        var items = new List<string>();
        foreach (var customer in customers.Take(20))
        {
            items.AddRange((await recommendations.RecommendAsync(new RecommendRequest { UserId = customer, Count = 10 })).Items.Select(i => i.ItemId));
        }

        Assert.NotEmpty(items);
        Assert.DoesNotContain(items, i => i.StartsWith("sku-", StringComparison.Ordinal));

        // ...nor in the statistics of tenant default's own ML segments, which `seg recluster` makes over the shared encoder.
        var admin = new AdminService.AdminServiceClient(server.Client);
        var reclustered = await admin.ReclusterAsync(new ReclusterRequest { K = 0, KMin = 2, KMax = 6 });
        Assert.True(reclustered.Published && reclustered.Users >= customers.Count && reclustered.Users <= allCustomers.Count, $"clustered {reclustered.Users} users of {allCustomers.Count}");
        var segmentClient = new SegmentService.SegmentServiceClient(server.Client);
        var defaultList = await segmentClient.ListSegmentsAsync(new ListSegmentsRequest());
        Assert.Equal(reclustered.Users, defaultList.Segments.Sum(x => x.Size));
        var topItems = new List<string>();
        foreach (var summary in defaultList.Segments)
        {
            topItems.AddRange((await segmentClient.GetSegmentAsync(new GetSegmentRequest { SegmentId = summary.SegmentId })).TopItems.Select(i => i.ItemId));
        }

        _output.WriteLine($"{ingested.Accepted} real events as of {last:u}; default: {reclustered.K} ML segments over {reclustered.Users} users ({reclustered.Criterion}); top items {string.Join(", ", topItems.Take(10))}");
        Assert.NotEmpty(topItems);
        Assert.DoesNotContain(topItems, i => i.StartsWith("sku-", StringComparison.Ordinal));

        // Tenant default's models are its own: its value segmentation counts its buyers only, and the demo's models are
        // as they were (same segmentation, same users in it).
        var value = await admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest());
        Assert.True(value.Customers <= allCustomers.Count, $"value segmentation over {value.Customers} buyers, default has {allCustomers.Count} customers");
        var demoAfter = await demoSegments.ListSegmentsAsync(new ListSegmentsRequest());
        Assert.Equal(demoList.Segments.Sum(x => x.Size), demoAfter.Segments.Sum(x => x.Size));
        Assert.Equal(demoList.Segments.Select(x => x.SegmentId), demoAfter.Segments.Select(x => x.SegmentId));
        Assert.Equal(demoView.ValueSegment?.ModelVersion, (await demoSegments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = demoUser })).ValueSegment?.ModelVersion);
        var customerView = await segmentClient.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = customers[0] });
        Assert.NotNull(customerView.MlSegment);
        Assert.Contains(customerView.MlSegment.SegmentId, defaultList.Segments.Select(x => x.SegmentId));
    }

    [Fact]
    public async Task ListSegments_BusinessMetricsOfTenantA_CountNoUserOfTenantB_AndErasureRemovesHerFromHerTenantOnly()
    {
        await using var server = await TestServer.StartAsync();
        var recent = DateTimeOffset.UtcNow.AddHours(-1);

        // Tenant A: u0–u9 buy twice for 200, u10–u24 once for 50, u25–u29 only look. Tenant B: the same ids u0–u39, each
        // one order of 500 (every one of them would match A's rule, and B has twice A's revenue).
        var eventsA = new List<Event>();
        for (var u = 0; u < 30; u++)
        {
            var orders = u < 10 ? 2 : u < 25 ? 1 : 0;
            for (var o = 0; o < orders; o++)
            {
                eventsA.Add(Events.Make($"a-{u}-{o}", $"u{u}", EventType.Purchase, recent.AddDays(-(u % 7) - o), "a-1", price: u < 10 ? 200 : 50));
            }

            if (orders == 0)
            {
                eventsA.Add(Events.Make($"a-{u}-view", $"u{u}", EventType.View, recent.AddDays(-(u % 7)), "a-2"));
            }
        }

        // A's own rule (B has none), defined first: each refresh records the rules she matches then.
        var adminA = new AdminService.AdminServiceClient(Invoker(server, "shop-a"));
        await adminA.CreateRuleSegmentAsync(new CreateRuleSegmentRequest { Id = "big", Name = "big spenders", Expression = "monetary > 300" });
        var eventsB = Enumerable.Range(0, 40).Select(u => Events.Make($"b-{u}", $"u{u}", EventType.Purchase, recent.AddDays(-(u % 5)), "b-1", price: 500)).ToArray();
        Assert.Equal(eventsA.Count, (await new EventService.EventServiceClient(Invoker(server, "shop-a")).IngestEventsAsync(Events.Batch([.. eventsA]))).Accepted);
        Assert.Equal(eventsB.Length, (await new EventService.EventServiceClient(Invoker(server, "shop-b")).IngestEventsAsync(Events.Batch(eventsB))).Accepted);

        // A's own value segmentation (B has none), trained on its events.
        var valueA = await adminA.TrainValueSegmentsAsync(new TrainValueSegmentsRequest());
        Assert.Equal(25, valueA.Customers);

        var segmentsA = new SegmentService.SegmentServiceClient(Invoker(server, "shop-a"));
        var segmentsB = new SegmentService.SegmentServiceClient(Invoker(server, "shop-b"));
        // Each user's refresh (shortly after her events) records her: wait until both tenants count at least all of theirs.
        ListSegmentsResponse listedA = null!, listedB = null!;
        for (var i = 0; i < 200; i++)
        {
            listedA = await segmentsA.ListSegmentsAsync(new ListSegmentsRequest());
            listedB = await segmentsB.ListSegmentsAsync(new ListSegmentsRequest());
            if (listedA.Shop.Users >= 30 && listedB.Shop.Users >= 40 && listedA.RuleSegments.Sum(r => r.Size) >= 10)
            {
                break;
            }

            await Task.Delay(100);
        }

        // A: its 30 users, its orders and spend only.
        Assert.Equal(30, listedA.Shop.Users);
        Assert.Equal(25 / 30.0, listedA.Shop.ConversionRate, 12);
        Assert.Equal((20 * 200 + 15 * 50) / 35.0, listedA.Shop.AverageOrderValue, 9);
        Assert.Equal(30, listedA.LifecycleSegments.Sum(s => s.Size));
        Assert.Equal(valueA.Version, listedA.ValueModelVersion);
        Assert.Equal(25, listedA.ValueSegments.Sum(s => s.Size));
        Assert.Equal(1.0, listedA.ValueSegments.Sum(s => s.Metrics.RevenueShare), 9);
        var big = Assert.Single(listedA.RuleSegments);
        Assert.Equal(("rule:big", 10L), (big.SegmentId, big.Size));
        Assert.Equal(20 * 200 / (20 * 200 + 15 * 50.0), big.Metrics.RevenueShare, 9);
        Assert.Equal(2.0, big.Metrics.PurchaseFrequency, 12);

        // B: its 40 users, none of A's, against no value segmentation and no rule of A's.
        Assert.Equal(40, listedB.Shop.Users);
        Assert.Equal(1.0, listedB.Shop.ConversionRate, 12);
        Assert.Equal(500.0, listedB.Shop.AverageOrderValue, 9);
        Assert.Equal(40, listedB.LifecycleSegments.Sum(s => s.Size));
        Assert.Equal("", listedB.ValueModelVersion);
        Assert.Empty(listedB.ValueSegments);
        Assert.Empty(listedB.RuleSegments);

        // Tenant default has no user at all.
        var listedDefault = await new SegmentService.SegmentServiceClient(server.Client).ListSegmentsAsync(new ListSegmentsRequest());
        Assert.Equal(0, listedDefault.Shop.Users);
        Assert.Empty(listedDefault.RuleSegments);

        // Erasing A's u0 (a big spender) takes her out of A's metrics; B's u0 is still counted.
        await new PrivacyService.PrivacyServiceClient(Invoker(server, "shop-a")).EraseUserAsync(new EraseUserRequest { UserId = "u0" });
        listedA = await segmentsA.ListSegmentsAsync(new ListSegmentsRequest());
        listedB = await segmentsB.ListSegmentsAsync(new ListSegmentsRequest());
        Assert.Equal(29, listedA.Shop.Users);
        Assert.Equal(9, Assert.Single(listedA.RuleSegments).Size);
        Assert.Equal(40, listedB.Shop.Users);
        Assert.Equal(500.0, listedB.Shop.AverageOrderValue, 9);
    }

    // Three users per tenant, the same ids in both: u1 and u2 buy items 1 and 2 together, u3 views item 3. Items are
    // named by the tenant ("a-1", "b-1"), categories too; tenant A's events are in 2020, tenant B's in 2012.
    private static async Task IngestShopAsync(TestServer server, string tenant, string prefix, DateTimeOffset start)
    {
        var events = new List<Event>();
        var n = 0;
        foreach (var (user, item, type) in new[] { ("u1", 1, EventType.Purchase), ("u1", 2, EventType.Purchase), ("u2", 1, EventType.Purchase), ("u2", 2, EventType.Purchase), ("u3", 3, EventType.View), ("u2", 3, EventType.View) })
        {
            events.Add(Events.Make($"e{n}", user, type, start.AddHours(n), $"{prefix}-{item}", price: 5, category: prefix + ".things"));
            n++;
        }

        var response = await new EventService.EventServiceClient(Invoker(server, tenant)).IngestEventsAsync(Events.Batch([.. events]));
        Assert.True(events.Count == response.Accepted, string.Join("; ", response.Results.Select(r => $"{r.Outcome} {r.Field} {r.Reason}")));
    }

    private static async Task AssertIsolatedAsync(TestServer server, bool rules)
    {
        foreach (var (tenant, prefix, start) in new[] { ("shop-a", "a", s_shopA), ("shop-b", "b", s_shopB) })
        {
            var invoker = Invoker(server, tenant);
            var profile = await new ProfileService.ProfileServiceClient(invoker).GetProfileAsync(new GetProfileRequest { UserId = "u1" });
            Assert.Equal((2L, 2L, 10.0), (profile.EventCount, profile.Orders, profile.Spend));
            Assert.All(profile.RecentItems, i => Assert.StartsWith(prefix + "-", i.ItemId, StringComparison.Ordinal));
            Assert.All(profile.TopCategories, c => Assert.True(c.Category == prefix || c.Category.StartsWith(prefix + ".", StringComparison.Ordinal), c.Category));

            // Each tenant's "now" is its own newest event.
            var segments = await new SegmentService.SegmentServiceClient(invoker).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "u1" });
            Assert.Equal(start.AddHours(5), segments.AsOf.ToDateTimeOffset());
            Assert.Equal(rules && tenant == "shop-a" ? new[] { "big" } : [], segments.RuleSegments.Select(r => r.Id).ToArray());

            // u1 has bought 1 and 2; her tenant's u2 bought them and viewed 3: only this tenant's items come back.
            var recommendations = new RecommendationService.RecommendationServiceClient(invoker);
            var forU1 = await recommendations.RecommendAsync(new RecommendRequest { UserId = "u1", Count = 10 });
            Assert.NotEmpty(forU1.Items);
            Assert.All(forU1.Items, i => Assert.StartsWith(prefix + "-", i.ItemId, StringComparison.Ordinal));
            var similar = await recommendations.SimilarItemsAsync(new SimilarItemsRequest { ItemId = prefix + "-1", Count = 10 });
            Assert.Equal(prefix + "-2", similar.Items[0].ItemId);
            Assert.All(similar.Items, i => Assert.StartsWith(prefix + "-", i.ItemId, StringComparison.Ordinal));
            var other = prefix == "a" ? "b-1" : "a-1";
            var unknown = await Assert.ThrowsAsync<RpcException>(() => recommendations.SimilarItemsAsync(new SimilarItemsRequest { ItemId = other, Count = 10 }).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

            // Her export (Art. 15/20) is this tenant's u1: her two events and this tenant's items, never the other's.
            var export = await new PrivacyService.PrivacyServiceClient(invoker).ExportUserAsync(new ExportUserRequest { UserId = "u1" });
            Assert.Equal(2, export.Events);
            Assert.Contains($"\"{prefix}-1\"", export.Document, StringComparison.Ordinal);
            Assert.DoesNotContain($"\"{other}\"", export.Document, StringComparison.Ordinal);
            Assert.DoesNotContain(prefix == "a" ? "\"b-2\"" : "\"a-2\"", export.Document, StringComparison.Ordinal);
        }
    }

    private static CallInvoker Invoker(TestServer server, string tenant) =>
        server.Client.Intercept(metadata =>
        {
            metadata.Add(CallTenant.Header, tenant);
            return metadata;
        });
}
