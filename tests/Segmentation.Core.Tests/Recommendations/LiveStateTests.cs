using Segmentation.Core.Recommendations;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>What the live service keeps for recommendations: a user's bounded history and purchases, known items, ranked popularity.</summary>
public sealed class LiveStateTests
{
    [Fact]
    public void RecommendationHistory_KeepsTheLastInteractions_AndEveryRememberedPurchase()
    {
        var profile = new UserProfile("u", new ProfileOptions { HistoryInteractions = 3, PurchasedItems = 2 });
        profile.Apply(Make(EventType.Purchase, T0, item: "p1"));
        profile.Apply(Make(EventType.Search, T0.AddHours(1)));
        profile.Apply(Make(EventType.Purchase, T0.AddHours(2), item: "p2"));
        for (var i = 0; i < 5; i++)
        {
            profile.Apply(Make(EventType.View, T0.AddHours(3 + i), item: $"v{i}"));
        }

        var history = profile.RecommendationHistory();
        Assert.Equal(
            [("p1", EventType.Purchase), ("p2", EventType.Purchase), ("v2", EventType.View), ("v3", EventType.View), ("v4", EventType.View)],
            history.Select(x => (x.ItemId, x.Type)));

        // Buying p1 again makes it the most recent purchase; a third item then forgets p2, the oldest.
        profile.Apply(Make(EventType.Purchase, T0.AddHours(10), item: "p1"));
        profile.Apply(Make(EventType.Purchase, T0.AddHours(11), item: "p3"));
        Assert.Equal(["p1", "p3"], profile.RecommendationHistory().Where(x => x.Type == EventType.Purchase).Select(x => x.ItemId).Distinct());
        Assert.Equal(T0.AddHours(10), profile.RecommendationHistory().First(x => x.ItemId == "p1").Timestamp);
    }

    [Fact]
    public void RecommendationHistory_IsTheSameListUntilHerNextInteraction_WhichShowsAtOnce()
    {
        var profile = new UserProfile("u", new ProfileOptions { HistoryInteractions = 3, PurchasedItems = 2 });
        profile.Apply(Make(EventType.View, T0, item: "v"));
        var first = profile.RecommendationHistory();
        Assert.Same(first, profile.RecommendationHistory());

        // An event that is no interaction (a search) leaves it as it was; a purchase shows in the very next one.
        profile.Apply(Make(EventType.Search, T0.AddHours(1)));
        Assert.Same(first, profile.RecommendationHistory());
        profile.Apply(Make(EventType.Purchase, T0.AddHours(2), item: "p"));
        var second = profile.RecommendationHistory();
        Assert.NotSame(first, second);
        Assert.Equal([("v", EventType.View)], first.Select(x => (x.ItemId, x.Type)));
        Assert.Equal([("p", EventType.Purchase), ("v", EventType.View)], second.Select(x => (x.ItemId, x.Type)));
        Assert.Same(second, profile.RecommendationHistory());

        // A view past the bound drops the oldest view.
        profile.Apply(Make(EventType.View, T0.AddHours(3), item: "w"));
        profile.Apply(Make(EventType.View, T0.AddHours(4), item: "x"));
        Assert.Equal(["p", "w", "x"], profile.RecommendationHistory().Select(x => x.ItemId));
    }

    [Fact]
    public void RecommendationHistory_KeepsRatingStars_AndIgnoresSearchesAndReturns()
    {
        var profile = Fold(Make(EventType.Rating, T0, item: "r"), Make(EventType.Return, T0.AddHours(1), item: "x"), Make(EventType.Search, T0.AddHours(2)));
        var only = Assert.Single(profile.RecommendationHistory());
        Assert.Equal(("r", EventType.Rating, 4.0), (only.ItemId, only.Type, only.Rating));
    }

    [Fact]
    public void Catalog_KnowsEveryItemNamed_AndKeepsTheLastNonEmptyCategory()
    {
        var catalog = new ItemCatalog();
        catalog.Observe("a", "");
        catalog.Observe("b", "home.kitchen");
        catalog.Observe("b", "");
        catalog.Observe("", "ignored");
        Assert.True(catalog.Contains("a"));
        Assert.Equal(("", "home.kitchen", 2), (catalog.CategoryOf("a"), catalog.CategoryOf("b"), catalog.Count));
        Assert.False(catalog.Contains("c"));
    }

    [Fact]
    public void Popularity_SmallSegments_AreAlwaysExact()
    {
        var popularity = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var random = new Random(3);
        var brute = new Dictionary<string, double>();
        for (var step = 0; step < 400; step++)
        {
            var item = $"i{random.Next(60)}";
            var x = new Interaction(item, EventType.Purchase, T0);
            popularity.Record(["s"], x);
            brute[item] = brute.GetValueOrDefault(item) + 5;
            if (step % 7 == 0)
            {
                var expected = brute.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(5).Select(p => p.Key);
                var got = popularity.GetCandidates(new RecommendationRequest { SegmentKeys = ["s"], Now = T0 }, 5, _ => true);
                Assert.Equal(expected, got.Select(c => c.ItemId));
            }
        }
    }

    [Fact]
    public void Popularity_LargeSegments_ReRankAfterOnePercentOfChanges_AndFiltersFallBackToAFullScan()
    {
        var popularity = new SegmentPopularity(new ItemCatalog(), halfLife: null);
        for (var i = 0; i < 5_000; i++)
        {
            popularity.Record(["s"], new Interaction($"i{i:D4}", EventType.View, T0));
        }

        var request = new RecommendationRequest { SegmentKeys = ["s"], Now = T0 };
        Assert.Equal("i0000", popularity.GetCandidates(request, 1, _ => true)[0].ItemId);

        // A new favourite: visible at the latest after 1% of the segment's items changed (50 records).
        var seenAfter = -1;
        for (var n = 1; n <= 60 && seenAfter < 0; n++)
        {
            popularity.Record(["s"], new Interaction("i4999", EventType.Purchase, T0));
            if (popularity.GetCandidates(request, 1, _ => true)[0].ItemId == "i4999")
            {
                seenAfter = n;
            }
        }

        Assert.InRange(seenAfter, 1, 51);

        // A filter that rejects every ranked item still finds the allowed ones.
        var rare = popularity.GetCandidates(request, 2, id => id is "i3000" or "i3001");
        Assert.Equal(["i3000", "i3001"], rare.Select(c => c.ItemId));
    }
}
