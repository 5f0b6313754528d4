using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests.Clustering;

public sealed class SegmentationModelTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static SegmentationModel Model() => new(
        version: 3, dimensions: 2, segmentIds: [7, 9, 12], centroids: [2, 0, 0, 3, -1, 0], labels: ["east", "north", "west"], "emb-1", s_t0);

    [Fact]
    public void Assign_FindsTheNearestUnitCentroid_WithDistanceMarginAndConfidence()
    {
        var model = Model();
        Assert.Equal([1f, 0, 0, 1, -1, 0], model.Centroids.ToArray()); // normalised on the way in

        var onNorth = model.Assign([0, 1]);
        Assert.Equal((9, "north"), (onNorth.SegmentId, onNorth.Label));
        Assert.Equal(0, onNorth.Distance, 6);
        Assert.Equal(1, onNorth.Confidence, 6);
        Assert.Equal(Math.Sqrt(2), onNorth.Margin, 5);

        // Half-way between east and north: no confidence, no margin; the lower index wins the tie.
        var between = model.Assign([(float)Math.Sqrt(0.5), (float)Math.Sqrt(0.5)]);
        Assert.Equal(0, between.Confidence, 5);
        Assert.Equal(0, between.Margin, 5);

        var nearEast = model.Assign([0.995f, 0.0998f]);
        Assert.Equal(7, nearEast.SegmentId);
        Assert.InRange(nearEast.Confidence, 0.8, 1);
        Assert.Equal("west", model.LabelOf(12));
        Assert.Equal([-1f, 0], model.Centroid(12).ToArray());
        Assert.True(model.Centroid(8).IsEmpty);
    }

    [Fact]
    public void BadShapes_AreRejected()
    {
        Assert.Throws<ArgumentException>(() => new SegmentationModel(1, 2, [1, 2], [1, 0, 0], ["a", "b"], "", s_t0));
        Assert.Throws<ArgumentException>(() => new SegmentationModel(1, 2, [1, 1], [1, 0, 0, 1], ["a", "b"], "", s_t0));
        Assert.Throws<ArgumentException>(() => new SegmentationModel(1, 2, [0], [1, 0], ["a"], "", s_t0));
        Assert.Throws<ArgumentException>(() => Model().Assign([1, 0, 0]));
    }

    private static MemberTraits Member(float x, float y, double monetary, double orders, LifecycleStage stage, string category, params string[] items) =>
        new([x, y], monetary, orders, orders > 0 ? monetary / orders : 0, 3, stage, category, items);

    [Fact]
    public void Statistics_AddAndRemoveAreInverses()
    {
        var stats = new SegmentStatistics(2);
        var a = Member(1, 0, 300, 2, LifecycleStage.Active, "home", "mug", "vase");
        var b = Member(0, 1, 0, 0, LifecycleStage.New, "toys");
        stats.Add(a);
        stats.Add(b);
        Assert.Equal((2L, 150.0, 1.0, 150.0, 0.5), (stats.Size, stats.MeanMonetary, stats.MeanOrders, stats.MeanOrderValue, stats.BuyerShare));
        Assert.Equal([("home", 1L), ("toys", 1L)], stats.TopCategories(5));
        Assert.Equal([("mug", 1L), ("vase", 1L)], stats.TopItems(5));
        Assert.Equal([(float)Math.Sqrt(0.5), (float)Math.Sqrt(0.5)], stats.MeanDirection());

        stats.Remove(b);
        Assert.Equal((1L, 300.0, 1.0), (stats.Size, stats.MeanMonetary, stats.BuyerShare));
        Assert.Equal([("home", 1L)], stats.TopCategories(5));
        Assert.Equal(new Dictionary<LifecycleStage, long> { [LifecycleStage.Active] = 1 }, stats.LifecycleMix);
    }

    [Fact]
    public void Labeler_NamesWhatDistinguishesTheSegment()
    {
        var bigHome = new SegmentStatistics(2);
        var browsers = new SegmentStatistics(2);
        for (var i = 0; i < 10; i++)
        {
            bigHome.Add(Member(1, 0, 900, 2, i < 7 ? LifecycleStage.AtRisk : LifecycleStage.Active, "home", "sofa"));
            browsers.Add(Member(0, 1, 0, 0, LifecycleStage.Active, i % 2 == 0 ? "toys" : "books"));
            browsers.Add(Member(0, 1, 20, 1, LifecycleStage.New, "toys"));
        }

        var everyone = new SegmentStatistics(2);
        everyone.Merge(bigHome);
        everyone.Merge(browsers);
        Assert.Equal(30, everyone.Size);

        Assert.Equal("big-basket frequent home buyers, mostly at-risk", SegmentLabeler.Label(bigHome, everyone));
        Assert.Equal("small-basket toys buyers", SegmentLabeler.Label(browsers, everyone));
        Assert.Equal("empty", SegmentLabeler.Label(new SegmentStatistics(2), everyone));

        // Without categories, the item the segment buys far more often than everyone else names it.
        var mugs = new SegmentStatistics(2);
        var all = new SegmentStatistics(2);
        for (var i = 0; i < 10; i++)
        {
            mugs.Add(Member(1, 0, 100, 1, LifecycleStage.Active, "", "mug", $"other-{i}"));
            all.Add(Member(1, 0, 100, 1, LifecycleStage.Active, "", "mug", $"other-{i}"));
            all.Add(Member(0, 1, 100, 1, LifecycleStage.Active, "", $"else-{i}"));
        }

        Assert.Equal("buyers of mug, mostly active", SegmentLabeler.Label(mugs, all));
    }
}
