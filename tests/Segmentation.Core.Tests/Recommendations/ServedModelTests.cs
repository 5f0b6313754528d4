using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>What the served item model rests on: EASEᴿ bounded in items and stored byte for byte, and blend weights tuned on held-out data.</summary>
public sealed class ServedModelTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // 40 users: "a"-people take a1..a4, "b"-people b1..b4, and everyone takes one of the rare items r0..r9.
    private static List<(string User, string Item)> Pairs()
    {
        var pairs = new List<(string, string)>();
        for (var u = 0; u < 40; u++)
        {
            var kind = u % 2 == 0 ? "a" : "b";
            for (var i = 1; i <= 4; i++)
            {
                if ((u + i) % 5 != 0)
                {
                    pairs.Add(($"u{u}", $"{kind}{i}"));
                }
            }

            pairs.Add(($"u{u}", $"r{u % 10}"));
        }

        return pairs;
    }

    [Fact]
    public void ItemBound_KeepsTheItemsWithTheMostUsers()
    {
        var model = EaseModel.Train(Pairs(), 10, maxItems: 8);
        Assert.Equal(8, model.ItemCount);
        Assert.Equal(8L * 8 * sizeof(float), model.WeightBytes);
        Assert.All(new[] { "a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4" }, item => Assert.True(model.Contains(item), item));
        Assert.False(model.Contains("r0"));

        // A user's items outside the bound are ignored; the ones inside still score.
        var request = new RecommendationRequest { History = [new Interaction("a1", EventType.View, s_t0), new Interaction("r3", EventType.View, s_t0)], Now = s_t0 };
        var top = model.GetCandidates(request, 3, static item => item != "a1");
        Assert.All(top, c => Assert.StartsWith("a", c.ItemId, StringComparison.Ordinal));
    }

    [Fact]
    public void WrittenModel_ReadsBackTheSameWeights_AndAnythingElseIsRefusedWithTheReason()
    {
        var model = EaseModel.Train(Pairs(), 10);
        using var stream = new MemoryStream();
        model.Write(stream);
        stream.Position = 0;
        var read = EaseModel.Read(stream);

        Assert.Equal(model.ItemCount, read.ItemCount);
        foreach (var from in new[] { "a1", "b2", "r3" })
        {
            foreach (var to in new[] { "a2", "b3", "r4" })
            {
                Assert.Equal(model.Weight(from, to), read.Weight(from, to));
            }
        }

        var truncated = new MemoryStream(stream.ToArray()[..^7]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => EaseModel.Read(truncated)).Message, StringComparison.Ordinal);
        Assert.Contains("EASE1", Assert.Throws<InvalidDataException>(() => EaseModel.Read(new MemoryStream("not a model"u8.ToArray()))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tuning_WeighsUpTheSourceThatPredictsTheHeldOutItems()
    {
        // Each user's next item is the one she viewed most recently but one (a "continue where you left off" shop),
        // which EASEᴿ cannot know and recency can: the tuned blend must lean on recency and beat EASEᴿ alone.
        var pairs = Pairs();
        var ease = EaseModel.Train(pairs, 10);
        var recent = new RecentlyViewed(TimeSpan.FromDays(3));
        var cases = new List<ValidationCase>();
        foreach (var user in pairs.GroupBy(p => p.User))
        {
            var items = user.Select(p => p.Item).ToArray();
            var history = items.Select((item, i) => new Interaction(item, EventType.View, s_t0.AddHours(i))).ToArray();
            cases.Add(new ValidationCase(new RecommendationRequest { UserId = user.Key, History = history, Now = s_t0.AddHours(items.Length) }, new HashSet<string> { items[^2] }));
        }

        var result = BlendTuning.Tune([ease, recent], cases);
        Assert.Equal(1, result.Weights[0]);
        Assert.True(result.Weights[1] > 0, "recency got no weight");
        Assert.True(result.Ndcg > result.SourceAloneNdcg[0], $"blend {result.Ndcg} vs EASE alone {result.SourceAloneNdcg[0]}");
        Assert.True(result.Ndcg >= result.SourceAloneNdcg[1]);
        Assert.Equal(cases.Count, result.Cases);
    }

    [Fact]
    public void Tuning_ChoosesTheRankingThatServesHerCategory_AndScoresTheListTheBlenderServes()
    {
        // Each "b" (sports) item is a little more popular than its "a" (books) twin, but these shoppers read: each one's
        // next item is the best "a" item she has not bought, which plain popularity ranks below sports items and an
        // affinity boost ranks first.
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, halfLife: null);
        for (var i = 0; i < 10; i++)
        {
            catalog.Observe($"a{i}", "books.novels");
            catalog.Observe($"b{i}", "sports.shoes");
            for (var n = 0; n < 30 - (2 * i); n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction($"a{i}", EventType.View, s_t0));
                popularity.Record([SegmentPopularity.Everyone], new Interaction($"b{i}", EventType.View, s_t0));
            }

            popularity.Record([SegmentPopularity.Everyone], new Interaction($"b{i}", EventType.View, s_t0));
        }

        var recent = new RecentlyViewed(TimeSpan.FromDays(3));
        var cases = new List<ValidationCase>();
        for (var u = 0; u < 6; u++)
        {
            var history = Enumerable.Range(0, u + 1).Select(i => new Interaction($"a{i}", EventType.Purchase, s_t0.AddHours(1))).ToArray();
            cases.Add(new ValidationCase(
                new RecommendationRequest { UserId = $"u{u}", History = history, CategoryAffinities = [new("books", 9, 0.9), new("sports", 1, 0.1)], Now = s_t0.AddHours(2) },
                new HashSet<string> { $"a{u + 1}" })
            { AsksNext = true });
        }

        PersonalRanking none = new() { AffinityBoost = 0, MaxCategoryShare = 1 };
        PersonalRanking boosted = none with { AffinityBoost = 2 };
        var plain = BlendTuning.Tune([popularity, recent], cases, rankings: [none], catalog: catalog);
        var result = BlendTuning.Tune([popularity, recent], cases, rankings: [none, boosted], catalog: catalog);
        Assert.Same(none, plain.Ranking);
        Assert.Same(boosted, result.Ranking);
        Assert.True(result.Ndcg > plain.Ndcg, $"boosted {result.Ndcg} vs plain {plain.Ndcg}");
        Assert.Equal(1, result.NewHitRate);

        // The score the tuning reports is the one of the list the blender serves under the chosen weights and ranking.
        var blender = new RecommendationBlender(
            result.Weights.Select((w, i) => (w, i)).Where(p => p.w > 0).Select(p => new BlendedSource(p.i == 0 ? popularity : recent, p.w)),
            catalog, new BlendOptions { Personalization = result.Ranking });
        var served = cases.Average(c =>
        {
            var rank = blender.Recommend(c.Request).Select(r => r.ItemId).ToList().FindIndex(c.Relevant.Contains);
            return rank < 0 ? 0 : 1 / Math.Log2(rank + 2);
        });
        Assert.Equal(served, result.Ndcg, 12);
        Assert.Equal(cases.Count, result.Cases);
    }

    // Ten books she viewed at the same time (recency scores them alike) and twenty sports items of nearly the same
    // popularity, none hers. Half the shoppers come back to the first book, half go on to the third most popular item.
    private static (ItemCatalog Catalog, SegmentPopularity Popularity, RecentlyViewed Recent, List<ValidationCase> Cases) RemindersAndNewItems()
    {
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, halfLife: null);
        for (var i = 0; i < 20; i++)
        {
            catalog.Observe($"p{i:D2}", "sports.shoes");
            for (var n = 0; n < 100 - i; n++)
            {
                popularity.Record([SegmentPopularity.Everyone], new Interaction($"p{i:D2}", EventType.View, s_t0));
            }
        }

        var cases = new List<ValidationCase>();
        for (var u = 0; u < 8; u++)
        {
            var history = Enumerable.Range(0, 10).Select(i => new Interaction($"a{i}", EventType.View, s_t0.AddHours(1))).ToArray();
            foreach (var x in history)
            {
                catalog.Observe(x.ItemId, "books.novels");
            }

            cases.Add(new ValidationCase(
                new RecommendationRequest { UserId = $"u{u}", History = history, CategoryAffinities = [new("books", 1, 1)], Now = s_t0.AddHours(2) },
                new HashSet<string> { u % 2 == 0 ? "a0" : "p02" })
            { AsksNext = true });
        }

        return (catalog, popularity, new RecentlyViewed(TimeSpan.FromDays(3)), cases);
    }

    [Fact]
    public void Tuning_ChoosesADiscoverySplit_WhereNoWeightServesBothReminderAndNewItem_AndScoresTheListTheBlenderServes()
    {
        // Weights alone either fill the list with her books (popularity weighed at most as much as recency: the books
        // score 1, the best sports item at most 1 and loses the tie) or with sports items (weighed 2: all twenty score
        // above 1). Only a split serves both shoppers: her best books first, then the most popular new items.
        var (catalog, popularity, recent, cases) = RemindersAndNewItems();
        var unsplit = BlendTuning.Tune([recent, popularity], cases, discovery: 0.5);
        Assert.Equal(0, unsplit.DiscoveryShare);
        Assert.True(unsplit.NewHitRate == 0 || unsplit.Ndcg < 0.5 || unsplit.HitRate < 1, $"weights alone served both: {unsplit}");

        PersonalRanking none = new() { AffinityBoost = 0, MaxCategoryShare = 1 };
        foreach (var rankings in new[] { null, new[] { none } })
        {
            var result = BlendTuning.Tune([recent, popularity], cases, rankings: rankings, catalog: catalog, discovery: 0.5, discoveryShares: [0, 0.3, 0.5, 0.8]);
            // 0.8 of the places: her two best books, then eight new items, so the third most popular comes fifth.
            Assert.Equal(0.8, result.DiscoveryShare);
            Assert.Equal(1, result.NewHitRate);
            Assert.Equal(1, result.HitRate);
            Assert.True(result.Ndcg > unsplit.Ndcg, $"split {result.Ndcg} vs unsplit {unsplit.Ndcg}");

            // The score the tuning reports is the one of the list the blender serves with that split.
            var blender = new RecommendationBlender(
                result.Weights.Select((w, i) => (w, i)).Where(p => p.w > 0).Select(p => new BlendedSource(p.i == 0 ? recent : popularity, p.w)),
                catalog, new BlendOptions { Personalization = result.Ranking, DiscoveryShare = result.DiscoveryShare });
            var served = cases.Average(c =>
            {
                var list = blender.Recommend(c.Request with { Count = 10 }).Select(r => r.ItemId).ToList();
                Assert.True(list.Count(i => i.StartsWith('a')) <= BlendOptions.MaxReminders(result.DiscoveryShare, 10), string.Join(",", list));
                var rank = list.FindIndex(c.Relevant.Contains);
                return rank < 0 ? 0 : 1 / Math.Log2(rank + 2);
            });
            Assert.Equal(served, result.Ndcg, 12);
        }
    }

    [Fact]
    public void DiscoverySplit_KeepsPlacesForNewItems_AndRemindersFillThemWhenTooFewNewItemsAreProposed()
    {
        var (catalog, popularity, recent, cases) = RemindersAndNewItems();
        var request = cases[0].Request with { Count = 10 };
        var blend = new[] { new BlendedSource(recent, 1), new BlendedSource(popularity, 0.5) };

        // No split: her ten books fill the list (each scores 1, every sports item at most 0.5).
        var plain = new RecommendationBlender(blend, catalog).Recommend(request).Select(r => r.ItemId).ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"a{i}"), plain);

        // 0.4 of the places for new items: six books, then the four most popular sports items, in rank order.
        var split = new RecommendationBlender(blend, catalog, new BlendOptions { DiscoveryShare = 0.4 }).Recommend(request).Select(r => r.ItemId).ToList();
        Assert.Equal(["a0", "a1", "a2", "a3", "a4", "a5", "p00", "p01", "p02", "p03"], split);

        // Two new items only (the others excluded): the places left go to the books passed over, best first, after them.
        var few = request with { ExcludedItems = Enumerable.Range(2, 18).Select(i => $"p{i:D2}").ToHashSet(StringComparer.Ordinal) };
        var filled = new RecommendationBlender(blend, catalog, new BlendOptions { DiscoveryShare = 0.4 }).Recommend(few).Select(r => r.ItemId).ToList();
        Assert.Equal(["a0", "a1", "a2", "a3", "a4", "a5", "p00", "p01", "a6", "a7"], filled);

        // Personalised (her books capped at half the list): the cap and the split together, the favourite kept.
        var personal = new RecommendationBlender(blend, catalog, new BlendOptions { DiscoveryShare = 0.4, Personalization = new PersonalRanking { AffinityBoost = 0, MaxCategoryShare = 0.5 } })
            .Recommend(request).Select(r => r.ItemId).ToList();
        Assert.Equal(["a0", "a1", "a2", "a3", "a4", "p00", "p01", "p02", "p03", "p04"], personal);
    }
}
