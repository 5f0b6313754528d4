using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// A small shop: kitchen, garden and grocery items; co-purchases among other users; popularity per segment. The
/// blender's rules, reasons, determinism, online behaviour and cold-start paths are checked on it.
/// </summary>
public sealed class BlenderTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ItemCatalog _catalog = new();
    private readonly ItemCoOccurrence _coOccurrence = new(new ItemCoOccurrenceOptions { HalfLife = TimeSpan.FromDays(90) });
    private readonly SegmentPopularity _popularity;
    private readonly RecommendationBlender _blender;

    public BlenderTests()
    {
        _popularity = new SegmentPopularity(_catalog, TimeSpan.FromDays(30));
        foreach (var (item, category) in new[]
        {
            ("mug", "home.kitchen"), ("kettle", "home.kitchen"), ("teapot", "home.kitchen"), ("cups", "home.kitchen"),
            ("spade", "garden.tools"), ("rake", "garden.tools"), ("seeds", "garden.plants"),
            ("coffee", "grocery.drinks"), ("tea", "grocery.drinks"),
        })
        {
            _catalog.Observe(item, category);
        }

        // Kettle buyers also buy tea and a teapot; mug buyers buy coffee; gardeners buy spade + rake + seeds.
        Shop("k1", "kettle", "tea", "teapot");
        Shop("k2", "kettle", "tea", "teapot");
        Shop("k3", "kettle", "tea", "cups");
        Shop("m1", "mug", "coffee");
        Shop("m2", "mug", "coffee", "kettle");
        Shop("g1", "spade", "rake", "seeds");
        Shop("g2", "spade", "rake");
        for (var i = 0; i < 5; i++)
        {
            _popularity.Record(["lifecycle:new"], Buy("seeds", -1));
        }

        _blender = Blender(new BlendOptions { RepurchasableCategories = ["grocery"] });
    }

    private static Interaction Buy(string item, int day = 0) => new(item, EventType.Purchase, s_t0.AddDays(day));

    private static Interaction View(string item, int day = 0) => new(item, EventType.View, s_t0.AddDays(day));

    private void Shop(string user, params string[] items)
    {
        foreach (var item in items)
        {
            _coOccurrence.Record(user, Buy(item, -2));
            _popularity.Record([SegmentPopularity.Everyone], Buy(item, -2));
        }
    }

    private RecommendationBlender Blender(BlendOptions options) => new(
        [new BlendedSource(_coOccurrence, 1.0), new BlendedSource(new RecentlyViewed(TimeSpan.FromDays(7)), 0.5), new BlendedSource(_popularity, 0.2)],
        _catalog,
        options);

    private static RecommendationRequest Request(params Interaction[] history) => new() { UserId = "me", History = history, Count = 5, Now = s_t0 };

    [Fact]
    public void BoughtItems_AreNeverRecommended_UnlessRepurchasable()
    {
        var result = _blender.Recommend(Request(Buy("kettle"), Buy("tea")) with { Count = 20 });

        Assert.DoesNotContain(result, r => r.ItemId == "kettle");
        Assert.Contains(result, r => r.ItemId == "tea"); // grocery is repurchasable.
        Assert.Equal("teapot", result[0].ItemId);
        Assert.Equal(new RecommendationReason(ReasonKind.BoughtTogether, "tea"), result[0].Reason); // J(tea, teapot) > J(kettle, teapot)

        var strict = Blender(new BlendOptions()).Recommend(Request(Buy("kettle"), Buy("tea")) with { Count = 20 });
        Assert.DoesNotContain(strict, r => r.ItemId is "kettle" or "tea");
    }

    [Fact]
    public void ExcludedItems_ContextItem_AndOutOfScopeCategories_AreNeverRecommended()
    {
        var blender = Blender(new BlendOptions { ExcludedCategories = ["garden.tools", "grocery"] });
        var result = blender.Recommend(Request(Buy("kettle")) with { Count = 20, ExcludedItems = new HashSet<string> { "teapot" }, ContextItemId = "cups" });

        Assert.NotEmpty(result);
        Assert.DoesNotContain(result, r => r.ItemId is "teapot" or "cups" or "kettle");
        Assert.DoesNotContain(result, r => r.Category.StartsWith("garden.tools", StringComparison.Ordinal) || r.Category.StartsWith("grocery", StringComparison.Ordinal));
        Assert.Contains(result, r => r.ItemId == "seeds"); // garden.plants is in scope.
    }

    [Fact]
    public void CategoryCap_LimitsItemsPerTopLevelCategory()
    {
        var capped = Blender(new BlendOptions { MaxPerCategory = 1 }).Recommend(Request(Buy("mug")) with { Count = 20 });

        Assert.True(capped.Count >= 3);
        Assert.All(capped.GroupBy(r => ItemCatalog.Truncate(r.Category, 1)), g => Assert.Single(g));

        var byLeaf = Blender(new BlendOptions { MaxPerCategory = 1, CategoryDepth = 2 }).Recommend(Request(Buy("mug")) with { Count = 20 });
        Assert.All(byLeaf.GroupBy(r => r.Category), g => Assert.Single(g));
        Assert.True(byLeaf.Count > capped.Count);
    }

    [Fact]
    public void APersonalisedPlacementWithoutABoost_StillReportsAndCapsEachItemsCategory()
    {
        // Without a boost the blender looks an item's category up only when the ranking reaches it: each kept item
        // must still carry its catalogue category, and the placement's and her caps must still count by it.
        var affinities = new[] { new CategoryAffinity("home", 7, 0.7), new CategoryAffinity("garden", 3, 0.3) };
        var options = new BlendOptions { MaxPerCategory = 2, Personalization = new PersonalRanking { AffinityBoost = 0, MaxCategoryShare = 0.5 } };
        var result = Blender(options).Recommend(Request(Buy("mug"), View("spade", -1)) with { Count = 20, CategoryAffinities = affinities });

        Assert.True(result.Count >= 3);
        Assert.All(result, r => Assert.Equal(_catalog.CategoryOf(r.ItemId), r.Category));
        Assert.All(result.GroupBy(r => ItemCatalog.Truncate(r.Category, 1)), g => Assert.True(g.Count() <= 2));
    }

    [Fact]
    public void EveryItem_HasAReason_AndTheListIsRankedAndDistinct()
    {
        var result = _blender.Recommend(Request(Buy("mug"), View("spade", -1)) with { SegmentKeys = ["lifecycle:new"], Count = 20 });

        Assert.NotEmpty(result);
        Assert.All(result, r => Assert.False(string.IsNullOrEmpty(r.Reason.Text)));
        Assert.Equal(result.Select(r => r.ItemId).Distinct().Count(), result.Count);
        Assert.Equal(result.OrderByDescending(r => r.Score).ThenBy(r => r.ItemId, StringComparer.Ordinal).Select(r => r.ItemId), result.Select(r => r.ItemId));
        Assert.Contains(result, r => r.Reason == new RecommendationReason(ReasonKind.RecentlyViewed, "spade") && r.ItemId == "spade");
        Assert.Contains(result, r => r.Reason.Kind == ReasonKind.BoughtTogether && r.Reason.Cause == "mug");
    }

    [Fact]
    public void EqualBlendedScores_AreRankedByItemId_WhateverOrderTheSourcesGaveThem()
    {
        // Two sources whose scores sum to equal blends (runs of five, three and three tied items), each given in
        // scrambled id order, its best first: the list is score descending, then id (ordinal: uppercase first).
        string[] ids = ["m", "c", "a", "K", "b", "z", "e", "q", "d", "B", "x", "f"];
        var first = ids.Select((id, i) => new Candidate(id, i < 8 ? 4 : 2, new RecommendationReason(ReasonKind.PopularInSegment, ""))).ToArray();
        var second = ids.Reverse().Select((id, i) => new Candidate(id, i % 3 == 1 ? 1 : 3, new RecommendationReason(ReasonKind.MatchesTasteProfile, ""))).ToArray();
        var blender = new RecommendationBlender([new BlendedSource(new FixedSource(first), 1), new BlendedSource(new FixedSource(second), 1)], _catalog);

        var result = blender.Recommend(Request() with { Count = ids.Length });

        Assert.Equal(["K", "a", "e", "m", "z", "B", "d", "f", "b", "c", "q", "x"], result.Select(r => r.ItemId));
        Assert.Equal([2, 2, 2, 2, 2, 1.5, 1.5, 1.5], result.Take(8).Select(r => r.Score));
    }

    [Fact]
    public void SameRequest_SameAnswer_WhateverTheHistoryOrder()
    {
        var history = new[] { Buy("mug"), Buy("spade"), View("kettle", -1), View("seeds", -3) };
        var first = _blender.Recommend(Request(history) with { Count = 8 });
        var reversed = _blender.Recommend(Request([.. history.Reverse()]) with { Count = 8 });
        var again = _blender.Recommend(Request(history) with { Count = 8 });

        Assert.Equal(first, reversed);
        Assert.Equal(first, again);
    }

    [Fact]
    public void SameHistory_SameAnswer_WhateverListHoldsIt()
    {
        // The sources read an array or a List in place and copy any other list: the answer is the same.
        Interaction[] history = [Buy("mug"), View("kettle", -1), View("seeds", -3), new("teapot", EventType.AddToCart, s_t0.AddDays(-2))];
        var fromArray = _blender.Recommend(Request(history) with { Count = 8 });
        var fromList = _blender.Recommend(Request() with { History = new List<Interaction>(history), Count = 8 });
        var fromReadOnly = _blender.Recommend(Request() with { History = history.AsReadOnly(), Count = 8 });

        Assert.NotEmpty(fromArray);
        Assert.Contains(fromArray, r => r.ItemId == "teapot");
        Assert.Equal(fromArray, fromList);
        Assert.Equal(fromArray, fromReadOnly);
    }

    [Fact]
    public void APurchase_IsVisibleAtOnce_CoBoughtItemsRise_AndTheItemDisappears()
    {
        var before = _blender.Recommend(Request(View("mug", -1)) with { Count = 10 });
        Assert.Contains(before, r => r.ItemId == "kettle");
        var teaBefore = before.Select(r => r.ItemId).ToList().IndexOf("tea");

        // The user buys the kettle: the profile's history and the live co-occurrence both learn it.
        var bought = Buy("kettle");
        _coOccurrence.Record("me", bought);
        var after = _blender.Recommend(Request(View("mug", -1), bought) with { Count = 10 });

        Assert.DoesNotContain(after, r => r.ItemId == "kettle");
        var teaAfter = after.Select(r => r.ItemId).ToList().IndexOf("tea");
        Assert.True(teaAfter >= 0 && (teaBefore < 0 || teaAfter < teaBefore), $"tea at {teaBefore} before, {teaAfter} after");
        Assert.Equal(new RecommendationReason(ReasonKind.BoughtTogether, "kettle"), after.Single(r => r.ItemId == "tea").Reason);
        Assert.True(_coOccurrence.CoOccurrence("kettle", "mug", s_t0) > 0);
    }

    [Fact]
    public void ColdStart_NoHistory_FallsBackToSegmentPopularity()
    {
        var result = _blender.Recommend(Request() with { SegmentKeys = ["lifecycle:new"] });

        Assert.Equal(5, result.Count);
        Assert.All(result, r => Assert.Equal(ReasonKind.PopularInSegment, r.Reason.Kind));
        Assert.Equal(new RecommendationReason(ReasonKind.PopularInSegment, "lifecycle:new"), result[0].Reason);
        Assert.Equal("seeds", result[0].ItemId);
        Assert.Equal("popular in your segment 'lifecycle:new'", result[0].Reason.Text);

        // Unknown segment: everyone's favourites (kettle and tea: three buyers each).
        var anyone = _blender.Recommend(Request() with { SegmentKeys = ["ml:404"] });
        Assert.Equal(["kettle", "tea"], anyone.Take(2).Select(r => r.ItemId));
        Assert.All(anyone, r => Assert.Equal(new RecommendationReason(ReasonKind.PopularInSegment, SegmentPopularity.Everyone), r.Reason));
    }

    [Fact]
    public void ColdStart_AnonymousWithContextItem_GetsItsSimilarItems()
    {
        var result = _blender.Recommend(new RecommendationRequest { ContextItemId = "spade", Count = 3, Now = s_t0 });

        Assert.Equal(["rake", "seeds"], result.Take(2).Select(r => r.ItemId));
        Assert.All(result.Take(2), r => Assert.Equal(new RecommendationReason(ReasonKind.BoughtTogether, "spade"), r.Reason));
        Assert.DoesNotContain(result, r => r.ItemId == "spade");
    }

    [Fact]
    public void ColdStart_AnonymousWithContextCategory_GetsPopularItemsOfThatCategory()
    {
        var result = _blender.Recommend(new RecommendationRequest { ContextCategory = "garden", Count = 10, Now = s_t0 });

        Assert.Equal(["rake", "spade", "seeds"], result.Select(r => r.ItemId));
        Assert.All(result, r => Assert.StartsWith("garden.", r.Category, StringComparison.Ordinal));
    }

    [Fact]
    public void Weights_DecideWhichSourceExplainsAnItem()
    {
        // Viewed spade: co-occurrence does not know "me", recent views propose spade itself.
        var request = Request(View("spade")) with { Count = 10 };
        var viewsFirst = new RecommendationBlender(
            [new BlendedSource(_coOccurrence, 0.1), new BlendedSource(new RecentlyViewed(TimeSpan.FromDays(7)), 1)], _catalog).Recommend(request);
        Assert.Equal("spade", viewsFirst[0].ItemId);

        var coFirst = new RecommendationBlender(
            [new BlendedSource(_coOccurrence, 1), new BlendedSource(new RecentlyViewed(TimeSpan.FromDays(7)), 0.1)], _catalog).Recommend(request);
        Assert.Equal("rake", coFirst[0].ItemId);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecommendationBlender([new BlendedSource(_popularity, 0)], _catalog));
    }

    [Fact]
    public void AskingWhetherAnItemIsAllowed_AllocatesNothing_HoweverOftenASourceAsks()
    {
        // Sources ask the blender's filter of every item they walk (thousands per call on a large catalogue): the bytes
        // one Recommend allocates on this thread must not grow with the number of questions. Same requests, same
        // answers; only the number of times the source asks differs.
        static long AllocatedBy(RecommendationBlender blender, RecommendationRequest request)
        {
            blender.Recommend(request); // warm: statics and first-call paths
            var before = GC.GetAllocatedBytesForCurrentThread();
            blender.Recommend(request);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var request = Request(Buy("kettle", -2), Buy("tea", -1)) with { ExcludedItems = new HashSet<string>(["cups"]) };
        var options = new BlendOptions { ExcludedCategories = ["garden.plants"], RepurchasableCategories = ["grocery"] };
        var few = AllocatedBy(new RecommendationBlender([new BlendedSource(new AskingSource(10), 1)], _catalog, options), request);
        var many = AllocatedBy(new RecommendationBlender([new BlendedSource(new AskingSource(10_000), 1)], _catalog, options), request);
        Assert.Equal(few, many);
    }

    // Proposes its candidates as given (whatever their order) to whoever asks, filtered.
    private sealed class FixedSource(Candidate[] candidates) : ICandidateSource
    {
        public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
            [.. candidates.Where(c => allowed(c.ItemId)).Take(count)];
    }

    // Asks the filter `questions` times about every catalogue item in turn, then proposes the allowed ones (fixed scores).
    private sealed class AskingSource(int questions) : ICandidateSource
    {
        private static readonly string[] s_items = ["cups", "kettle", "mug", "rake", "seeds", "spade", "tea", "teapot"];
        private static readonly RecommendationReason s_reason = new(ReasonKind.PopularInSegment, "");
        private readonly Candidate[] _candidates = new Candidate[s_items.Length];

        public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
        {
            var allowedCount = 0;
            for (var q = 0; q < questions; q++)
            {
                allowedCount = 0;
                foreach (var item in s_items)
                {
                    if (allowed(item))
                    {
                        _candidates[allowedCount++] = new Candidate(item, s_items.Length - allowedCount, s_reason);
                    }
                }
            }

            return new ArraySegment<Candidate>(_candidates, 0, Math.Min(count, allowedCount));
        }
    }
}
