using System.Text;
using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// EASEᴿ pruned to each item's strongest neighbours (<see cref="EaseModel.Prune"/>): what it keeps, that it scores the
/// kept weights exactly as the dense model scores them, and that both forms, and a dense model stored before pruning
/// existed, read back.
/// </summary>
public sealed class EasePruningTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // 40 items ("i00".."i39", so index order is id order) and 120 users of overlapping tastes: a dense matrix with
    // weights of both signs and many magnitudes.
    private static EaseModel Dense()
    {
        var random = new Random(7);
        var pairs = new List<(string, string)>();
        for (var i = 0; i < 40; i++)
        {
            // Every item known, each with its neighbour.
            pairs.Add(($"pair{i}", Id(i)));
            pairs.Add(($"pair{i}", Id((i + 1) % 40)));
        }

        for (var u = 0; u < 120; u++)
        {
            var taste = random.Next(40);
            for (var k = 0; k < 8; k++)
            {
                var item = (taste + (int)Math.Abs(random.NextDouble() * random.NextDouble() * 20) - 3 + 40) % 40;
                pairs.Add(($"u{u}", $"i{item:D2}"));
            }
        }

        return EaseModel.Train(pairs, lambda: 5, maxDegreeOfParallelism: 1);
    }

    private static RecommendationRequest Request(params string[] items) =>
        new() { History = [.. items.Select(i => new Interaction(i, EventType.View, s_t0))], Now = s_t0 };

    private static IEnumerable<RecommendationRequest> Requests() =>
    [
        Request("i03"),
        Request("i10", "i11", "i25"),
        Request("i39", "i00", "i17", "i18", "i19", "i02", "i31"),
        Request("i05", "i05", "i22") with { ContextItemId = "i23" },
    ];

    private static string Id(int i) => $"i{i:D2}";

    [Fact]
    public void KeepingEveryNeighbour_ScoresAndExplainsExactlyAsTheDenseModel()
    {
        var dense = Dense();
        var pruned = dense.Prune(dense.ItemCount);

        Assert.Equal(dense.ItemCount - 1, pruned.Neighbours);
        Assert.Equal(0, dense.Neighbours);
        foreach (var request in Requests())
        {
            var expected = dense.GetCandidates(request, 15, _ => true);
            var actual = pruned.GetCandidates(request, 15, _ => true);
            Assert.NotEmpty(expected);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Pruned_KeepsEachItemsStrongestWeights_AndScoresTheirSums()
    {
        const int M = 5;
        var dense = Dense();
        var pruned = dense.Prune(M);
        var n = dense.ItemCount;

        Assert.Equal(M, pruned.Neighbours);
        Assert.Equal((long)n * M * 8, pruned.WeightBytes);
        Assert.Equal((long)n * n * 4, dense.WeightBytes);
        for (var j = 0; j < n; j++)
        {
            var kept = Enumerable.Range(0, n).Where(i => pruned.Weight(Id(j), Id(i)) != 0).ToArray();
            Assert.Equal(M, kept.Length);
            Assert.All(kept, i => Assert.Equal(dense.Weight(Id(j), Id(i)), pruned.Weight(Id(j), Id(i))));
            var weakestKept = kept.Min(i => Math.Abs(dense.Weight(Id(j), Id(i))));
            Assert.All(Enumerable.Range(0, n).Except(kept), i => Assert.True(Math.Abs(dense.Weight(Id(j), Id(i))) <= weakestKept));
        }

        foreach (var request in Requests())
        {
            // Her items once each, ascending, summed in float as the model sums them.
            var own = request.History.Select(x => x.ItemId).Append(request.ContextItemId).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray();
            var expected = Enumerable.Range(0, n)
                .Select(i => (Id: Id(i), Score: own.Aggregate(0f, (sum, j) => sum + pruned.Weight(j, Id(i)))))
                .Where(p => p.Score > 0)
                .OrderByDescending(p => (double)p.Score).ThenBy(p => p.Id, StringComparer.Ordinal)
                .Take(8).ToArray();
            var actual = pruned.GetCandidates(request, 8, _ => true);

            Assert.NotEmpty(actual);
            Assert.Equal(expected.Select(p => p.Id), actual.Select(c => c.ItemId));
            Assert.Equal(expected.Select(p => (double)p.Score), actual.Select(c => c.Score));
            foreach (var candidate in actual)
            {
                // The reason names her item with the largest kept weight towards it.
                var strongest = own.Max(j => pruned.Weight(j, candidate.ItemId));
                Assert.Equal(strongest, pruned.Weight(candidate.Reason.Cause, candidate.ItemId));
            }
        }
    }

    [Fact]
    public void Pruned_RoundTripsThroughWrite_AndABrokenOneIsRefused()
    {
        var pruned = Dense().Prune(6);
        using var stream = new MemoryStream();
        pruned.Write(stream);
        Assert.Equal("EASE2"u8.ToArray(), stream.ToArray()[..5]);

        stream.Position = 0;
        var read = EaseModel.Read(stream);
        Assert.Equal(6, read.Neighbours);
        Assert.Equal(pruned.WeightBytes, read.WeightBytes);
        foreach (var request in Requests())
        {
            Assert.Equal(pruned.GetCandidates(request, 10, _ => true), read.GetCandidates(request, 10, _ => true));
        }

        // The first item's first two neighbour indices swapped: not ascending, refused by name.
        var bytes = stream.ToArray();
        var indicesAt = bytes.Length - (pruned.ItemCount * 6 * 8);
        var first = bytes.AsSpan(indicesAt, 4).ToArray();
        bytes.AsSpan(indicesAt + 4, 4).CopyTo(bytes.AsSpan(indicesAt, 4));
        first.CopyTo(bytes.AsSpan(indicesAt + 4, 4));
        var error = Assert.Throws<InvalidDataException>(() => EaseModel.Read(new MemoryStream(bytes)));
        Assert.Contains("not ascending", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADenseModelStoredBeforePruning_StillReads_AndScoresAsWritten()
    {
        // "EASE1", n, the ids, then the n × n weights: the layout every version stored before pruning has.
        using var stored = new MemoryStream();
        using (var writer = new BinaryWriter(stored, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("EASE1"u8);
            writer.Write(3);
            writer.Write("a");
            writer.Write("b");
            writer.Write("c");
            float[] weights = [0, 0.5f, -0.25f, 0.125f, 0, 2, 0.75f, -1, 0];
            foreach (var w in weights)
            {
                writer.Write(w);
            }
        }

        stored.Position = 0;
        var model = EaseModel.Read(stored);

        Assert.Equal(0, model.Neighbours);
        Assert.Equal(36, model.WeightBytes);
        Assert.Equal(2, model.Weight("b", "c"));
        Assert.Equal(-1, model.Weight("c", "b"));
        var candidates = model.GetCandidates(Request("a", "b"), 5, _ => true);
        Assert.Equal([("c", 1.75), ("b", 0.5), ("a", 0.125)], candidates.Select(c => (c.ItemId, c.Score)));
        Assert.Equal("b", candidates.Single(c => c.ItemId == "c").Reason.Cause);

        // Written again, the same bytes.
        using var again = new MemoryStream();
        model.Write(again);
        Assert.Equal(stored.ToArray(), again.ToArray());
    }
}
