using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// Every reason the co-occurrence source gives is checked against the log that taught it: "bought with X" only when
/// some user bought both items, "viewed with X" only when some user viewed (or carted, or bought) both.
/// </summary>
public sealed class ReasonTruthTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void EveryCoOccurrenceReason_NamesWhatSomeUserDidWithBothItems(int seed)
    {
        // A shop where most pairs are only viewed together: 60 users, 30 items, views outnumber purchases 6 to 1,
        // and a few users forgotten and restored midway (as grains are collected and activated).
        var random = new Random(seed);
        var model = new ItemCoOccurrence(new ItemCoOccurrenceOptions { MaxItemsPerUser = 12 });
        var log = new List<(string User, Interaction Interaction)>();
        for (var n = 0; n < 3_000; n++)
        {
            var user = $"u{random.Next(60)}";
            var type = random.Next(10) switch
            {
                < 6 => EventType.View,
                < 8 => EventType.AddToCart,
                < 9 => EventType.Wishlist,
                _ => EventType.Purchase,
            };
            var interaction = new Interaction($"i{random.Next(30)}", type, s_t0.AddMinutes(n));
            model.Record(user, interaction);
            log.Add((user, interaction));
            if (n % 500 == 499)
            {
                var forgotten = $"u{random.Next(60)}";
                model.ForgetUser(forgotten);
                model.RestoreUser(forgotten, log.Where(x => x.User == forgotten).Select(x => x.Interaction));
            }
        }

        var did = log.GroupBy(x => x.User).Select(g => (
            Bought: g.Where(x => x.Interaction.Type == EventType.Purchase).Select(x => x.Interaction.ItemId).ToHashSet(),
            Engaged: g.Select(x => x.Interaction.ItemId).ToHashSet())).ToList();
        var checkedReasons = new Dictionary<ReasonKind, int>();
        foreach (var user in log.Select(x => x.User).Distinct())
        {
            var history = log.Where(x => x.User == user).Select(x => x.Interaction).ToArray();
            var request = new RecommendationRequest { UserId = user, History = history, Count = 30, Now = s_t0.AddMinutes(3_000) };
            foreach (var c in model.GetCandidates(request, 30, static _ => true))
            {
                var (item, cause) = (c.ItemId, c.Reason.Cause);
                Assert.Contains(history, x => x.ItemId == cause);
                switch (c.Reason.Kind)
                {
                    case ReasonKind.BoughtTogether:
                        Assert.True(did.Any(u => u.Bought.Contains(item) && u.Bought.Contains(cause)), $"nobody bought both {item} and {cause}");
                        break;
                    case ReasonKind.ViewedTogether:
                        Assert.True(did.Any(u => u.Engaged.Contains(item) && u.Engaged.Contains(cause)), $"nobody viewed both {item} and {cause}");
                        break;
                    default:
                        Assert.Fail($"unexpected reason {c.Reason}");
                        break;
                }

                checkedReasons[c.Reason.Kind] = checkedReasons.GetValueOrDefault(c.Reason.Kind) + 1;
            }
        }

        // Both kinds occurred, so both branches above were exercised.
        Assert.True(checkedReasons.GetValueOrDefault(ReasonKind.BoughtTogether) > 0, "no bought-with reason was checked");
        Assert.True(checkedReasons.GetValueOrDefault(ReasonKind.ViewedTogether) > 0, "no viewed-with reason was checked");
    }

    [Fact]
    public void PairsOnlyViewedTogether_AreViewedWith_UntilSomeoneBuysBoth()
    {
        var model = new ItemCoOccurrence();
        model.Record("a", new Interaction("tent", EventType.View, s_t0));
        model.Record("a", new Interaction("stove", EventType.View, s_t0));
        model.Record("b", new Interaction("tent", EventType.Purchase, s_t0));
        model.Record("b", new Interaction("lamp", EventType.View, s_t0));
        var request = new RecommendationRequest { History = [new Interaction("tent", EventType.Purchase, s_t0)], Now = s_t0 };

        Assert.Equal(PairEvidence.Viewed, model.Evidence("tent", "stove"));
        Assert.Equal(new RecommendationReason(ReasonKind.ViewedTogether, "tent"), model.GetCandidates(request, 5, static _ => true).Single(c => c.ItemId == "stove").Reason);
        Assert.Equal("often viewed with tent", model.GetCandidates(request, 5, static _ => true).Single(c => c.ItemId == "lamp").Reason.Text);

        // One user buys both (after viewing one of them): now they are bought together, for every direction.
        model.Record("c", new Interaction("stove", EventType.View, s_t0));
        model.Record("c", new Interaction("tent", EventType.Purchase, s_t0));
        model.Record("c", new Interaction("stove", EventType.Purchase, s_t0));
        Assert.Equal(PairEvidence.Viewed | PairEvidence.Bought, model.Evidence("stove", "tent"));
        Assert.Equal(new RecommendationReason(ReasonKind.BoughtTogether, "tent"), model.GetCandidates(request, 5, static _ => true).Single(c => c.ItemId == "stove").Reason);
    }

    [Fact]
    public void RatedPairs_AreRatedWith_AndCartedItemsAreInYourCart()
    {
        var model = new ItemCoOccurrence();
        model.Record("a", new Interaction("m1", EventType.Rating, s_t0, 5));
        model.Record("a", new Interaction("m2", EventType.Rating, s_t0, 4));
        var rated = model.GetCandidates(new RecommendationRequest { History = [new Interaction("m1", EventType.Rating, s_t0, 5)], Now = s_t0 }, 5, static _ => true);
        Assert.Equal("often rated with m1", rated.Single().Reason.Text);

        var recent = new RecentlyViewed(TimeSpan.FromDays(3));
        var history = new[]
        {
            new Interaction("shoes", EventType.View, s_t0),
            new Interaction("shoes", EventType.AddToCart, s_t0.AddMinutes(1)),
            new Interaction("socks", EventType.View, s_t0.AddMinutes(2)),
            new Interaction("hat", EventType.AddToCart, s_t0.AddMinutes(3)),
            new Interaction("hat", EventType.Purchase, s_t0.AddMinutes(4)),
        };
        var candidates = recent.GetCandidates(new RecommendationRequest { History = history, Now = s_t0.AddMinutes(5) }, 5, static _ => true);
        Assert.Equal(new RecommendationReason(ReasonKind.InCart, "shoes"), candidates.Single(c => c.ItemId == "shoes").Reason);
        Assert.Equal("in your cart", candidates.Single(c => c.ItemId == "shoes").Reason.Text);
        Assert.Equal(new RecommendationReason(ReasonKind.RecentlyViewed, "socks"), candidates.Single(c => c.ItemId == "socks").Reason);
        Assert.DoesNotContain(candidates, c => c.ItemId == "hat");
    }
}
