using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// RecommendationService over real gRPC on a small shop: campers buy tents with stoves, readers buy books in pairs,
/// and everybody buys milk now and then. Freshness, filters, reasons, cold start, bad requests, restart.
/// </summary>
public sealed class RecommendationTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-2);
    private TestServer _server = null!;
    private readonly List<Event> _ingested = [];
    private int _nextEvent;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(
            null,
            "--Segmentation:Recommendations:RepurchasableCategories:0=grocery",
            "--Segmentation:Recommendations:Placements:home:MaxPerCategory=1",
            "--Segmentation:Recommendations:Placements:kids:ExcludedCategories:0=outdoor",
            "--Segmentation:Recommendations:Placements:plain:Personalized=false");
        var shop = new List<Event>();
        for (var i = 0; i < 6; i++)
        {
            shop.Add(Buy($"camper-{i}", "tent", "outdoor.camping", i));
            shop.Add(Buy($"camper-{i}", "stove", "outdoor.camping", i));
            shop.Add(Buy($"camper-{i}", "milk", "grocery.dairy", i));
            if (i % 2 == 0)
            {
                shop.Add(Buy($"camper-{i}", "lamp", "outdoor.lighting", i));
            }

            shop.Add(Buy($"reader-{i}", "book-a", "books.novels", i));
            shop.Add(Buy($"reader-{i}", "book-b", "books.novels", i));
            shop.Add(Buy($"reader-{i}", "milk", "grocery.dairy", i));
            if (i < 3)
            {
                shop.Add(Buy($"reader-{i}", "puzzle", "toys.games", i));
            }
        }

        await IngestAsync([.. shop]);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Purchase_ChangesTheVeryNextRecommendation_BoughtItemGoesAndItsCompanionsRise()
    {
        await IngestAsync(View("me", "tent", "outdoor.camping", 10), View("me", "book-a", "books.novels", 10));
        var before = await RecommendAsync(new RecommendRequest { UserId = "me", Count = 10 });
        Assert.Contains(before.Items, x => x.ItemId == "tent"); // viewed, not bought: "you viewed it recently"

        await IngestAsync(Buy("me", "tent", "outdoor.camping", 11));
        var after = await RecommendAsync(new RecommendRequest { UserId = "me", Count = 10 });

        Assert.DoesNotContain(after.Items, x => x.ItemId == "tent");
        var stoveBefore = before.Items.Single(x => x.ItemId == "stove");
        var stoveAfter = after.Items.Single(x => x.ItemId == "stove");
        Assert.True(stoveAfter.Score > stoveBefore.Score, $"stove {stoveBefore.Score} -> {stoveAfter.Score}");
        Assert.Equal("stove", after.Items[0].ItemId);
        Assert.Equal(ReasonKind.BoughtTogether, stoveAfter.Reason.Kind);
        Assert.Equal("tent", stoveAfter.Reason.Cause);
        Assert.Equal("often bought with tent", stoveAfter.Reason.Text);
        Assert.False(after.ColdStart);
    }

    [Fact]
    public async Task Recommend_NeverReturnsPurchasedOrExcludedItems_AndEveryItemHasAReason()
    {
        await IngestAsync(Buy("buyer", "tent", "outdoor.camping", 12), Buy("buyer", "book-a", "books.novels", 12), View("buyer", "lamp", "outdoor.lighting", 12));
        var response = await RecommendAsync(new RecommendRequest
        {
            UserId = "buyer",
            Count = 100,
            Context = new RecommendationContext { ExcludedItemIds = { "stove" } },
        });

        Assert.NotEmpty(response.Items);
        Assert.DoesNotContain(response.Items, x => x.ItemId is "tent" or "book-a" or "stove");
        Assert.All(response.Items, x =>
        {
            Assert.NotEqual(ReasonKind.Unspecified, x.Reason.Kind);
            Assert.False(string.IsNullOrWhiteSpace(x.Reason.Text));
            Assert.True(x.Score > 0);
        });
        Assert.Equal(response.Items.Count, response.Items.Select(x => x.ItemId).Distinct().Count());
        Assert.Equal(response.Items.OrderByDescending(x => x.Score).Select(x => x.ItemId), response.Items.Select(x => x.ItemId));
    }

    [Fact]
    public async Task EveryReason_IsTrue_BoughtWithOnlyForItemsSomeoneBoughtTogether()
    {
        // Window shoppers view kayaks with paddles but never buy both; a kayaker buys a kayak; someone carts a dry bag.
        var window = new List<Event>();
        for (var i = 0; i < 4; i++)
        {
            window.Add(View($"window-{i}", "kayak", "outdoor.water", 20));
            window.Add(View($"window-{i}", "paddle", "outdoor.water", 20));
            window.Add(View($"window-{i}", "tent", "outdoor.camping", 20));
        }

        window.Add(Buy("kayaker", "kayak", "outdoor.water", 21));
        window.Add(Buy("kayaker", "milk", "grocery.dairy", 21));
        window.Add(Events.Make($"r-{Interlocked.Increment(ref _nextEvent)}", "carter", EventType.AddToCart, s_start.AddHours(21), "drybag", category: "outdoor.water"));
        await IngestAsync([.. window]);

        var kayaker = await RecommendAsync(new RecommendRequest { UserId = "kayaker", Count = 20 });
        var paddle = kayaker.Items.Single(x => x.ItemId == "paddle");
        Assert.Equal(ReasonKind.ViewedTogether, paddle.Reason.Kind);
        Assert.Equal("often viewed with kayak", paddle.Reason.Text);
        Assert.Contains(kayaker.Items, x => x.Reason.Kind == ReasonKind.PopularInSegment && x.Reason.Text == "popular with new shoppers");
        var drybag = (await RecommendAsync(new RecommendRequest { UserId = "carter", Count = 20 })).Items.Single(x => x.ItemId == "drybag");
        Assert.Equal(ReasonKind.InCart, drybag.Reason.Kind);
        Assert.Equal("in your cart", drybag.Reason.Text);

        // Every reason of every user, checked against the events ingested: "bought with X" only when one user bought
        // both, "viewed with X" only when one user viewed (or bought) both, and X is an item of hers.
        var users = _ingested.Select(e => e.UserId).Distinct().ToList();
        var bought = users.ToDictionary(u => u, u => _ingested.Where(e => e.UserId == u && e.Type == EventType.Purchase).Select(e => e.ItemId).ToHashSet());
        var engaged = users.ToDictionary(u => u, u => _ingested.Where(e => e.UserId == u).Select(e => e.ItemId).ToHashSet());
        var checkedReasons = 0;
        foreach (var user in users)
        {
            foreach (var x in (await RecommendAsync(new RecommendRequest { UserId = user, Count = 20 })).Items)
            {
                var cause = x.Reason.Cause;
                switch (x.Reason.Kind)
                {
                    case ReasonKind.BoughtTogether:
                        Assert.Contains(cause, engaged[user]);
                        Assert.True(users.Any(u => bought[u].Contains(x.ItemId) && bought[u].Contains(cause)), $"{user}: nobody bought both {x.ItemId} and {cause}");
                        checkedReasons++;
                        break;
                    case ReasonKind.ViewedTogether:
                        Assert.Contains(cause, engaged[user]);
                        Assert.True(users.Any(u => engaged[u].Contains(x.ItemId) && engaged[u].Contains(cause)), $"{user}: nobody viewed both {x.ItemId} and {cause}");
                        break;
                    case ReasonKind.InCart:
                        Assert.Contains(_ingested, e => e.UserId == user && e.ItemId == x.ItemId && e.Type == EventType.AddToCart);
                        Assert.DoesNotContain(x.ItemId, bought[user]);
                        break;
                    case ReasonKind.RecentlyViewed:
                        Assert.Contains(x.ItemId, engaged[user]);
                        break;
                }
            }
        }

        Assert.True(checkedReasons > 0);
    }

    [Fact]
    public async Task InYourCart_OnlyForItemsStillInTheCart_NotAfterRemovalOrPurchase()
    {
        // Four shoppers cart one item each (nobody else touched them, so her cart is the item's strongest source): one
        // keeps the kettle, one takes the mug out, one takes the pan out and puts it back, one buys the tea
        // (repurchasable, so it may still be recommended, but not as "in your cart").
        string[] items = ["kettle", "mug", "pan", "tea"];
        await IngestAsync([.. items.Select(item => Cart($"cart-{item}", EventType.AddToCart, item, item == "tea" ? "grocery.tea" : "home.kitchen", 30))]);
        foreach (var item in items)
        {
            Assert.Equal([item], await InCartAsync($"cart-{item}"));
        }

        await IngestAsync(
            Cart("cart-mug", EventType.RemoveFromCart, "mug", "home.kitchen", 31),
            Cart("cart-pan", EventType.RemoveFromCart, "pan", "home.kitchen", 31),
            Buy("cart-tea", "tea", "grocery.tea", 31),
            Cart("cart-pan", EventType.AddToCart, "pan", "home.kitchen", 32));

        Assert.Equal(["kettle"], await InCartAsync("cart-kettle"));
        Assert.Empty(await InCartAsync("cart-mug"));
        Assert.Equal(["pan"], await InCartAsync("cart-pan"));
        Assert.Empty(await InCartAsync("cart-tea"));
        var tea = (await RecommendAsync(new RecommendRequest { UserId = "cart-tea", Count = 100 })).Items.Single(x => x.ItemId == "tea");
        Assert.NotEqual(ReasonKind.InCart, tea.Reason.Kind); // repurchasable: still recommended, for another reason

        async Task<string[]> InCartAsync(string user) =>
            [.. (await RecommendAsync(new RecommendRequest { UserId = user, Count = 100 })).Items.Where(x => x.Reason.Kind == ReasonKind.InCart).Select(x => x.ItemId)];
    }

    [Fact]
    public async Task Personalised_HerTopCategoryLeadsWithoutFillingTheList_AndAPlacementMayTurnItOff()
    {
        // Six toys, each bought by one user: far less popular than milk, tents and books. The fan bought a kite, so her
        // affinities are all toys.
        string[] toys = ["ball", "yoyo", "blocks", "doll", "top", "kite"];
        await IngestAsync([.. toys.Select((toy, i) => Buy($"toy-buyer-{i}", toy, "toys.outdoor", 40)), Buy("fan", "kite", "toys.outdoor", 41)]);

        var personal = await RecommendAsync(new RecommendRequest { UserId = "fan", Count = 4 });
        var plain = await RecommendAsync(new RecommendRequest { UserId = "fan", Count = 4, Context = new RecommendationContext { Placement = "plain" } });

        Assert.Equal(4, personal.Items.Count);
        Assert.Equal(2, Toys(personal)); // her category leads, capped at half of the list
        Assert.StartsWith("toys.", personal.Items[0].Category, StringComparison.Ordinal);
        Assert.Equal(0, Toys(plain)); // the head items of other categories, as before personalisation
        Assert.DoesNotContain(personal.Items, x => x.ItemId == "kite");

        static int Toys(RecommendResponse response) => response.Items.Count(x => x.Category.StartsWith("toys.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RepurchasableCategory_MayBeRecommendedAgainAfterPurchase()
    {
        await IngestAsync(Buy("regular", "milk", "grocery.dairy", 13), Buy("regular", "book-b", "books.novels", 13));
        var response = await RecommendAsync(new RecommendRequest { UserId = "regular", Count = 20 });
        Assert.Contains(response.Items, x => x.ItemId == "milk");
        Assert.DoesNotContain(response.Items, x => x.ItemId == "book-b");
    }

    [Fact]
    public async Task Placement_CapsItemsPerCategory_AndExcludesOutOfScopeCategories()
    {
        await IngestAsync(View("browser", "tent", "outdoor.camping", 14), View("browser", "book-a", "books.novels", 14));
        var plain = await RecommendAsync(new RecommendRequest { UserId = "browser", Count = 20 });
        Assert.True(plain.Items.Count(x => x.Category.StartsWith("outdoor", StringComparison.Ordinal)) > 1);

        var capped = await RecommendAsync(new RecommendRequest { UserId = "browser", Count = 20, Context = new RecommendationContext { Placement = "home" } });
        Assert.Equal("home", capped.Placement);
        Assert.All(capped.Items.GroupBy(x => x.Category.Split('.')[0]), g => Assert.Single(g));

        var kids = await RecommendAsync(new RecommendRequest { UserId = "browser", Count = 20, Context = new RecommendationContext { Placement = "kids" } });
        Assert.NotEmpty(kids.Items);
        Assert.DoesNotContain(kids.Items, x => x.Category.StartsWith("outdoor", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ColdStart_UnknownUserWithContext_GetsItemsBoughtWithTheViewedItem_AndPopularityByCategory()
    {
        var withItem = await RecommendAsync(new RecommendRequest { UserId = "first-visit", Count = 5, Context = new RecommendationContext { ItemId = "book-a" } });
        Assert.True(withItem.ColdStart);
        Assert.Equal("book-b", withItem.Items[0].ItemId);
        Assert.DoesNotContain(withItem.Items, x => x.ItemId == "book-a");

        var anonymous = await RecommendAsync(new RecommendRequest { Count = 5, Context = new RecommendationContext { Category = "outdoor" } });
        Assert.NotEmpty(anonymous.Items);
        Assert.All(anonymous.Items, x => Assert.StartsWith("outdoor.", x.Category, StringComparison.Ordinal));
        Assert.All(anonymous.Items, x => Assert.Equal(ReasonKind.PopularInSegment, x.Reason.Kind));

        // A known user without history in this category still gets her lifecycle segment's favourites.
        await IngestAsync(View("newcomer", "puzzle", "toys.games", 15));
        var newcomer = await RecommendAsync(new RecommendRequest { UserId = "newcomer", Count = 10 });
        Assert.Contains(newcomer.Items, x => x.Reason.Kind == ReasonKind.PopularInSegment && x.Reason.Cause == "lifecycle:new");
    }

    [Fact]
    public async Task SimilarItems_ReturnsCoBoughtItemsNamingTheItem()
    {
        var response = await _server.Client.UnaryAsync<SimilarItemsRequest, SimilarItemsResponse>(
            Methods.SimilarItems, new SimilarItemsRequest { ItemId = "tent", Count = 3 });
        Assert.Equal("stove", response.Items[0].ItemId);
        Assert.Equal("tent", response.Items[0].Reason.Cause);
        Assert.DoesNotContain(response.Items, x => x.ItemId == "tent");
    }

    [Fact]
    public async Task GetUserInsight_ReturnsSegmentsAndRecommendationsTogether()
    {
        await IngestAsync(Buy("insight", "book-a", "books.novels", 16));
        var insight = await _server.Client.UnaryAsync<GetUserInsightRequest, UserInsight>(
            Methods.GetUserInsight, new GetUserInsightRequest { UserId = "insight", Count = 3 });
        Assert.Equal(LifecycleStage.New, insight.Segments.Lifecycle.Stage);
        Assert.Equal("insight", insight.Recommendations.UserId);
        Assert.Equal("book-b", insight.Recommendations.Items[0].ItemId);
    }

    [Theory]
    [InlineData("", 0, "", "", StatusCode.InvalidArgument, "count")]
    [InlineData("camper-1", 0, "", "", StatusCode.InvalidArgument, "count")]
    [InlineData("camper-1", 101, "", "", StatusCode.InvalidArgument, "count")]
    [InlineData("nobody", 5, "", "", StatusCode.NotFound, "user_id")]
    [InlineData("", 5, "", "", StatusCode.InvalidArgument, "user_id")]
    [InlineData("camper-1", 5, "no-such-item", "", StatusCode.NotFound, "context.item_id")]
    [InlineData("camper-1", 5, "", "no-such-placement", StatusCode.InvalidArgument, "context.placement")]
    public async Task BadRequest_GetsASpecificStatusNamingTheField(string user, int count, string item, string placement, StatusCode code, string field)
    {
        var request = new RecommendRequest { UserId = user, Count = count, Context = new RecommendationContext { ItemId = item, Placement = placement } };
        var error = await Assert.ThrowsAsync<RpcException>(() => RecommendAsync(request));
        Assert.Equal(code, error.StatusCode);
        Assert.StartsWith(field + ":", error.Status.Detail, StringComparison.Ordinal);

        var similar = await Assert.ThrowsAsync<RpcException>(() => _server.Client.UnaryAsync<SimilarItemsRequest, SimilarItemsResponse>(
            Methods.SimilarItems, new SimilarItemsRequest { ItemId = "no-such-item", Count = 3 }));
        Assert.Equal(StatusCode.NotFound, similar.StatusCode);
        Assert.StartsWith("item_id:", similar.Status.Detail, StringComparison.Ordinal);

        // The service keeps serving.
        Assert.NotEmpty((await RecommendAsync(new RecommendRequest { UserId = "camper-1", Count = 3 })).Items);
    }

    [Fact]
    public async Task Restart_RebuildsTheRecommendersFromTheEventLog()
    {
        await IngestAsync(View("returning", "book-a", "books.novels", 17), Buy("returning", "tent", "outdoor.camping", 17));
        var request = new RecommendRequest { UserId = "returning", Count = 10 };
        var before = await RecommendAsync(request);

        await _server.StopAsync();
        _server = await TestServer.StartAsync(_server.DataDirectory);
        var after = await RecommendAsync(request);

        Assert.Equal(before.Items.Select(x => (x.ItemId, x.Reason.Text)), after.Items.Select(x => (x.ItemId, x.Reason.Text)));
        Assert.Equal(before.Items.Select(x => x.Score), after.Items.Select(x => x.Score), (a, b) => Math.Abs(a - b) < 1e-9);
    }

    private Task<RecommendResponse> RecommendAsync(RecommendRequest request) =>
        _server.Client.UnaryAsync<RecommendRequest, RecommendResponse>(Methods.Recommend, request);

    private async Task IngestAsync(params Event[] events)
    {
        var response = await _server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(events));
        Assert.Equal(events.Length, response.Accepted);
        _ingested.AddRange(events);
    }

    private Event Buy(string user, string item, string category, int hour) =>
        Events.Make($"r-{Interlocked.Increment(ref _nextEvent)}", user, EventType.Purchase, s_start.AddHours(hour), item, category: category);

    private Event Cart(string user, EventType type, string item, string category, int hour) =>
        Events.Make($"r-{Interlocked.Increment(ref _nextEvent)}", user, type, s_start.AddHours(hour), item, category: category);

    private Event View(string user, string item, string category, int hour) =>
        Events.Make($"r-{Interlocked.Increment(ref _nextEvent)}", user, EventType.View, s_start.AddHours(hour), item, category: category);

    private static class Methods
    {
        public static readonly Google.Protobuf.Reflection.MethodDescriptor Recommend = Find("Recommend");
        public static readonly Google.Protobuf.Reflection.MethodDescriptor SimilarItems = Find("SimilarItems");
        public static readonly Google.Protobuf.Reflection.MethodDescriptor GetUserInsight = Find("GetUserInsight");

        private static Google.Protobuf.Reflection.MethodDescriptor Find(string name) =>
            RecommendationsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("RecommendationService").FindMethodByName(name);
    }
}
