using Segmentation.Core;
using Segmentation.Core.Clustering;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// The business metrics the console shows per segment, next to the shop's average: computed from a segment's live
/// running statistics (<see cref="SegmentStatistics"/>, kept exact by the segment grains). The one place that defines
/// them: swap it for a richer source (per-segment churn, value and experiment figures) without touching the pages.
/// </summary>
/// <param name="Size">Members.</param>
/// <param name="ConversionRate">Share of members who bought at least once.</param>
/// <param name="AverageOrderValue">Mean order value among the members who bought.</param>
/// <param name="RevenueShare">The segment's share of the shop's net spend.</param>
/// <param name="PurchaseFrequency">Orders per member.</param>
/// <param name="Retention30Days">
/// Share of members active within the last 30 days: lifecycle new, active or reactivated, i.e. not yet at-risk or
/// churned (at-risk starts after <c>Profiles:Lifecycle:AtRiskAfterDays</c>, 30 by default).
/// </param>
/// <param name="MeanSpend">Net spend per member.</param>
/// <param name="MeanRecencyDays">Days since the last purchase, per member.</param>
internal sealed record SegmentMetrics(
    long Size, double ConversionRate, double AverageOrderValue, double RevenueShare, double PurchaseFrequency, double Retention30Days,
    double MeanSpend, double MeanRecencyDays)
{
    /// <summary>The metrics of <paramref name="segment"/>, with its revenue share of <paramref name="everyone"/>.</summary>
    public static SegmentMetrics Of(SegmentStatistics segment, SegmentStatistics everyone)
    {
        var revenue = segment.MeanMonetary * segment.Size;
        var shopRevenue = everyone.MeanMonetary * everyone.Size;
        var mix = segment.LifecycleMix;
        var retained = mix.GetValueOrDefault(LifecycleStage.New) + mix.GetValueOrDefault(LifecycleStage.Active) + mix.GetValueOrDefault(LifecycleStage.Reactivated);
        return new SegmentMetrics(
            segment.Size,
            segment.BuyerShare,
            segment.MeanOrderValue,
            shopRevenue == 0 ? 0 : revenue / shopRevenue,
            segment.MeanOrders,
            segment.Size == 0 ? 0 : retained / (double)segment.Size,
            segment.MeanMonetary,
            segment.MeanRecencyDays);
    }

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
