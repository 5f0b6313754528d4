using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// <see cref="SegmentPopularity"/>'s per-category rankings: her categories' candidates read from them are those a walk
/// of the key's whole ranking (and its scan when the walk runs out) finds.
/// </summary>
public sealed class PopularityCategoryRankingTests
{
    private static readonly DateTimeOffset s_now = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string[] s_categories = ["home.kitchen", "home.garden", "sports.running", "books", "toys.lego", "garden", ""];

    [Theory]
    [InlineData(1, 300, 5)]
    [InlineData(2, 3_000, 50)]
    [InlineData(3, 3_000, 300)]
    [InlineData(4, 40, 30)]
    [InlineData(5, 3_000, 900)]
    public void HerCategoriesCandidates_FromTheCategoryRankings_AreThoseOfAWalkOfTheWholeRanking(int seed, int items, int count)
    {
        // Items spread over categories (some deep, one unknown) with random popularity under a segment key and everyone;
        // 3,000 items put more than RankedItems in "home", so asking 900 of hers runs its own ranking out (then the key
        // is scanned, as the walk's is).
        var random = new Random(seed);
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, TimeSpan.FromDays(30));
        for (var i = 0; i < items; i++)
        {
            var item = $"item-{i:D5}";
            catalog.Observe(item, s_categories[random.Next(s_categories.Length)]);
            for (var n = random.Next(1, 6); n > 0; n--)
            {
                string[] keys = random.Next(3) == 0 ? ["ml:1", SegmentPopularity.Everyone] : [SegmentPopularity.Everyone];
                popularity.Record(keys, new Interaction(item, random.Next(4) == 0 ? EventType.Purchase : EventType.View, s_now.AddHours(-random.Next(2_000))));
            }
        }

        var request = new RecommendationRequest { Now = s_now, SegmentKeys = ["ml:1"] };
        var rejected = new HashSet<string>(Enumerable.Range(0, items).Where(_ => random.Next(5) == 0).Select(i => $"item-{i:D5}"), StringComparer.Ordinal);
        bool Allowed(string item) => !rejected.Contains(item);
        foreach (string[] hers in (string[][])[["home"], ["sports", "books"], ["toys", "garden", "home"], ["nothing-of-hers"]])
        {
            bool Hers(string item) => hers.Any(c => ItemCatalog.IsIn(catalog.CategoryOf(item), c));
            var walked = popularity.GetCandidates(request, count, Allowed, Hers);
            var merged = popularity.GetCandidates(request, count, Allowed, Hers, hers);

            Assert.Equal(Describe(walked.All), Describe(merged.All));
            Assert.Equal(Describe(walked.Narrowed), Describe(merged.Narrowed));
            Assert.All(merged.Narrowed, c => Assert.True(Hers(c.ItemId) && Allowed(c.ItemId)));
            var findable = popularity.ItemsOf(SegmentPopularity.Everyone, s_now).Keys.Count(item => Hers(item) && Allowed(item));
            Assert.Equal(Math.Min(count, findable), merged.Narrowed.Length);
        }
    }

    [Fact]
    public void AnItemThatLeftHerCategory_SinceTheRanking_IsNotProposedAsHers()
    {
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, null);
        for (var i = 0; i < 20; i++)
        {
            var item = $"item-{i:D2}";
            catalog.Observe(item, i % 2 == 0 ? "sports.running" : "home.kitchen");
            for (var n = 0; n < 40 - i; n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_now));
            }
        }

        var request = new RecommendationRequest { Now = s_now };
        string[] hers = ["sports"];
        bool Hers(string item) => ItemCatalog.IsIn(catalog.CategoryOf(item), "sports");
        Assert.Contains(popularity.GetCandidates(request, 3, static _ => true, Hers, hers).Narrowed, c => c.ItemId == "item-00");

        // Her best sports item is re-filed under home: no event of popularity changed, so the key is not ranked again.
        catalog.Observe("item-00", "home.kitchen");
        var merged = popularity.GetCandidates(request, 3, static _ => true, Hers, hers);
        var walked = popularity.GetCandidates(request, 3, static _ => true, Hers);

        Assert.Equal(["item-02", "item-04", "item-06"], merged.Narrowed.Select(c => c.ItemId).Order(StringComparer.Ordinal));
        Assert.Equal(Describe(walked.Narrowed), Describe(merged.Narrowed));
    }

    [Fact]
    public void PersonalPopularity_WithADottedAffinity_WalksTheWholeRanking_AndAnswersAlike()
    {
        // Affinities are top-level categories as her profile reports them; one that is not (a caller's own request)
        // cannot be read from the top-level rankings, and the walk answers for it.
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, null);
        for (var i = 0; i < 30; i++)
        {
            var item = $"item-{i:D2}";
            catalog.Observe(item, (i % 3) switch { 0 => "home.kitchen", 1 => "home.garden", _ => "sports" });
            for (var n = 0; n < 60 - i; n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_now));
            }
        }

        var source = new PersonalPopularity(popularity, catalog, new PersonalRanking());
        var request = new RecommendationRequest { Now = s_now, CategoryAffinities = [new CategoryAffinity("home.garden", 1, 1)] };
        var personal = source.GetCandidates(request, 4, static _ => true);

        Assert.Equal(["item-01", "item-04", "item-07", "item-10"], personal.Select(c => c.ItemId));
    }

    // By item: the lists PersonalPopularity asks for carry their items in no particular order.
    private static string[] Describe(Candidate[] candidates) =>
        [.. candidates.Select(c => FormattableString.Invariant($"{c.ItemId} {c.Score:R} {c.Reason.Kind} {c.Reason.Cause}")).Order(StringComparer.Ordinal)];
}
