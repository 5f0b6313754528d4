using System.Text;
using Segmentation.Core.Recommendations;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// EASEᴿ's reasons: her item with the largest weight towards the candidate, the first of equals, whether made for
/// every candidate (the sorted and unsorted answers) or owed until the blender shows the item
/// (<see cref="IReasonOwingSource"/>), on weights with many ties and both signs.
/// </summary>
public sealed class EaseReasonTests
{
    private const int Items = 30;
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // Dense weights drawn from a handful of values of both signs (so many weights of an item's row, and many of her
    // items' weights towards one candidate, are equal), read as a stored model; ids "i00".."i29", index order.
    private static EaseModel Tied()
    {
        float[] values = [-2, -1, -0.5f, 0, 0.5f, 1, 1, 2];
        var random = new Random(11);
        using var stored = new MemoryStream();
        using (var writer = new BinaryWriter(stored, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("EASE1"u8);
            writer.Write(Items);
            for (var i = 0; i < Items; i++)
            {
                writer.Write(Id(i));
            }

            for (var j = 0; j < Items; j++)
            {
                for (var i = 0; i < Items; i++)
                {
                    writer.Write(i == j ? 0 : values[random.Next(values.Length)]);
                }
            }
        }

        stored.Position = 0;
        return EaseModel.Read(stored);
    }

    private static string Id(int i) => $"i{i:D2}";

    // Histories of 1 to 12 items (some repeated), a context item in every third.
    private static IEnumerable<RecommendationRequest> Requests()
    {
        var random = new Random(5);
        for (var r = 0; r < 40; r++)
        {
            var history = Enumerable.Range(0, 1 + random.Next(12)).Select(_ => new Interaction(Id(random.Next(Items)), EventType.View, s_t0)).ToArray();
            yield return new RecommendationRequest { History = history, ContextItemId = r % 3 == 0 ? Id(random.Next(Items)) : null, Now = s_t0 };
        }
    }

    // The reason by its definition: of her items (and the context item) in index order, the first whose weight towards
    // the candidate is the largest.
    private static string Expected(EaseModel model, RecommendationRequest request, string candidate)
    {
        var own = request.History.Select(x => x.ItemId).Append(request.ContextItemId).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray();
        var strongest = own.Max(j => model.Weight(j, candidate));
        return own.First(j => model.Weight(j, candidate) == strongest);
    }

    public static TheoryData<int> Neighbours => [0, 4, 9, Items - 1];

    [Theory]
    [MemberData(nameof(Neighbours))]
    public void EveryReason_NamesTheFirstOfHerItemsWithTheLargestWeight_EagerOrOwed(int neighbours)
    {
        var dense = Tied();
        var model = neighbours == 0 ? dense : dense.Prune(neighbours);
        IReasonOwingSource owing = model;
        var owed = new OwedReasons();
        var ties = 0;
        foreach (var request in Requests())
        {
            var sorted = model.GetCandidates(request, 12, static item => item != "i07");
            Assert.NotEmpty(sorted);
            foreach (var c in sorted)
            {
                Assert.Equal(ReasonKind.SimilarToViewed, c.Reason.Kind);
                Assert.Equal(Expected(model, request, c.ItemId), c.Reason.Cause);
            }

            // Owed: the same candidates without their reasons, each reason made on asking, the same as the eager one.
            var rented = owing.GetCandidatesOwingReasons(request, 12, static item => item != "i07", owed);
            var unordered = rented.ToArray();
            RentedCandidates.Return(rented);
            Assert.All(unordered, c => Assert.Null(c.Reason));
            Assert.Equal(sorted.Select(c => (c.ItemId, c.Score)).Order(), unordered.Select(c => (c.ItemId, c.Score)).Order());
            foreach (var c in sorted)
            {
                Assert.Equal(c.Reason, owed.ReasonOf(c.ItemId));
                var own = request.History.Select(x => x.ItemId).Append(request.ContextItemId).OfType<string>().Distinct().ToArray();
                ties += own.Count(j => model.Weight(j, c.ItemId) == model.Weight(c.Reason.Cause, c.ItemId)) > 1 ? 1 : 0;
            }

            owed.Clear();
        }

        // The weights gave reasons a tie to break (and the first of equals had to win it).
        Assert.True(ties > 10, $"only {ties} tied reasons");
        Assert.Throws<InvalidOperationException>(() => owed.ReasonOf("i01"));
    }

    [Theory]
    [MemberData(nameof(Neighbours))]
    public void TheBlender_ShowsTheReasonsItWasOwed_AsTheModelsSortedAnswerGivesThem(int neighbours)
    {
        var dense = Tied();
        var model = neighbours == 0 ? dense : dense.Prune(neighbours);
        var blender = new RecommendationBlender([new BlendedSource(model, 1)], new ItemCatalog(), new BlendOptions { MinPoolSize = 12 });
        foreach (var request in Requests())
        {
            var shown = blender.Recommend(request with { Count = 6 });
            var sorted = model.GetCandidates(request, 12, item => item != request.ContextItemId);
            Assert.NotEmpty(shown);
            Assert.Equal(sorted.Take(shown.Count).Select(c => (c.ItemId, c.Reason)), shown.Select(r => (r.ItemId, r.Reason)));
        }
    }
}
