namespace Segmentation.Core.Statistics;

/// <summary>What a segment is worth, from its members' live profiles at one time.</summary>
/// <param name="Segment">The segment.</param>
/// <param name="Users">Members.</param>
/// <param name="ConversionRate">Members with at least one order, over members.</param>
/// <param name="AverageOrderValue">Gross spend over orders (0 without orders).</param>
/// <param name="RevenueShare">The segment's net revenue (spend − returns) over that of every segment given.</param>
/// <param name="PurchaseFrequency">Orders per buyer.</param>
/// <param name="Retention30Days">Of the members first seen at least 30 days ago, the share active in the last 30 days (NaN when none is that old).</param>
/// <param name="ChurnRate">Members whose lifecycle stage is churned.</param>
public sealed record SegmentBusinessMetrics(
    string Segment, int Users, double ConversionRate, double AverageOrderValue, double RevenueShare, double PurchaseFrequency, double Retention30Days, double ChurnRate);

/// <summary>Business metrics per segment for any segmentation (value, taste, lifecycle, churn bands), from live state.</summary>
public static class BusinessMetrics
{
    private static readonly TimeSpan s_month = TimeSpan.FromDays(30);

    /// <summary>Metrics of each segment among <paramref name="members"/> (a user may be listed under several segments), ordered by segment.</summary>
    public static List<SegmentBusinessMetrics> Compute(IEnumerable<(string Segment, UserProfile Profile)> members, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(members);
        var sums = new SortedDictionary<string, Sums>(StringComparer.Ordinal);
        var totalRevenue = 0.0;
        foreach (var (segment, profile) in members)
        {
            if (profile.IsEmpty)
            {
                continue;
            }

            if (!sums.TryGetValue(segment, out var s))
            {
                sums[segment] = s = new Sums();
            }

            var state = profile.State;
            s.Users++;
            s.Buyers += state.Orders > 0 ? 1 : 0;
            s.Orders += state.Orders;
            s.Spend += state.Spend;
            var revenue = state.Spend - state.Returned;
            s.Revenue += revenue;
            totalRevenue += revenue;
            if (now - state.FirstSeen >= s_month)
            {
                s.Cohort++;
                s.Retained += now - state.LastSeen <= s_month ? 1 : 0;
            }

            s.Churned += profile.StageAt(now) == LifecycleStage.Churned ? 1 : 0;
        }

        return
        [
            .. sums.Select(p => new SegmentBusinessMetrics(
                p.Key,
                p.Value.Users,
                p.Value.Buyers / (double)p.Value.Users,
                p.Value.Orders > 0 ? p.Value.Spend / p.Value.Orders : 0,
                totalRevenue != 0 ? p.Value.Revenue / totalRevenue : 0,
                p.Value.Buyers > 0 ? p.Value.Orders / (double)p.Value.Buyers : 0,
                p.Value.Cohort > 0 ? p.Value.Retained / (double)p.Value.Cohort : double.NaN,
                p.Value.Churned / (double)p.Value.Users)),
        ];
    }

    private sealed class Sums
    {
        public int Users;
        public int Buyers;
        public long Orders;
        public double Spend;
        public double Revenue;
        public int Cohort;
        public int Retained;
        public int Churned;
    }
}
