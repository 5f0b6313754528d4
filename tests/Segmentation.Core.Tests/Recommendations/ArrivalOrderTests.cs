using Segmentation.Core.Recommendations;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// The online models learn a function of the interactions, not of their arrival order: co-occurrence (each user within
/// MaxItemsPerUser distinct items) and popularity give the same counts and candidates for every order, late events
/// included; a moved interaction leaves its old key as if it had never been recorded there.
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
