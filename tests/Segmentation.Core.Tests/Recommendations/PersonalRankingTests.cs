using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// Personalised ranking: her category shares boost, one top-level category fills at most its cap, her top category
/// is represented, and popularity leans to her categories.
/// </summary>
public sealed class PersonalRankingTests
{
    private static readonly DateTimeOffset s_now = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly RecommendationReason s_reason = new(ReasonKind.PopularInSegment, "");

    [Fact]
    public void Rank_BoostsHerCategories_CapsEachAtItsShareOfTheList()
    {
        // Ten sports items score just below ten home items; she is 80 % sports.
        var ranked = Enumerable.Range(0, 10).Select(i => Item($"home-{i}", "home.kitchen", 1.0 - (i * 0.01)))
            .Concat(Enumerable.Range(0, 10).Select(i => Item($"sport-{i}", "sports.running", 0.9 - (i * 0.01)))).ToList();
        var affinities = new[] { new CategoryAffinity("sports", 8, 0.8), new CategoryAffinity("home", 2, 0.2) };

        var list = new PersonalRanking { MaxCategoryShare = 0.5 }.Rank(ranked, affinities, 10, Order);

        Assert.Equal(10, list.Count);
        Assert.Equal(5, list.Count(x => x.Category.StartsWith("sports", StringComparison.Ordinal)));
        Assert.StartsWith("sport-", list[0].ItemId, StringComparison.Ordinal); // 0.9 × 1.8 beats 1.0 × 1.2
        Assert.Equal(list.OrderByDescending(x => x.Score).Select(x => x.ItemId), list.Select(x => x.ItemId));
    }

    [Fact]
    public void Rank_KeepsHerTopCategoryRepresented_WhenItsItemsScoreLow()
    {
        var ranked = Enumerable.Range(0, 10).Select(i => Item($"home-{i}", "home.kitchen", 10.0 - i))
            .Concat(Enumerable.Range(0, 10).Select(i => Item($"book-{i}", "books.novels", 10.0 - i)))
            .Append(Item("ball", "sports.balls", 0.01)).ToList();
        var affinities = new[] { new CategoryAffinity("sports", 1, 0.6), new CategoryAffinity("home", 1, 0.4) };

        var list = new PersonalRanking { MaxCategoryShare = 0.5 }.Rank(ranked, affinities, 4, Order);

        Assert.Equal(4, list.Count);
        Assert.Equal("ball", list[^1].ItemId);
        Assert.Equal(["home-0", "home-1", "book-0"], list.Take(3).Select(x => x.ItemId));
    }

    [Fact]
    public void RankSorted_StopsReadingOnceTheListIsFullWithHerTopCategoryInIt()
    {
        // A blend ranks ~200 items for 10 places: once they are filled and her top category holds one of them, no later
        // item can change the list, and none is read; while her top category is missing, the walk goes on to find it.
        var sorted = Enumerable.Range(0, 200).Select(i => Item($"item-{i:D3}", i % 50 == 7 ? "sports.balls" : $"c{i % 5}.x", 1000.0 - i)).ToArray();
        var affinities = new[] { new CategoryAffinity("sports", 1, 1) };
        int Read(int count, IReadOnlyList<CategoryAffinity> her, out List<Recommendation> list)
        {
            var read = 0;
            list = new PersonalRanking { MaxCategoryShare = 1 }.RankSorted<Recommendation>(sorted, r => { read++; return r.Category; }, r => r, her, count, null);
            return read;
        }

        Assert.Equal(10, Read(10, affinities, out var withTop));
        Assert.Equal([.. sorted.Take(10).Select(x => x.ItemId)], withTop.Select(x => x.ItemId));
        Assert.Equal(10, Read(10, [], out _));

        // Five places, her category's first item eighth: read until found, then it takes the last place.
        Assert.Equal(8, Read(5, affinities, out var found));
        Assert.Equal(["item-000", "item-001", "item-002", "item-003", "item-007"], found.Select(x => x.ItemId));
    }

    [Fact]
    public void PersonalPopularity_PrefersHerCategories_AndIsPlainPopularityWithoutAffinities()
    {
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, null);
        for (var i = 0; i < 20; i++)
        {
            var (item, category) = i < 10 ? ($"home-{i}", "home.kitchen") : ($"sport-{i}", "sports.running");
            catalog.Observe(item, category);
            for (var n = 0; n < (i < 10 ? 50 - i : 20 - i); n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_now));
            }
        }

        var source = new PersonalPopularity(popularity, catalog, new PersonalRanking());
        var plain = source.GetCandidates(new RecommendationRequest { Now = s_now }, 5, static _ => true);
        Assert.All(plain, c => Assert.StartsWith("home-", c.ItemId, StringComparison.Ordinal));

        var request = new RecommendationRequest { Now = s_now, CategoryAffinities = [new CategoryAffinity("sports", 9, 0.9), new CategoryAffinity("books", 1, 0.1)] };
        var personal = source.GetCandidates(request, 5, static _ => true);
        Assert.All(personal, c => Assert.StartsWith("sport-", c.ItemId, StringComparison.Ordinal));
        Assert.Equal(personal.OrderByDescending(c => c.Score).Select(c => c.ItemId), personal.Select(c => c.ItemId));
    }

    [Fact]
    public void PersonalPopularity_PastEveryonesCount_AsksTheRequestsFilterOnlyAboutHerCategoriesItems()
    {
        // 100 home items all more popular than 10 sports items; she shops sports. The walk finds everyone's 5 among the
        // first home items, then goes on for sports items only: the request's filter is asked about those 5 and the
        // sports items taken, not about the 95 home items passed over on the way (a lookup each, per Recommend).
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, null);
        for (var i = 0; i < 110; i++)
        {
            var (item, category) = i < 100 ? ($"home-{i:D3}", "home.kitchen") : ($"sport-{i:D3}", "sports.running");
            catalog.Observe(item, category);
            for (var n = 0; n < 200 - i; n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_now));
            }
        }

        var source = new PersonalPopularity(popularity, catalog, new PersonalRanking());
        var request = new RecommendationRequest { Now = s_now, CategoryAffinities = [new CategoryAffinity("sports", 1, 1)] };
        var asked = new List<string>();
        var personal = source.GetCandidates(request, 5, item =>
        {
            asked.Add(item);
            return true;
        });

        Assert.Equal(["sport-100", "sport-101", "sport-102", "sport-103", "sport-104"], personal.Select(c => c.ItemId));
        Assert.Equal(["home-000", "home-001", "home-002", "home-003", "home-004", "sport-100", "sport-101", "sport-102", "sport-103", "sport-104"], asked);
    }

    [Fact]
    public void PersonalPopularity_Tuned_KeepsOutsideCategoriesByItsWeight_AndCanProposeOnlyItemsNewToHer()
    {
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, null);
        for (var i = 0; i < 20; i++)
        {
            var (item, category) = i < 10 ? ($"home-{i}", "home.kitchen") : ($"sport-{i}", "sports.running");
            catalog.Observe(item, category);
            for (var n = 0; n < 50 - i; n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_now));
            }
        }

        // She likes sports; home items are more popular. At the default 0.1 the top five are sports; at 1 the outside
        // category keeps its whole score and the most popular home items share the top five with hers.
        var request = new RecommendationRequest
        {
            Now = s_now,
            CategoryAffinities = [new CategoryAffinity("sports", 9, 0.9), new CategoryAffinity("books", 1, 0.1)],
            History = [new Interaction("sport-10", EventType.View, s_now), new Interaction("home-0", EventType.View, s_now)],
        };
        var source = new PersonalPopularity(popularity, catalog, new PersonalRanking());
        Assert.All(source.GetCandidates(request, 5, static _ => true), c => Assert.StartsWith("sport-", c.ItemId, StringComparison.Ordinal));
        var broad = source.With(1, newOnly: false).GetCandidates(request, 5, static _ => true);
        Assert.Equal("home-0", broad[0].ItemId);
        Assert.Equal(3, broad.Count(c => c.ItemId.StartsWith("home-", StringComparison.Ordinal)));

        // New items only: what she viewed is recency's to propose, not popularity's.
        var discovery = source.With(PersonalPopularity.OutsideWeight, newOnly: true).GetCandidates(request, 5, static _ => true);
        Assert.DoesNotContain(discovery, c => c.ItemId == "sport-10");
        Assert.Equal("sport-11", discovery[0].ItemId);
        Assert.DoesNotContain(source.With(1, newOnly: true).GetCandidates(request, 5, static _ => true), c => c.ItemId == "home-0");
    }

    [Fact]
    public void PersonalPopularity_WalksEachKeyOnce_AndAnswersAsHerCategoriesThenEveryones()
    {
        // Home items are the most popular under both keys; she is a sports shopper. Her categories' candidates and
        // everyone's come from one walk of each key's ranking: no item is asked of the filter twice for one key.
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, null);
        for (var i = 0; i < 30; i++)
        {
            var (item, category) = i < 15 ? ($"home-{i}", "home.kitchen") : ($"sport-{i}", "sports.running");
            catalog.Observe(item, category);
            for (var n = 0; n < 60 - i; n++)
            {
                popularity.Record(["lifecycle:active", SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_now.AddMinutes(-n)));
            }
        }

        var request = new RecommendationRequest
        {
            Now = s_now,
            SegmentKeys = ["lifecycle:active"],
            CategoryAffinities = [new CategoryAffinity("sports", 9, 0.9), new CategoryAffinity("home", 1, 0.1)],
        };
        var asked = new Dictionary<string, int>(StringComparer.Ordinal);
        bool Allowed(string item)
        {
            asked[item] = asked.GetValueOrDefault(item) + 1;
            return item != "sport-16";
        }

        var source = new PersonalPopularity(popularity, catalog, new PersonalRanking { TopCategories = 1 });
        var candidates = source.GetCandidates(request, 5, Allowed);

        // Two keys, so at most two questions per item (before: four for the items both walks of a key passed).
        Assert.Equal(2, asked.Values.Max());

        // The answer as two separate queries give it: her categories' items first, everyone's for the rest, each
        // re-weighed by her share of its category (at least the outside weight).
        double Factor(string item) => catalog.CategoryOf(item).StartsWith("sports", StringComparison.Ordinal) ? 1 : PersonalPopularity.OutsideWeight;
        var hers = popularity.GetCandidates(request, 5, item => item != "sport-16" && catalog.CategoryOf(item).StartsWith("sports", StringComparison.Ordinal));
        var everyone = popularity.GetCandidates(request, 5, item => item != "sport-16");
        var expected = hers.Concat(everyone.Where(c => !hers.Any(h => h.ItemId == c.ItemId)))
            .Select(c => (c.ItemId, Score: c.Score * Factor(c.ItemId), c.Reason))
            .OrderByDescending(c => c.Score).ThenBy(c => c.ItemId, StringComparer.Ordinal).Take(5).ToList();
        Assert.Equal(expected.Select(c => c.ItemId), candidates.Select(c => c.ItemId));
        Assert.Equal(expected.Select(c => c.Score), candidates.Select(c => c.Score));
        Assert.Equal(expected.Select(c => c.Reason.Text), candidates.Select(c => c.Reason.Text));
        Assert.DoesNotContain(candidates, c => c.ItemId == "sport-16");
    }

    private static Recommendation Item(string id, string category, double score) => new(id, score, category, s_reason);

    private static int Order(Recommendation a, Recommendation b)
    {
        var c = b.Score.CompareTo(a.Score);
        return c != 0 ? c : string.CompareOrdinal(a.ItemId, b.ItemId);
    }
}
