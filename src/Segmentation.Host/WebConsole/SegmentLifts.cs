using Segmentation.Core;
using Segmentation.Core.Clustering;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// How an ML segment differs from the population, trait by trait, from the segment grains' running statistics
/// (<see cref="SegmentStatistics"/>): the segment detail page's lift bars. (Business metrics per segment, for every
/// segmentation, come from <see cref="Segments.LiveBusinessMetrics"/> through SegmentService.ListSegments.)
/// </summary>
internal static class SegmentLifts
{
    /// <summary>
    /// How the segment differs from the population, trait by trait: the segment's value over the population's (1 = no
    /// different). Traits where the population's value is 0 are left out.
    /// </summary>
    public static IReadOnlyList<(string Trait, double Lift)> Lifts(SegmentStatistics segment, SegmentStatistics everyone)
    {
        var lifts = new List<(string, double)>();
        void Add(string trait, double value, double population)
        {
            if (population > 0)
            {
                lifts.Add((trait, value / population));
            }
        }

        Add("spend per member", segment.MeanMonetary, everyone.MeanMonetary);
        Add("orders per member", segment.MeanOrders, everyone.MeanOrders);
        Add("order value", segment.MeanOrderValue, everyone.MeanOrderValue);
        Add("days since purchase", segment.MeanRecencyDays, everyone.MeanRecencyDays);
        Add("buyer share", segment.BuyerShare, everyone.BuyerShare);
        foreach (var stage in Enum.GetValues<LifecycleStage>())
        {
            var share = segment.Size == 0 ? 0 : segment.LifecycleMix.GetValueOrDefault(stage) / (double)segment.Size;
            var population = everyone.Size == 0 ? 0 : everyone.LifecycleMix.GetValueOrDefault(stage) / (double)everyone.Size;
            Add("share " + LifecycleStageNames.Of(stage), share, population);
        }

        foreach (var (category, _) in segment.TopCategories(3))
        {
            Add("top category " + category, segment.CategoryShare(category), everyone.CategoryShare(category));
        }

        return lifts;
    }
}
