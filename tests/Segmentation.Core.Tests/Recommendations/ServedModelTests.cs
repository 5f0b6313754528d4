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
}
