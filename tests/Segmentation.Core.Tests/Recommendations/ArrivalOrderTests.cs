using Segmentation.Core.Recommendations;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// The online models learn a function of the interactions, not of their arrival order: co-occurrence (each user within
/// MaxItemsPerUser distinct items by Record, beyond it with late interactions placed by Replay) and popularity give the
/// same counts and candidates for every order, late events included; a moved interaction leaves its old key as if it
/// had never been recorded there.
/// </summary>
public sealed class ArrivalOrderTests
{
    private static readonly (string User, Interaction Interaction)[] s_interactions = Make();

    [Fact]
    public void CoOccurrence_IsTheSame_ForEveryArrivalOrder()
    {
        var sorted = Learn(s_interactions.OrderBy(x => x.Interaction.Timestamp));
        for (var seed = 0; seed < 5; seed++)
        {
            var random = new Random(seed);
            var shuffled = Learn(s_interactions.OrderBy(_ => random.Next()));
            for (var a = 0; a < 12; a++)
            {
                Assert.Equal(sorted.Occurrence("i" + a, T0), shuffled.Occurrence("i" + a, T0), 1e-9);
                for (var b = 0; b < 12; b++)
                {
                    Assert.Equal(sorted.CoOccurrence("i" + a, "i" + b, T0), shuffled.CoOccurrence("i" + a, "i" + b, T0), 1e-9);
                    Assert.Equal(sorted.Evidence("i" + a, "i" + b), shuffled.Evidence("i" + a, "i" + b));
                }

                Assert.Equal(sorted.SimilarItems("i" + a, 5, T0).Select(c => (c.ItemId, c.Reason)), shuffled.SimilarItems("i" + a, 5, T0).Select(c => (c.ItemId, c.Reason)));
            }
        }

        static ItemCoOccurrence Learn(IEnumerable<(string User, Interaction Interaction)> order)
        {
            var model = new ItemCoOccurrence(new ItemCoOccurrenceOptions { HalfLife = TimeSpan.FromDays(7) });
            foreach (var (user, interaction) in order)
            {
                model.Record(user, interaction);
            }

            return model;
        }
    }

    [Fact]
    public void CoOccurrence_OfUsersWithMoreItemsThanTheirLists_IsTheSame_ForEveryArrivalOrder()
    {
        // Lists of 4 items for users with up to 12: what each pairs depends on the order she is learned in, so a late
        // interaction is placed by Replay (as her grain does), in-time ones are recorded.
        var options = new ItemCoOccurrenceOptions { HalfLife = TimeSpan.FromDays(7), MaxItemsPerUser = 4 };
        var indexed = s_interactions.Select((x, i) => (x.User, x.Interaction, Key: i)).ToArray();
        var sorted = new ItemCoOccurrence(options);
        foreach (var (user, interaction, _) in indexed.OrderBy(x => x.Interaction.Timestamp).ThenBy(x => x.Key))
        {
            sorted.Record(user, interaction);
        }

        var replays = 0;
        for (var seed = 0; seed < 5; seed++)
        {
            var random = new Random(seed);
            var model = new ItemCoOccurrence(options);
            var arrived = new Dictionary<string, List<(Interaction Interaction, int Key)>>();
            foreach (var batch in indexed.OrderBy(_ => random.Next()).Chunk(random.Next(1, 6)))
            {
                foreach (var user in batch.GroupBy(x => x.User))
                {
                    var had = arrived.TryGetValue(user.Key, out var list) ? list : arrived[user.Key] = [];
                    var fresh = user.Select(x => (x.Interaction, x.Key)).OrderBy(x => x.Interaction.Timestamp).ThenBy(x => x.Key).ToList();
                    var late = had.Count > 0 && Compare(fresh[0], had[^1]) < 0;
                    var before = had.Select(x => x.Interaction).ToList();
                    had.AddRange(fresh);
                    had.Sort(Compare);
                    var after = had.Select(x => x.Interaction).ToList();
                    if (late && model.Evicts(after))
                    {
                        model.Replay(user.Key, before, after);
                        replays++;
                    }
                    else
                    {
                        fresh.ForEach(x => model.Record(user.Key, x.Interaction));
                    }
                }
            }

            AssertSameCounts(sorted, model);
        }

        Assert.True(replays > 0);

        static int Compare((Interaction Interaction, int Key) a, (Interaction Interaction, int Key) b) =>
            a.Interaction.Timestamp != b.Interaction.Timestamp ? a.Interaction.Timestamp.CompareTo(b.Interaction.Timestamp) : a.Key.CompareTo(b.Key);
    }

    [Fact]
    public void Replay_TakesBackAPairSheNoLongerForms_AndKeepsAnotherUsersShare()
    {
        // A list of 2: in time order a, b, c pairs a-b and b-c (a is forgotten when c comes). Arrived a, c, then b late:
        // a-c was paired, and the replay takes it back, count and evidence.
        var options = new ItemCoOccurrenceOptions { HalfLife = null, MaxItemsPerUser = 2 };
        var (a, b, c) = (new Interaction("a", EventType.Purchase, T0), new Interaction("b", EventType.Purchase, T0.AddHours(1)), new Interaction("c", EventType.Purchase, T0.AddHours(2)));
        var model = new ItemCoOccurrence(options);
        model.Record("her", a);
        model.Record("her", c);
        Assert.Equal(PairEvidence.Bought | PairEvidence.Viewed, model.Evidence("a", "c"));
        model.Record("other", new Interaction("b", EventType.View, T0));
        model.Record("other", new Interaction("c", EventType.View, T0));

        Assert.True(model.Evicts([a, b, c]));
        model.Replay("her", [a, c], [a, b, c]);

        Assert.Equal(0, model.CoOccurrence("a", "c", T0));
        Assert.Equal(PairEvidence.None, model.Evidence("a", "c"));
        Assert.DoesNotContain(model.SimilarItems("a", 5, T0), x => x.ItemId == "c");
        Assert.Equal(5, model.CoOccurrence("a", "b", T0), 1e-12);
        Assert.Equal(5 + 1, model.CoOccurrence("b", "c", T0), 1e-12); // hers (purchases: 5) and the other user's (views: 1)
        Assert.Equal(PairEvidence.Bought | PairEvidence.Viewed, model.Evidence("b", "c"));

        // Her next interaction pairs with the list the time-ordered load leaves (b, c), not with a.
        model.Record("her", new Interaction("d", EventType.View, T0.AddHours(3)));
        Assert.Equal(0, model.CoOccurrence("a", "d", T0));
        Assert.Equal(1, model.CoOccurrence("c", "d", T0), 1e-12);
    }

    [Fact]
    public void Popularity_MovedToAnotherKey_LeavesTheOldKeyAsIfNeverRecordedThere()
    {
        var moved = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var direct = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var late = new Interaction("i1", EventType.Purchase, T0.AddDays(-3));
        moved.Record(["lifecycle:active"], new Interaction("i2", EventType.View, T0));
        moved.Record(["lifecycle:new"], late);
        direct.Record(["lifecycle:active"], new Interaction("i2", EventType.View, T0));
        direct.Record(["lifecycle:active"], late);

        moved.Move("lifecycle:new", "lifecycle:active", late);

        Assert.Equal(0, moved.Popularity("lifecycle:new", "i1", T0));
        Assert.Equal(direct.Popularity("lifecycle:active", "i1", T0), moved.Popularity("lifecycle:active", "i1", T0), 1e-12);
        var request = new RecommendationRequest { SegmentKeys = ["lifecycle:active"], Now = T0 };
        Assert.Equal(2, direct.GetCandidates(request, 5, static _ => true).Count);
        Assert.Equal(
            direct.GetCandidates(request, 5, static _ => true).Select(c => (c.ItemId, c.Reason)),
            moved.GetCandidates(request, 5, static _ => true).Select(c => (c.ItemId, c.Reason)));
    }

    [Fact]
    public void Popularity_OfAUserMovedToAnotherKey_TakesBackExactlyWhatSheAdded()
    {
        // u0's interactions were counted under ml:1 with everyone else's; she moves to ml:2, then to none, then back.
        // (She alone bought i12.)
        var moved = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var others = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        var hers = new SegmentPopularity(new ItemCatalog(), TimeSpan.FromDays(7));
        foreach (var (user, interaction) in s_interactions.Append(("u0", new Interaction("i12", EventType.Purchase, T0.AddDays(-2)))))
        {
            moved.Record(["ml:1"], interaction);
            (user == "u0" ? hers : others).Record(["ml:1"], interaction);
        }

        Interaction[] herInteractions = [.. s_interactions.Where(x => x.User == "u0").Select(x => x.Interaction), new Interaction("i12", EventType.Purchase, T0.AddDays(-2))];
        var onlyHers = hers.ItemsOf("ml:1", T0).Keys.Except(others.ItemsOf("ml:1", T0).Keys).ToList();
        Assert.NotEmpty(onlyHers);

        moved.MoveAll("ml:1", "ml:2", herInteractions);

        AssertSameItems(others.ItemsOf("ml:1", T0), moved.ItemsOf("ml:1", T0));
        AssertSameItems(hers.ItemsOf("ml:1", T0), moved.ItemsOf("ml:2", T0));
        Assert.All(onlyHers, item => Assert.Equal(0, moved.Popularity("ml:1", item, T0)));

        moved.MoveAll("ml:2", null, herInteractions);
        Assert.DoesNotContain("ml:2", moved.Keys);
        AssertSameItems(others.ItemsOf("ml:1", T0), moved.ItemsOf("ml:1", T0));

        moved.MoveAll(null, "ml:1", herInteractions);
        AssertSameItems(MergedItems(others, hers), moved.ItemsOf("ml:1", T0));

        static Dictionary<string, double> MergedItems(SegmentPopularity a, SegmentPopularity b)
        {
            var merged = a.ItemsOf("ml:1", T0).ToDictionary(StringComparer.Ordinal);
            foreach (var (item, value) in b.ItemsOf("ml:1", T0))
            {
                merged[item] = merged.GetValueOrDefault(item) + value;
            }

            return merged;
        }
    }

    // The same items with the same popularity, within rounding of the sums (relative 1e-9).
    private static void AssertSameItems(IReadOnlyDictionary<string, double> expected, IReadOnlyDictionary<string, double> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (item, value) in expected)
        {
            Assert.Equal(value, actual[item], value * 1e-9);
        }
    }

    private static void AssertSameCounts(ItemCoOccurrence expected, ItemCoOccurrence actual)
    {
        for (var a = 0; a < 12; a++)
        {
            Assert.Equal(expected.Occurrence("i" + a, T0), actual.Occurrence("i" + a, T0), 1e-9);
            for (var b = 0; b < 12; b++)
            {
                Assert.Equal(expected.CoOccurrence("i" + a, "i" + b, T0), actual.CoOccurrence("i" + a, "i" + b, T0), 1e-9);
                Assert.Equal(expected.Evidence("i" + a, "i" + b), actual.Evidence("i" + a, "i" + b));
            }

            Assert.Equal(expected.SimilarItems("i" + a, 5, T0).Select(c => (c.ItemId, c.Reason)), actual.SimilarItems("i" + a, 5, T0).Select(c => (c.ItemId, c.Reason)));
        }
    }

    // Eight users, twelve items, views then (sometimes) carts and purchases over three weeks, with repeats.
    private static (string User, Interaction Interaction)[] Make()
    {
        var random = new Random(17);
        var result = new List<(string, Interaction)>();
        for (var i = 0; i < 200; i++)
        {
            var type = random.Next(5) switch { 0 => EventType.Purchase, 1 => EventType.AddToCart, _ => EventType.View };
            result.Add(("u" + random.Next(8), new Interaction("i" + random.Next(12), type, T0.AddDays(-21).AddMinutes(random.Next(30_000)))));
        }

        return [.. result];
    }
}
