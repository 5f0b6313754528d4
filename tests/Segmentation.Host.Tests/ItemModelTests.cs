using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Host.Recommendations;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The served item model over a real silo: trained from the log by its grain, stored with its tuned blend weights,
/// served (a purchase still changes the very next answer), loaded again at restart, retrained on its reminder, and a
/// broken stored version refused while the one in force keeps serving.
/// </summary>
public sealed class ItemModelTests
{
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-3);

    // Generous: a guard against hanging, not a timing assertion.
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(3);

    private int _nextEvent;

    [Fact]
    public async Task TrainedModel_IsStoredWithTunedWeights_Served_AndLoadedAgainAtRestart()
    {
        var server = await TestServer.StartAsync(null, "--Segmentation:Recommendations:ItemModel:MinUsers=5");
        try
        {
            await IngestShopAsync(server);
            var recommender = server.Server.Services.GetRequiredService<LiveRecommender>();
            Assert.Null(recommender.ItemModel);

            var version = await server.Server.Grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant).TrainAsync();
            Assert.Equal(1, version);
            var manifest = recommender.ItemModel;
            Assert.NotNull(manifest);
            Assert.Equal(1, manifest.Version);
            Assert.Equal(1, manifest.BlendWeights["ease"]);
            Assert.Equal(["ease", "coOccurrence", "recentlyViewed", "popularity"], manifest.BlendWeights.Keys);
            Assert.True(manifest.ValidationCases > 0);
            Assert.Equal(manifest.Items * manifest.Items * 4L, manifest.WeightBytes);

            // Tuned with the weights and recorded: recency's half-life and the personal ranking, whose category cap keeps
            // her top category from filling the list.
            Assert.True(manifest.RecentlyViewedHalfLife > TimeSpan.Zero);
            Assert.True(manifest.AffinityBoost >= 0);
            Assert.InRange(manifest.MaxCategoryShare ?? 0, 0.5, 0.8);
            var folder = Path.Combine(server.DataDirectory, "models", "recommender", "1");
            Assert.True(File.Exists(Path.Combine(folder, "model.json")));
            Assert.Contains("\"blendWeights\"", await File.ReadAllTextAsync(Path.Combine(folder, "model.json")), StringComparison.Ordinal);

            // Freshness with the model served: the purchase goes, and the next answer changes.
            await IngestAsync(server, View("fresh", "home-1", "home.kitchen", 40), View("fresh", "home-2", "home.kitchen", 40));
            var before = await RecommendAsync(server, "fresh");
            Assert.Contains(before.Items, x => x.ItemId == "home-3");
            await IngestAsync(server, Buy("fresh", "home-3", "home.kitchen", 41));
            var after = await RecommendAsync(server, "fresh");
            Assert.DoesNotContain(after.Items, x => x.ItemId == "home-3");
            Assert.NotEqual(before.Items.Select(x => (x.ItemId, x.Score)), after.Items.Select(x => (x.ItemId, x.Score)));

            // Restart: the stored version is served again (no training at start), and answers the same.
            await server.StopAsync();
            server = await TestServer.StartAsync(server.DataDirectory, "--Segmentation:Recommendations:ItemModel:MinUsers=5");
            recommender = server.Server.Services.GetRequiredService<LiveRecommender>();
            Assert.Equal(1, recommender.ItemModel?.Version);
            var restarted = await RecommendAsync(server, "fresh");
            Assert.Equal(after.Items.Select(x => (x.ItemId, x.Reason.Text)), restarted.Items.Select(x => (x.ItemId, x.Reason.Text)));

            // A broken newer version is refused; version 1 keeps serving.
            var broken = Path.Combine(server.DataDirectory, "models", "recommender", "2");
            Directory.CreateDirectory(broken);
            await File.WriteAllTextAsync(Path.Combine(broken, "model.json"), "{\"version\": 2, \"blendWeights\": {\"ease\": 1}}");
            await File.WriteAllTextAsync(Path.Combine(broken, "ease.bin"), "not a model");
            await server.Server.Services.GetRequiredService<ItemModels>().LoadNewestAsync();
            Assert.Equal(1, recommender.ItemModel?.Version);
            Assert.NotEmpty((await RecommendAsync(server, "fresh")).Items);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task StoredVersion_IsWhatEverySiloLoads_AndABrokenOneIsRefused()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Recommendations:ItemModel:MinUsers=5");
        await IngestShopAsync(server);
        Assert.Equal(1, await server.Server.Grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant).TrainAsync());
        var store = server.Server.Services.GetRequiredService<Segmentation.Storage.ISnapshotStore>();
        var models = server.Server.Services.GetRequiredService<ItemModels>();
        var stored = await store.ReadAsync(models.Store.Key, CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal(1, stored.Sequence);

        // Another silo's version 2 in the store is loaded here, though no folder of this process holds it.
        var recommender = server.Server.Services.GetRequiredService<LiveRecommender>();
        var manifest = recommender.ItemModel! with { Version = 2 };
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase });
        var weights = stored.Data[(sizeof(int) + System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(stored.Data.Span))..];
        var value = new byte[sizeof(int) + json.Length + weights.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(value, json.Length);
        json.CopyTo(value, sizeof(int));
        weights.CopyTo(value.AsMemory(sizeof(int) + json.Length));
        await Segmentation.Storage.SnapshotOverwrite.OverwriteAsync(store, models.Store.Key, value, 2, CancellationToken.None);
        await models.LoadNewestAsync();
        Assert.Equal(2, recommender.ItemModel?.Version);
        Assert.False(Directory.Exists(Path.Combine(models.Store.Root, "2")));

        // A broken version 3 is refused; version 2 keeps serving, and the next training follows the store's number.
        await Segmentation.Storage.SnapshotOverwrite.OverwriteAsync(store, models.Store.Key, "not a model"u8.ToArray(), 3, CancellationToken.None);
        await models.LoadNewestAsync();
        Assert.Equal(2, recommender.ItemModel?.Version);
        Assert.NotEmpty((await RecommendAsync(server, "home-0")).Items);
        Assert.Equal(4, await server.Server.Grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant).TrainAsync());
        Assert.Equal(4, recommender.ItemModel?.Version);
    }

    [Fact]
    public async Task Reminder_TrainsWithoutAnAdminCall_AndAgainEachPeriod()
    {
        await using var server = await TestServer.StartAsync(
            null,
            "--Segmentation:Recommendations:ItemModel:MinUsers=5",
            "--Segmentation:Recommendations:ItemModel:RefreshEvery=00:00:01",
            "--Segmentation:Silo:MinimumReminderPeriod=00:00:01");
        await IngestShopAsync(server);
        var recommender = server.Server.Services.GetRequiredService<LiveRecommender>();
        using var timeout = new CancellationTokenSource(s_patience);
        while ((recommender.ItemModel?.Version ?? 0) < 2)
        {
            await Task.Delay(100, timeout.Token);
        }

        Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "models", "recommender", "2")));
    }

    [Fact]
    public async Task Training_RunsOffTheGrainsTurn_TheGrainAnswersMeanwhile_AndARequestDuringItJoinsIt()
    {
        // A shop large enough that a training takes a while (seconds: the tuning and two EASEᴿ fits of ~1,000 items).
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Recommendations:ItemModel:MinUsers=5");
        var shop = new Segmentation.Host.Seeding.SyntheticShop(seed: 7, end: TimeProvider.System.GetUtcNow().AddMinutes(-1));
        foreach (var chunk in Enumerable.Range(0, 200).SelectMany(shop.UserEvents).Chunk(2_000))
        {
            await IngestAsync(server, chunk);
        }

        var grain = server.Server.Grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant);
        Assert.Equal(new ItemModelStatus(false, null, 0, 0), await grain.GetStatusAsync().WaitAsync(s_patience));

        // While the training runs, the status answers (it says so): before, the grain's turn was the training, and a
        // status call would have waited for its end and said "not training".
        var first = grain.TrainAsync();
        using var deadline = new CancellationTokenSource(s_patience);
        ItemModelStatus status;
        do
        {
            status = await grain.GetStatusAsync().WaitAsync(deadline.Token);
        }
        while (!status.Training && !first.IsCompleted);

        Assert.True(status.Training, "the status call never answered while the training ran");
        Assert.NotNull(status.TrainingSince);
        Assert.Equal(0, status.ServedVersion);

        // A second request meanwhile starts no second training: it gets the running one's version.
        var second = grain.TrainAsync();
        Assert.Equal(1, await first.WaitAsync(s_patience));
        Assert.Equal(1, await second.WaitAsync(s_patience));
        Assert.Equal(new ItemModelStatus(false, null, 1, 1), await grain.GetStatusAsync().WaitAsync(s_patience));
        Assert.Equal(1, server.Server.Services.GetRequiredService<LiveRecommender>().ItemModel?.Version);

        // The next request, after it, trains again.
        Assert.Equal(2, await grain.TrainAsync().WaitAsync(s_patience));
        Assert.Equal(2, (await grain.GetStatusAsync().WaitAsync(s_patience)).Trainings);
    }

    [Fact]
    public async Task TooLittleData_TrainsNothing_AndRecommendationsStillAnswer()
    {
        await using var server = await TestServer.StartAsync(null);
        await IngestAsync(server, View("lonely", "home-1", "home.kitchen", 1), View("lonely", "home-2", "home.kitchen", 2));
        Assert.Equal(0, await server.Server.Grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant).TrainAsync());
        Assert.Null(server.Server.Services.GetRequiredService<LiveRecommender>().ItemModel);
        Assert.NotEmpty((await RecommendAsync(server, "lonely")).Items);
    }

    [Fact]
    public async Task AModelOfMoreItemsThanDenseMaxItems_IsPruned_RecordedAsSuch_AndServedAgainFromTheStore()
    {
        // The shop below has 12 items: one more than served dense.
        string[] settings =
        [
            "--Segmentation:Recommendations:ItemModel:MinUsers=5",
            "--Segmentation:Recommendations:ItemModel:DenseMaxItems=11",
            "--Segmentation:Recommendations:ItemModel:Neighbours=3",
        ];
        var server = await TestServer.StartAsync(null, settings);
        try
        {
            await IngestShopAsync(server);
            Assert.Equal(1, await server.Server.Grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant).TrainAsync());
            var manifest = server.Server.Services.GetRequiredService<LiveRecommender>().ItemModel;
            Assert.NotNull(manifest);
            Assert.Equal(12, manifest.Items);
            Assert.Equal(3, manifest.Neighbours);
            Assert.Equal(12 * 3 * 8L, manifest.WeightBytes);

            var models = server.Server.Services.GetRequiredService<ItemModels>();
            var stored = await server.Server.Services.GetRequiredService<Segmentation.Storage.ISnapshotStore>().ReadAsync(models.Store.Key, CancellationToken.None);
            Assert.NotNull(stored);
            var model = stored.Data[(sizeof(int) + System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(stored.Data.Span))..];
            Assert.Equal("EASE2"u8.ToArray(), model[..5].ToArray());

            var before = await RecommendAsync(server, "home-0");
            Assert.NotEmpty(before.Items);
            await server.StopAsync();
            server = await TestServer.StartAsync(server.DataDirectory, settings);
            Assert.Equal(3, server.Server.Services.GetRequiredService<LiveRecommender>().ItemModel?.Neighbours);
            var after = await RecommendAsync(server, "home-0");
            // The same items and reasons (scores decay with the clock between the two calls).
            Assert.Equal(before.Items.Select(x => (x.ItemId, x.Reason.Text)), after.Items.Select(x => (x.ItemId, x.Reason.Text)));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public void TheServedModel_IsDenseUpToDenseMaxItems_AndPrunedAbove()
    {
        var pairs = Enumerable.Range(0, 30).SelectMany(u => Enumerable.Range(0, 4).Select(k => ($"u{u}", $"item-{(u + k) % 10}"))).ToArray();

        var dense = ItemModelTrainer.TrainEase(pairs, new() { DenseMaxItems = 10, Neighbours = 2 });
        var pruned = ItemModelTrainer.TrainEase(pairs, new() { DenseMaxItems = 9, Neighbours = 2 });
        var all = ItemModelTrainer.TrainEase(pairs, new() { DenseMaxItems = 0, Neighbours = 20 });

        Assert.Equal((10, 0, 400L), (dense.ItemCount, dense.Neighbours, dense.WeightBytes));
        Assert.Equal((10, 2, 160L), (pruned.ItemCount, pruned.Neighbours, pruned.WeightBytes));
        Assert.Equal((10, 9), (all.ItemCount, all.Neighbours));
    }

    // Two tastes: home shoppers view and buy home-1..home-6, toy shoppers toys-1..toys-6, each a different subset.
    private async Task IngestShopAsync(TestServer server)
    {
        var events = new List<Event>();
        for (var u = 0; u < 24; u++)
        {
            var (user, prefix, category) = u % 2 == 0 ? ($"home-{u}", "home", "home.kitchen") : ($"toys-{u}", "toys", "toys.games");
            for (var i = 1; i <= 6; i++)
            {
                if ((u + i) % 4 != 0)
                {
                    events.Add(View(user, $"{prefix}-{i}", category, u + i));
                }

                if ((u + i) % 3 == 0)
                {
                    events.Add(Buy(user, $"{prefix}-{i}", category, u + i + 1));
                }
            }
        }

        await IngestAsync(server, [.. events]);
    }

    private static async Task<RecommendResponse> RecommendAsync(TestServer server, string user) =>
        await server.Client.UnaryAsync<RecommendRequest, RecommendResponse>(
            RecommendationsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("RecommendationService").FindMethodByName("Recommend"),
            new RecommendRequest { UserId = user, Count = 10 });

    private static async Task IngestAsync(TestServer server, params Event[] events)
    {
        var response = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));
        Assert.Equal(events.Length, response.Accepted);
    }

    private Event Buy(string user, string item, string category, int hour) =>
        Events.Make($"m-{Interlocked.Increment(ref _nextEvent)}", user, EventType.Purchase, s_start.AddHours(hour), item, category: category);

    private Event View(string user, string item, string category, int hour) =>
        Events.Make($"m-{Interlocked.Increment(ref _nextEvent)}", user, EventType.View, s_start.AddHours(hour), item, category: category);
}
