using Segmentation.Core.Recommendations;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// The blender asks its sources for their candidates unsorted (<see cref="IUnorderedCandidateSource"/>): the same
/// candidates as their public, sorted answer, and the same blend.
/// </summary>
public sealed class UnorderedCandidatesTests
{
    private static readonly DateTimeOffset s_now = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void EverySourceOfTheMiss_GivesUnsorted_TheCandidatesOfItsSortedAnswer()
    {
        var (catalog, popularity, pairs) = Shop();
        var ease = EaseModel.Train(pairs, lambda: 1, maxDegreeOfParallelism: 1);
        IUnorderedCandidateSource[] sources =
        [
            ease,
            ease.Prune(5),
            new RecentlyViewed(TimeSpan.FromDays(1)),
            popularity,
            new PersonalPopularity(popularity, catalog, new PersonalRanking()),
            new PersonalPopularity(popularity, catalog, new PersonalRanking(), newItemsOnly: true),
        ];
        var request = new RecommendationRequest
        {
            History = [new("item-03", EventType.View, s_now.AddHours(-2)), new("item-17", EventType.AddToCart, s_now.AddHours(-1)), new("item-22", EventType.Purchase, s_now)],
            SegmentKeys = ["lifecycle:active"],
            CategoryAffinities = [new CategoryAffinity("sports", 3, 0.6), new CategoryAffinity("home", 2, 0.4)],
            Now = s_now,
        };

        foreach (var source in sources)
        {
            foreach (var r in new[] { request, request with { CategoryAffinities = [] } })
            {
                var sorted = source.GetCandidates(r, 8, static item => item != "item-05");
                var rented = source.GetUnorderedCandidates(r, 8, static item => item != "item-05");
                var unordered = rented.ToArray();
                RentedCandidates.Return(rented);
                Assert.NotEmpty(sorted);
                Assert.All(sorted, c => Assert.Null(c.Category));
                Assert.All(unordered, c => Assert.True(c.Category is null || c.Category == catalog.CategoryOf(c.ItemId)));
                Assert.Equal(sorted, unordered.Select(c => c with { Category = null }).OrderByDescending(c => TopK<byte>.Rank(c.Score)).ThenBy(c => c.ItemId, StringComparer.Ordinal));
            }
        }
    }

    [Fact]
    public void Popularity_HandsOnTheCategoriesItsRankingRead_OnlyWhileNoCategoryChangedSince()
    {
        var (catalog, popularity, _) = Shop();
        IUnorderedCandidateSource[] sources = [popularity, new PersonalPopularity(popularity, catalog, new PersonalRanking())];
        var request = new RecommendationRequest
        {
            SegmentKeys = ["lifecycle:active"],
            CategoryAffinities = [new CategoryAffinity("sports", 3, 0.6), new CategoryAffinity("home", 2, 0.4)],
            Now = s_now,
        };
        Assert.All(sources, source => Assert.Contains(Candidates(source), c => c is { ItemId: "item-00", Category: "sports.running" }));

        // Re-filed after the ranking, which no event of popularity made stale: the old category must not be handed on.
        catalog.Observe("item-00", "books.novels");
        foreach (var source in sources)
        {
            var candidates = Candidates(source);
            Assert.All(candidates, c => Assert.True(c.Category is null || c.Category == catalog.CategoryOf(c.ItemId)));
            Assert.DoesNotContain(candidates, c => c.Category == "sports.running" && c.ItemId == "item-00");
        }

        Candidate[] Candidates(IUnorderedCandidateSource source)
        {
            var rented = source.GetUnorderedCandidates(request, 30, static _ => true);
            var candidates = rented.ToArray();
            RentedCandidates.Return(rented);
            return candidates;
        }
    }

    [Fact]
    public void TheBlender_DividesAnUnsortedSourcesScores_ByTheBestOne_WhereverItComes()
    {
        var catalog = new ItemCatalog();
        var candidates = new Candidate[]
        {
            new("c", 1, new RecommendationReason(ReasonKind.PopularInSegment, "")),
            new("b", 2, new RecommendationReason(ReasonKind.PopularInSegment, "")),
            new("a", 4, new RecommendationReason(ReasonKind.PopularInSegment, "")),
        };
        var blender = new RecommendationBlender([new BlendedSource(new ReversedSource(candidates), 1)], catalog);

        var list = blender.Recommend(new RecommendationRequest { Now = s_now, Count = 3 });

        Assert.Equal(["a", "b", "c"], list.Select(r => r.ItemId));
        Assert.Equal([1, 0.5, 0.25], list.Select(r => r.Score));
    }

    // A source that gives its sorted candidates reversed when asked for them unsorted: its best comes last.
    private sealed class ReversedSource(Candidate[] sorted) : IUnorderedCandidateSource
    {
        public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) => sorted;

        public ArraySegment<Candidate> GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
        {
            var rented = RentedCandidates.Make(sorted.Length, rented: true);
            for (var i = 0; i < sorted.Length; i++)
            {
                rented[i] = sorted[^(i + 1)];
            }

            return rented;
        }
    }

    // 30 items in three categories, 40 shoppers each buying or viewing a few of one category, some items tied.
    private static (ItemCatalog Catalog, SegmentPopularity Popularity, List<(string, string)> Pairs) Shop()
    {
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, TimeSpan.FromDays(30));
        string[] categories = ["sports.running", "home.kitchen", "books"];
        for (var i = 0; i < 30; i++)
        {
            catalog.Observe($"item-{i:D2}", categories[i % 3]);
        }

        var pairs = new List<(string, string)>();
        for (var u = 0; u < 40; u++)
        {
            for (var k = 0; k < 4; k++)
            {
                var item = $"item-{((u % 3) + (3 * ((u + k) % 10))) % 30:D2}";
                pairs.Add(($"u{u}", item));
                popularity.Record(["lifecycle:active"], new Interaction(item, k == 0 ? EventType.Purchase : EventType.View, s_now.AddHours(-u)));
            }
        }

        return (catalog, popularity, pairs);
    }
}
