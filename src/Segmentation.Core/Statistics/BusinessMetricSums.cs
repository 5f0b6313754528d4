namespace Segmentation.Core.Statistics;

/// <summary>
/// Running sums of one segment's members for <see cref="SegmentBusinessMetrics"/>: add each member's
/// <see cref="CustomerFacts"/> with the time the metrics are for, then read them with the shop's revenue. Not
/// thread-safe: one reader sums, then reads.
/// </summary>
public sealed class BusinessMetricSums
{
    private static readonly TimeSpan s_month = TimeSpan.FromDays(30);

    /// <summary>Members added.</summary>
    public int Users { get; private set; }

    /// <summary>Members with at least one order.</summary>
    public int Buyers { get; private set; }

    /// <summary>Orders of all members.</summary>
    public long Orders { get; private set; }

    /// <summary>Gross spend of all members.</summary>
    public double Spend { get; private set; }

    /// <summary>Net spend (spend − returns) of all members.</summary>
    public double Revenue { get; private set; }

    /// <summary>Members first seen at least 30 days before "now".</summary>
    public int Cohort { get; private set; }

    /// <summary>Of the <see cref="Cohort"/>, those seen within the last 30 days.</summary>
    public int Retained { get; private set; }

    /// <summary>Members whose stage is churned.</summary>
    public int Churned { get; private set; }

    /// <summary>Adds a member, whose lifecycle stage at <paramref name="now"/> is <paramref name="stage"/>.</summary>
    public void Add(in CustomerFacts facts, LifecycleStage stage, DateTimeOffset now)
    {
        Users++;
        Buyers += facts.Orders > 0 ? 1 : 0;
        Orders += facts.Orders;
        Spend += facts.Spend;
        Revenue += facts.Monetary;
        if (now - facts.FirstSeen >= s_month)
        {
            Cohort++;
            Retained += now - facts.LastSeen <= s_month ? 1 : 0;
        }

        Churned += stage == LifecycleStage.Churned ? 1 : 0;
    }

    /// <summary>The metrics of these members as segment <paramref name="segment"/>, their revenue as a share of <paramref name="shopRevenue"/>.</summary>
    public SegmentBusinessMetrics ToMetrics(string segment, double shopRevenue) => new(
        segment,
        Users,
        Users > 0 ? Buyers / (double)Users : 0,
        Orders > 0 ? Spend / Orders : 0,
        shopRevenue != 0 ? Revenue / shopRevenue : 0,
        Buyers > 0 ? Orders / (double)Buyers : 0,
        Cohort > 0 ? Retained / (double)Cohort : double.NaN,
        Users > 0 ? Churned / (double)Users : 0);
}
