using Segmentation.Core.Recommendations;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>Popularity, embeddings, recent views and EASEᴿ on their own.</summary>
public sealed class SourceTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static RecommendationRequest Request(params Interaction[] history) => new() { History = history, Now = s_t0 };

    [Fact]
    public void Popularity_DecaysWithTime_SoRecentInterestWins()
    {
        var popularity = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        for (var i = 0; i < 3; i++)
        {
            popularity.Record(["ml:1"], new Interaction("old", EventType.Purchase, s_t0.AddDays(-28))); // 3 × 5 / 16
        }

        popularity.Record(["ml:1"], new Interaction("new", EventType.Purchase, s_t0.AddDays(-1)));

        Assert.Equal(15.0 / 16, popularity.Popularity("ml:1", "old", s_t0), 9);
        var top = popularity.GetCandidates(Request() with { SegmentKeys = ["ml:1"] }, 5, _ => true);
        Assert.Equal(["new", "old"], top.Select(c => c.ItemId));
        Assert.Equal(1, top[0].Score, 12);
        Assert.Equal("popular in your segment 'ml:1'", top[0].Reason.Text);
        Assert.Equal(0, popularity.Popularity("ml:2", "new", s_t0));
    }

    [Fact]
    public void Popularity_AnItemMovedOutOfAKeyAfterItsRanking_IsSkipped_AndIsReadAtItsNewValueWhenItComesBack()
    {
        // 300 items, one view each, newer ones more popular; the key's ranking then holds each item's live value. Two
        // changes (out, then back) leave the ranking fresh (more than 1% of the key's items must change to rank again),
        // so the walk meets item-299 in the ranking first both times, holding the value it was ranked with.
        var popularity = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(30));
        for (var i = 0; i < 300; i++)
        {
            popularity.Record(["ml:1"], new Interaction($"item-{i:D3}", EventType.View, s_t0.AddHours(i - 300)));
        }

        var request = Request() with { SegmentKeys = ["ml:1"] };
        Assert.Equal("item-299", popularity.GetCandidates(request, 5, _ => true)[0].ItemId);

        popularity.Move("ml:1", "ml:2", new Interaction("item-299", EventType.View, s_t0.AddHours(-1)));
        var moved = popularity.GetCandidates(request, 5, _ => true);
        Assert.Equal(["item-298", "item-297", "item-296", "item-295", "item-294"], moved.Select(c => c.ItemId));

        // Back with one old view: the least popular of the key now, found where the ranking put it (first) and scored
        // by the value it has now, not the one it was ranked with.
        popularity.Record(["ml:1"], new Interaction("item-299", EventType.View, s_t0.AddDays(-60)));
        var back = popularity.GetCandidates(request, 5, _ => true);
        Assert.Equal(["item-298", "item-297", "item-296", "item-295", "item-299"], back.Select(c => c.ItemId));
        Assert.Equal(
            popularity.Popularity("ml:1", "item-299", s_t0) / popularity.Popularity("ml:1", "item-298", s_t0),
            back[^1].Score,
            12);
    }

    [Fact]
    public async Task Popularity_QueriedWhileRecorded_RanksAgainAndLosesNothing()
    {
        // Queries read side by side and re-rank stale keys while writers record: nothing may throw, every recorded
        // interaction must count, and the final ranking must be the exact one.
        var popularity = new SegmentPopularity(new ItemCatalog(), halfLife: null);
        const int Writers = 4, Items = 300;
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            var queries = 0;
            while (!stop.IsCancellationRequested || queries == 0)
            {
                var top = popularity.GetCandidates(Request() with { SegmentKeys = ["ml:1"] }, 10, static id => !id.EndsWith('7'));
                Assert.True(top.Count <= 10);
                Assert.DoesNotContain(top, c => c.ItemId.EndsWith('7'));
                queries++;
            }

            return queries;
        })).ToArray();
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(() =>
        {
            // Each writer views item k k+1 times, so the final ranking has no ties.
            for (var k = 0; k < Items; k++)
            {
                var item = $"sku-{k:D3}";
                for (var r = 0; r <= k; r++)
                {
                    popularity.Record(["ml:1", SegmentPopularity.Everyone], new Interaction(item, EventType.View, s_t0));
                }
            }
        })));
        await stop.CancelAsync();
        Assert.All(await Task.WhenAll(readers), q => Assert.True(q > 0));

        var total = Enumerable.Range(0, Items).Sum(k => popularity.Popularity("ml:1", $"sku-{k:D3}", s_t0));
        Assert.Equal(Writers * Items * (Items + 1) / 2, total, 6);
        var expected = Enumerable.Range(0, Items).Reverse().Select(k => $"sku-{k:D3}").Where(id => !id.EndsWith('7')).Take(10);
        var final = popularity.GetCandidates(Request() with { SegmentKeys = ["ml:1"] }, 10, static id => !id.EndsWith('7'));
        Assert.Equal(expected, final.Select(c => c.ItemId));
    }

    [Fact]
    public void Popularity_CountsAKeyGivenTwiceOnce_FromASpanOrAList()
    {
        var fromSpan = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var fromList = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var view = new Interaction("sku", EventType.View, s_t0);

        fromSpan.Record(["ml:1", "lifecycle:new", "ml:1", SegmentPopularity.Everyone, "lifecycle:new"], view);
        fromList.Record(new List<string> { "ml:1", "lifecycle:new", "ml:1", SegmentPopularity.Everyone, "lifecycle:new" }, view);

        foreach (var popularity in new[] { fromSpan, fromList })
        {
            Assert.Equal(1, popularity.Popularity("ml:1", "sku", s_t0), 12);
            Assert.Equal(1, popularity.Popularity("lifecycle:new", "sku", s_t0), 12);
            Assert.Equal(1, popularity.Popularity(SegmentPopularity.Everyone, "sku", s_t0), 12);
        }
    }

    [Fact]
    public void TopK_KeepsTheBestK_AndItsHeapIsNotAllocatedPerUse()
    {
        // Every source of a Recommend keeps its best candidates in one (several for popularity): the heap is pooled, so
        // keeping the best 50 of 1,000 allocates what keeping the best 2 does, plus only the larger answer.
        var ids = Enumerable.Range(0, 1_000).Select(i => $"item{i:D4}").ToArray();
        var random = new Random(3);
        var scores = ids.Select(_ => Math.Round(random.NextDouble(), 2)).ToArray();
        static long Allocated(Action action)
        {
            action(); // warm: statics, the pool's first arrays
            var before = GC.GetAllocatedBytesForCurrentThread();
            action();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        List<(string Id, double Score, byte Value)> Best(int k)
        {
            var top = new TopK<byte>(k);
            for (var i = 0; i < ids.Length; i++)
            {
                top.Offer(ids[i], scores[i], 0);
            }

            return top.Drain();
        }

        var best = Best(50);
        var brute = ids.Select((id, i) => (Id: id, Score: scores[i])).OrderByDescending(x => x.Score).ThenBy(x => x.Id, StringComparer.Ordinal).Take(50);
        Assert.Equal(brute, best.Select(x => (x.Id, x.Score)));

        var answers = Allocated(() => _ = new List<(string, double, byte)>(50)) - Allocated(() => _ = new List<(string, double, byte)>(2));
        Assert.Equal(answers, Allocated(() => Best(50)) - Allocated(() => Best(2)));
    }

    [Fact]
    public void TopK_Appended_KeepsWhatOfferingTheSameItemsKeeps_AndTakesNoMore()
    {
        // Popularity's walks meet their items best first and keep at most k: appended, they are the same items, and sort
        // to the same order (ties of score by id), as offered.
        (string Id, double Score)[] items = [("d", 9), ("b", 7), ("c", 7), ("a", 7), ("e", 3), ("f", 2.5)];
        var offered = new TopK<byte>(items.Length);
        var appended = new TopK<byte>(items.Length);
        foreach (var (id, score) in items)
        {
            offered.Offer(id, score, 0);
            appended.Append(id, score, 1);
        }

        Assert.Equal(items.Select(x => x.Id), appended.Unordered().ToArray().Select(e => e.Id));
        Assert.Equal(["d", "a", "b", "c", "e", "f"], appended.Sorted().ToArray().Select(e => e.Id));
        Assert.Equal(offered.Drain().Select(x => (x.Id, x.Score)), appended.Drain().Select(x => (x.Id, x.Score)));

        // Past k, or an Offer into an appended collector (not a heap), is a caller's error, not a silently wrong answer.
        var full = new TopK<byte>(2);
        full.Append("a", 2, 0);
        Assert.Throws<InvalidOperationException>(() => full.Offer("b", 1, 0));
        full.Append("b", 1, 0);
        Assert.Throws<InvalidOperationException>(() => full.Append("c", 0.5, 0));
        full.Release();
    }

    [Fact]
    public void EmbeddingSearch_IsExactTopK_WithIdTieBreak()
    {
        const int n = 500, d = 24;
        var random = new Random(5);
        var matrix = new float[n * d];
        for (var i = 0; i < matrix.Length; i++)
        {
            matrix[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var ids = Enumerable.Range(0, n).Select(i => $"item{i:D3}").ToArray();
        var index = new ItemEmbeddingIndex(ids, matrix, d);
        var query = matrix.AsSpan(17 * d, d).ToArray();

        var brute = ids.Select((id, i) => (Id: id, Score: Dot(matrix.AsSpan(i * d, d), query)))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Id, StringComparer.Ordinal).Take(10).Select(x => x.Id);
        Assert.Equal(brute, index.Search(query, 10).Select(h => h.ItemId));
        Assert.Equal("item017", index.Search(query, 1)[0].ItemId);
        Assert.DoesNotContain(index.Search(query, 10, id => id != "item017"), h => h.ItemId == "item017");

        // Equal rows tie: the smaller id wins.
        var twins = new ItemEmbeddingIndex(["b", "a", "c"], [1, 0, 1, 0, 0, 1], 2);
        Assert.Equal(["a", "b"], twins.Search([1, 0], 2).Select(h => h.ItemId));
        Assert.Throws<ArgumentException>(() => twins.Search([1, 0, 0], 2));
        Assert.Throws<ArgumentException>(() => new ItemEmbeddingIndex(["a"], [1, 0, 0], 2));
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    [Fact]
    public void EmbeddingCandidates_NameTheClosestHistoryItem_OrTheTasteProfile()
    {
        // Unit vectors: x-ish items and y-ish items.
        var index = new ItemEmbeddingIndex(["x1", "x2", "y1", "y2"], [1, 0, 0.8f, 0.6f, 0, 1, 0.6f, 0.8f], 2);

        var fromHistory = index.GetCandidates(Request(new Interaction("x1", EventType.View, s_t0)), 5, id => id != "x1");
        Assert.Equal("x2", fromHistory[0].ItemId);
        Assert.Equal(new RecommendationReason(ReasonKind.SimilarToViewed, "x1"), fromHistory[0].Reason);

        var fromVector = index.GetCandidates(Request() with { UserVector = [0, 1] }, 2, _ => true);
        Assert.Equal(["y1", "y2"], fromVector.Select(c => c.ItemId));
        Assert.All(fromVector, c => Assert.Equal(ReasonKind.MatchesTasteProfile, c.Reason.Kind));
        Assert.Empty(index.GetCandidates(Request(), 5, _ => true));
    }

    [Fact]
    public void RecentlyViewed_ProposesViewedButNotBought_MostRecentFirst()
    {
        var source = new RecentlyViewed(TimeSpan.FromDays(1));
        var candidates = source.GetCandidates(
            Request(
                new Interaction("old", EventType.View, s_t0.AddDays(-3)),
                new Interaction("fresh", EventType.View, s_t0.AddHours(-1)),
                new Interaction("bought", EventType.View, s_t0.AddHours(-1)),
                new Interaction("bought", EventType.Purchase, s_t0),
                new Interaction("rated", EventType.Rating, s_t0, 5)),
            5,
            _ => true);

        Assert.Equal(["fresh", "old"], candidates.Select(c => c.ItemId));
        Assert.Equal(new RecommendationReason(ReasonKind.RecentlyViewed, "fresh"), candidates[0].Reason);
    }

    [Fact]
    public void RecentlyViewed_WithAShortHalfLife_StillProposesTheItemsOfAShopperAwayForWeeks_NewestFirst()
    {
        // Ten minutes' half-life, her last visit 40 days before "now": counted from now, 2^-5760 is 0 and she would
        // get nothing; counted from her newest interaction, her last visit's items come back, the latest first.
        var source = new RecentlyViewed(TimeSpan.FromMinutes(10));
        var visit = s_t0.AddDays(-40);
        var candidates = source.GetCandidates(
            Request(
                new Interaction("first", EventType.View, visit),
                new Interaction("second", EventType.View, visit.AddMinutes(2)),
                new Interaction("last", EventType.View, visit.AddMinutes(5)),
                new Interaction("months-ago", EventType.View, visit.AddDays(-60))),
            5,
            _ => true);

        Assert.Equal(["last", "second", "first"], candidates.Select(c => c.ItemId));
        Assert.All(candidates, c => Assert.True(c.Score > 0));
    }

    [Fact]
    public void Cholesky_InvertsASymmetricPositiveDefiniteMatrix()
    {
        const int n = 150;
        var random = new Random(3);
        var m = new double[n * n];
        for (var i = 0; i < m.Length; i++)
        {
            m[i] = random.NextDouble() - 0.5;
        }

        // A = MᵀM + I is symmetric positive definite.
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = i == j ? 1.0 : 0.0;
                for (var k = 0; k < n; k++)
                {
                    sum += m[(k * n) + i] * m[(k * n) + j];
                }

                a[(i * n) + j] = sum;
            }
        }

        var factor = (double[])a.Clone();
        Cholesky.Factor(factor, n, maxDegreeOfParallelism: 2);
        var inverse = new double[n * n];
        Cholesky.Invert(factor, n, inverse, maxDegreeOfParallelism: 2);

        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < n; k++)
                {
                    sum += a[(i * n) + k] * inverse[(k * n) + j];
                }

                Assert.Equal(i == j ? 1 : 0, sum, 9);
            }
        }

        var notPositive = new double[] { 1, 2, 2, 1 };
        Assert.Throws<ArgumentException>(() => Cholesky.Factor(notPositive, 2, 1));
    }

    [Fact]
    public void Ease_LearnsPositiveWeightsBetweenCoConsumedItems_AndExplainsThem()
    {
        var pairs = new List<(string, string)>();
        for (var u = 0; u < 30; u++)
        {
            var group = u % 2 == 0 ? new[] { "a", "b", "c" } : ["x", "y", "z"];
            pairs.AddRange(group.Where((_, i) => ((u / 2) + i) % 3 != 0).Select(item => ($"u{u}", item)));
        }

        var model = EaseModel.Train(pairs, lambda: 1, maxDegreeOfParallelism: 1);

        Assert.Equal(6, model.ItemCount);
        Assert.Equal(0, model.Weight("a", "a"));
        Assert.True(model.Weight("a", "b") > 0.1);
        Assert.True(model.Weight("a", "b") > model.Weight("a", "x"));

        var candidates = model.GetCandidates(Request(new Interaction("a", EventType.View, s_t0)), 2, id => id != "a");
        Assert.Equal(["b", "c"], candidates.Select(c => c.ItemId).Order(StringComparer.Ordinal));
        Assert.All(candidates, c => Assert.Equal(new RecommendationReason(ReasonKind.SimilarToViewed, "a"), c.Reason));

        // Same data, any parallelism: the same model.
        var again = EaseModel.Train(pairs, lambda: 1, maxDegreeOfParallelism: 2);
        Assert.Equal(model.Weight("b", "c"), again.Weight("b", "c"));
    }
}
