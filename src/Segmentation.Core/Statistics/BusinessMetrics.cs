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
    /// <summary>Metrics of each segment among <paramref name="members"/> (a user may be listed under several segments), ordered by segment.</summary>
    public static List<SegmentBusinessMetrics> Compute(IEnumerable<(string Segment, UserProfile Profile)> members, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(members);
        var sums = new SortedDictionary<string, BusinessMetricSums>(StringComparer.Ordinal);
        var totalRevenue = 0.0;
        foreach (var (segment, profile) in members)
        {
            if (profile.IsEmpty)
            {
                continue;
            }

            if (!sums.TryGetValue(segment, out var s))
            {
                sums[segment] = s = new BusinessMetricSums();
            }

            var facts = CustomerFacts.Of(profile);
            s.Add(facts, profile.StageAt(now), now);
            totalRevenue += facts.Monetary;
        }

        return [.. sums.Select(p => p.Value.ToMetrics(p.Key, totalRevenue))];
    }
}
