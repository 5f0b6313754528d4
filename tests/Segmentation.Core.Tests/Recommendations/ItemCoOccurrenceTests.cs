using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

public sealed class ItemCoOccurrenceTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static Interaction Buy(string item, int day = 0) => new(item, EventType.Purchase, s_t0.AddDays(day));

    private static Interaction View(string item, int day = 0) => new(item, EventType.View, s_t0.AddDays(day));

    private static ItemCoOccurrence Counting(ItemSimilarityKind kind = ItemSimilarityKind.Jaccard) =>
        new(new ItemCoOccurrenceOptions { Weights = InteractionWeights.Uniform, HalfLife = null, AffinityHalfLife = null, Similarity = kind });

    [Fact]
    public void UniformWeights_CountUsers_AsSar()
    {
        var model = Counting();
        model.Record("u1", Buy("a"));
        model.Record("u1", Buy("b"));
        model.Record("u1", Buy("b")); // Again: a user counts once.
        model.Record("u2", Buy("a"));
        model.Record("u2", Buy("b"));
        model.Record("u2", Buy("c"));

        Assert.Equal(2, model.Occurrence("a", s_t0));
        Assert.Equal(2, model.CoOccurrence("a", "b", s_t0));
        Assert.Equal(2, model.CoOccurrence("b", "a", s_t0));
        Assert.Equal(1, model.CoOccurrence("a", "c", s_t0));
        Assert.Equal(0, model.CoOccurrence("a", "a", s_t0));
        Assert.Equal(1.0, model.Similarity("a", "b", s_t0), 12);          // 2 / (2 + 2 − 2)
        Assert.Equal(0.5, model.Similarity("a", "c", s_t0), 12);          // 1 / (2 + 1 − 1)
    }

    [Theory]
    [InlineData(ItemSimilarityKind.CoCount, 1.0)]
    [InlineData(ItemSimilarityKind.Lift, 0.5)]      // 1 / (2 · 1)
    [InlineData(ItemSimilarityKind.Jaccard, 0.5)]
    public void SimilarityKinds_FollowTheirFormulas(ItemSimilarityKind kind, double expected)
    {
        var model = Counting(kind);
        model.Record("u1", Buy("a"));
        model.Record("u2", Buy("a"));
        model.Record("u2", Buy("c"));
        Assert.Equal(expected, model.Similarity("a", "c", s_t0), 12);
    }

    [Fact]
    public void EventWeights_PairsCountTheWeakerSide_AndAPurchaseUpgradesAView()
    {
        var model = new ItemCoOccurrence(new ItemCoOccurrenceOptions { HalfLife = null }); // view 1, cart 3, purchase 5
        model.Record("u", View("a"));
        model.Record("u", Buy("b"));
        Assert.Equal(1, model.CoOccurrence("a", "b", s_t0));
        Assert.Equal(1, model.Occurrence("a", s_t0));

        model.Record("u", new Interaction("a", EventType.AddToCart, s_t0));
        Assert.Equal(3, model.CoOccurrence("a", "b", s_t0));
        model.Record("u", Buy("a"));
        Assert.Equal(5, model.CoOccurrence("a", "b", s_t0));
        Assert.Equal(5, model.Occurrence("a", s_t0));

        model.Record("u", View("a")); // Weaker than what is known: nothing changes.
        Assert.Equal(5, model.CoOccurrence("a", "b", s_t0));
        model.Record("u", new Interaction("a", EventType.Search, s_t0)); // Weight 0: ignored.
        Assert.Equal(5, model.Occurrence("a", s_t0));
    }

    [Fact]
    public void Counts_HalveEveryHalfLife_AndSurviveLongGaps()
    {
        var model = new ItemCoOccurrence(new ItemCoOccurrenceOptions { Weights = InteractionWeights.Uniform, HalfLife = TimeSpan.FromDays(10) });
        model.Record("u", Buy("a"));
        model.Record("u", Buy("b"));
        Assert.Equal(1, model.CoOccurrence("a", "b", s_t0), 12);
        Assert.Equal(0.5, model.CoOccurrence("a", "b", s_t0.AddDays(10)), 12);

        // 100 years later: 2^3650 would overflow a double without rebasing.
        var later = s_t0.AddYears(100);
        model.Record("v", new Interaction("a", EventType.Purchase, later));
        model.Record("v", new Interaction("c", EventType.Purchase, later));
        Assert.Equal(1, model.CoOccurrence("a", "c", later), 9);
        Assert.Equal(0, model.CoOccurrence("a", "b", later), 9);
        Assert.True(double.IsFinite(model.Occurrence("a", later)));
    }

    [Fact]
    public void DecayedPairs_CountAsOfTheLaterItem_WhateverOrderTheInteractionsArriveIn()
    {
        // A pair counts the weaker side's weight as of the later of its two items' times (halving every 10 days). Sent in
        // time order, late, and upgraded (a purchase after a view moves the item's strength and time): the counts are
        // those of the formula, the same in every arrival order.
        var options = new ItemCoOccurrenceOptions { HalfLife = TimeSpan.FromDays(10) };
        var w = InteractionWeights.Default;
        var (view, buy) = (w.Of(View("x")), w.Of(Buy("x")));
        Interaction[] interactions =
        [
            new("a", EventType.View, s_t0),
            new("b", EventType.View, s_t0.AddDays(10)),
            new("c", EventType.Purchase, s_t0.AddDays(20)),
            new("a", EventType.Purchase, s_t0.AddDays(30)),
        ];
        int[][] orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
        foreach (var order in orders)
        {
            var model = new ItemCoOccurrence(options);
            foreach (var i in order)
            {
                model.Record("u", interactions[i]);
            }

            // As of day 30: a (bought day 30) with b (viewed day 10) counts the view as of day 30; b with c as of day 20,
            // halved once by day 30; a with c, both bought, as of day 30.
            var now = s_t0.AddDays(30);
            Assert.Equal(view, model.CoOccurrence("a", "b", now), 9);
            Assert.Equal(view / 2, model.CoOccurrence("b", "c", now), 9);
            Assert.Equal(buy, model.CoOccurrence("a", "c", now), 9);
            Assert.Equal(buy, model.Occurrence("a", now), 9);
            Assert.Equal(buy / 2, model.Occurrence("c", now), 9);
        }
    }

    [Fact]
    public void Candidates_ScoreBySimilarityTimesAffinity_WithTheBestContributorAsReason()
    {
        var model = Counting(ItemSimilarityKind.CoCount);
        model.Record("u1", Buy("a"));
        model.Record("u1", Buy("x"));
        model.Record("u2", Buy("a"));
        model.Record("u2", Buy("x"));
        model.Record("u3", Buy("b"));
        model.Record("u3", Buy("y"));

        var request = new RecommendationRequest { History = [Buy("a"), Buy("b")], Now = s_t0 };
        var candidates = model.GetCandidates(request, 10, _ => true);

        Assert.Equal(["x", "y"], candidates.Select(c => c.ItemId));
        var x = candidates.Single(c => c.ItemId == "x");
        Assert.Equal(2, x.Score, 12);
        Assert.Equal(new RecommendationReason(ReasonKind.BoughtTogether, "a"), x.Reason);
        Assert.Equal("often bought with a", x.Reason.Text);
        Assert.Equal("b", candidates.Single(c => c.ItemId == "y").Reason.Cause);
        Assert.Equal(["y"], model.GetCandidates(request, 10, id => id != "x").Select(c => c.ItemId));
    }

    [Fact]
    public void SimilarItems_RankByJaccard_ThenId()
    {
        var model = Counting();
        foreach (var user in new[] { "u1", "u2" })
        {
            model.Record(user, Buy("p"));
            model.Record(user, Buy("q"));
        }

        model.Record("u3", Buy("p"));
        model.Record("u3", Buy("s"));
        model.Record("u3", Buy("r"));

        Assert.Equal(["q", "r", "s"], model.SimilarItems("p", 5, s_t0).Select(c => c.ItemId));
        Assert.Empty(model.SimilarItems("unknown", 5, s_t0));
    }

    [Fact]
    public void MaxItemsPerUser_AndForgetUser_BoundMemory_WithoutTouchingCounts()
    {
        var model = new ItemCoOccurrence(new ItemCoOccurrenceOptions { Weights = InteractionWeights.Uniform, HalfLife = null, MaxItemsPerUser = 2 });
        model.Record("u", Buy("a"));
        model.Record("u", Buy("b"));
        model.Record("u", Buy("c")); // "a" is forgotten for u: c pairs with b only.
        Assert.Equal(1, model.CoOccurrence("b", "c", s_t0));
        Assert.Equal(0, model.CoOccurrence("a", "c", s_t0));
        Assert.Equal(1, model.CoOccurrence("a", "b", s_t0));

        Assert.True(model.ForgetUser("u"));
        Assert.Equal(0, model.UserCount);
        Assert.False(model.ForgetUser("u"));
        model.Record("u", Buy("d"));
        Assert.Equal(0, model.CoOccurrence("c", "d", s_t0));
        Assert.Equal(1, model.CoOccurrence("b", "c", s_t0));
    }

    [Fact]
    public void DomainEvents_BecomeInteractions()
    {
        var e = new BehaviorEvent { EventId = "e1", UserId = "u", Type = EventType.Rating, ItemId = "m", Rating = 4, Timestamp = s_t0 };
        Assert.Equal(new Interaction("m", EventType.Rating, s_t0, 4), Interaction.From(e));
        Assert.Equal(4, InteractionWeights.Default.Of(Interaction.From(e)));
    }

    [Fact]
    public void ConcurrentUpdatesAndQueries_LoseNothing()
    {
        var model = Counting(ItemSimilarityKind.CoCount);
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 4 }, u =>
        {
            var user = $"u{u}";
            model.Record(user, Buy("a"));
            _ = model.GetCandidates(new RecommendationRequest { History = [Buy("a")], Now = s_t0 }, 5, _ => true);
            model.Record(user, Buy("b"));
        });

        Assert.Equal(400, model.CoOccurrence("a", "b", s_t0));
        Assert.Equal(400, model.Occurrence("b", s_t0));
    }

    [Fact]
    public void MaxNeighbours_ReadsOnlyTheMostSimilarPairs_AndKeepsTheirLiveCounts()
    {
        var random = new Random(11);
        var full = new ItemCoOccurrence(new ItemCoOccurrenceOptions { HalfLife = null, AffinityHalfLife = null });
        var pruned = new ItemCoOccurrence(new ItemCoOccurrenceOptions { HalfLife = null, AffinityHalfLife = null, MaxNeighbours = 30 });
        for (var u = 0; u < 400; u++)
        {
            var basket = Enumerable.Range(0, 6).Select(_ => $"i{(int)Math.Pow(random.Next(1, 300), 1.3) % 300:D3}").ToList();
            foreach (var item in basket)
            {
                full.Record($"u{u}", Buy(item));
                pruned.Record($"u{u}", Buy(item));
            }
        }

        var request = new RecommendationRequest { History = [Buy("i001"), Buy("i002")], Now = s_t0 };
        var exact = full.GetCandidates(request, 100, _ => true);
        var fast = pruned.GetCandidates(request, 10, _ => true);

        // Every pruned score is a partial sum of the exact one (fewer pairs read, same counts: nothing changed since) ...
        var exactScores = exact.ToDictionary(c => c.ItemId, c => c.Score);
        Assert.All(fast, c => Assert.InRange(c.Score, 0, exactScores[c.ItemId] + 1e-12));

        // ... and the best items, whose evidence lies in the most similar pairs, come out the same.
        Assert.Equal(exact.Take(3).Select(c => c.ItemId), fast.Take(3).Select(c => c.ItemId));

        // Rows no longer than the bound are read live: a new pair counts at once.
        pruned.Record("late", Buy("rare-a"));
        pruned.Record("late", Buy("rare-b"));
        var rare = pruned.GetCandidates(new RecommendationRequest { History = [Buy("rare-a")], Now = s_t0 }, 3, _ => true);
        Assert.Equal("rare-b", rare[0].ItemId);
    }

    [Fact]
    public async Task ConcurrentRecordsAndQueries_DoNotCorruptTheModel()
    {
        var model = new ItemCoOccurrence(new ItemCoOccurrenceOptions { MaxNeighbours = 5 });
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(() =>
        {
            for (var n = 0; n < 5_000; n++)
            {
                model.Record($"u{w}-{n % 50}", Buy($"i{(n * 7) % 97}", n % 30));
            }
        }));
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            for (var n = 0; n < 2_000; n++)
            {
                var got = model.GetCandidates(new RecommendationRequest { History = [Buy($"i{n % 97}")], Now = s_t0.AddDays(30) }, 5, _ => true);
                Assert.True(got.Count <= 5);
            }
        }));
        await Task.WhenAll([.. writers, .. readers]);
        Assert.Equal(97, model.ItemCount);
    }

    [Fact]
    public void ReplaceCountsWith_TakesTheRebuiltCounts_KeepsLiveUsersItems_AndDropsTheForgotten()
    {
        var live = Counting();
        live.Record("erased", Buy("a"));
        live.Record("erased", Buy("b"));
        live.Record("stays", Buy("a"));
        var rebuilt = Counting(); // the log without "erased"
        rebuilt.Record("stays", Buy("a"));

        live.ReplaceCountsWith(rebuilt, new HashSet<string> { "erased" });

        Assert.Equal((0.0, 0.0, 1.0), (live.CoOccurrence("a", "b", s_t0), live.Occurrence("b", s_t0), live.Occurrence("a", s_t0)));
        Assert.Equal(PairEvidence.None, live.Evidence("a", "b"));
        Assert.Equal(1, live.UserCount);

        // Her remembered items are gone; his are carried over into the rebuilt numbering and still pair with what comes next.
        live.Record("stays", Buy("c"));
        live.Record("erased", Buy("c"));
        Assert.Equal(1, live.CoOccurrence("a", "c", s_t0));
        Assert.Equal(0, live.CoOccurrence("b", "c", s_t0));
    }

    [Fact]
    public void ReusedScoringBuffers_GiveEveryQueryTheAnswerOfAFreshModel_AsTheCatalogueGrows()
    {
        // Queries share pooled per-item buffers that are reset, not cleared: one query's items must never leak into the
        // next, and a catalogue that outgrows the buffers must still be scored whole.
        var model = Counting();
        for (var u = 0; u < 30; u++)
        {
            model.Record($"u{u}", Buy($"i{u % 7}"));
            model.Record($"u{u}", Buy($"i{(u + 1) % 7}"));
            model.Record($"u{u}", Buy($"i{(u * 3) % 11}"));
        }

        RecommendationRequest Asking(params string[] items) => new() { History = [.. items.Select(i => Buy(i))], Now = s_t0 };
        var first = model.GetCandidates(Asking("i1"), 5, static _ => true);
        Assert.NotEmpty(first);
        var other = model.GetCandidates(Asking("i4", "i9"), 5, static _ => true);
        Assert.NotEmpty(other);
        Assert.Equal(first, model.GetCandidates(Asking("i1"), 5, static _ => true));

        // Past the buffers' room (a quarter more than the catalogue at the first query): new items pair with i1.
        for (var i = 0; i < 200; i++)
        {
            model.Record($"late-{i}", Buy("i1"));
            model.Record($"late-{i}", Buy($"new-{i}"));
        }

        var grown = model.GetCandidates(Asking("i1"), 300, static _ => true);
        Assert.Equal(200, grown.Count(c => c.ItemId.StartsWith("new-", StringComparison.Ordinal)));
        Assert.Equal(grown, model.GetCandidates(Asking("i1"), 300, static _ => true));
    }
}
