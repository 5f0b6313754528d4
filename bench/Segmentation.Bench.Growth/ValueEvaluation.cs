using Segmentation.Core;
using Segmentation.Core.ValueSegments;

namespace Segmentation.Bench.Growth;

/// <summary>Value (RFM) segments of the buyers at the dataset's last event: every candidate, the choice, the labels on real customers.</summary>
internal static class ValueEvaluation
{
    public static void Run(UserEvents data, int kMin, int kMax)
    {
        var now = data.Last;
        var options = new ProfileOptions();
        var customers = new List<RfmCustomer>();
        var profiles = new List<UserProfile>();
        foreach (var (userId, events) in data.Users)
        {
            var profile = new UserProfile(userId, options);
            foreach (var e in events)
            {
                profile.Apply(e);
            }

            var rfm = profile.Rfm(now);
            if (rfm.Frequency > 0)
            {
                customers.Add(new RfmCustomer(userId, rfm.RecencyDays, rfm.Frequency, rfm.Monetary));
                profiles.Add(profile);
            }
        }

        Report.Heading($"value segments, {data.Name}: {customers.Count} buyers at {now:yyyy-MM-dd}");
        var result = ValueSegmentation.Fit(customers, kMin, kMax);
        Report.Row("method", "k", "silhouette", "Davies-B.", "BIC", "sizes");
        foreach (var c in result.Candidates)
        {
            Report.Row(c.Method, c.K, c.Silhouette, c.DaviesBouldin, c.Bic is { } bic ? bic.ToString("F0", System.Globalization.CultureInfo.InvariantCulture) : "", string.Join("/", c.Segments.Select(s => s.Size)));
        }

        Console.WriteLine($"best k-means by silhouette: k {result.BestKMeans.K} (silhouette {result.BestKMeans.Silhouette:F3}, DB {result.BestKMeans.DaviesBouldin:F3})");
        Console.WriteLine($"best GMM by BIC: k {result.BestMixture.K} (silhouette {result.BestMixture.Silhouette:F3}, DB {result.BestMixture.DaviesBouldin:F3}, BIC {result.BestMixture.Bic:F0})");
        Console.WriteLine($"served: {result.Chosen.Method} k {result.Chosen.K} (the higher silhouette of the two)");
        Report.Row("id", "label", "size", "recency d", "orders", "monetary", "R", "FM");
        foreach (var s in result.Chosen.Segments.OrderBy(s => s.Id))
        {
            Report.Row(s.Id, s.Label, s.Size, s.RecencyDays, s.Frequency, s.Monetary, s.RScore, s.FmScore);
        }

        Console.WriteLine("business metrics per segment: users, conversion, AOV, revenue share, orders per buyer, 30-day retention, churned");
        var metrics = Core.Statistics.BusinessMetrics.Compute(
            profiles.Select((p, i) => ($"{result.Chosen.Segments[result.Chosen.Assignments[i]].Id} {result.Chosen.Segments[result.Chosen.Assignments[i]].Label}", p)), now);
        foreach (var m in metrics)
        {
            Report.Row(m.Segment, m.Users, m.ConversionRate, m.AverageOrderValue, m.RevenueShare, m.PurchaseFrequency, m.Retention30Days, m.ChurnRate);
        }

        Console.WriteLine("customers (R, F, M; quintile scores; own label; segment label):");
        var shown = new HashSet<string>();
        foreach (var i in Enumerable.Range(0, customers.Count).OrderBy(i => customers[i].UserId, StringComparer.Ordinal))
        {
            // One customer per distinct own label, up to five, so the map shows on real rows.
            if (shown.Count < 5 && shown.Add(result.CustomerLabels[i]))
            {
                var c = customers[i];
                var segment = result.Chosen.Segments[result.Chosen.Assignments[i]];
                Console.WriteLine($"  {c.UserId}: {c.RecencyDays} days, {c.Frequency} orders, {c.Monetary:F2}; R {result.RScores[i]} F {result.FScores[i]} M {result.MScores[i]}; {result.CustomerLabels[i]}; segment {segment.Id} '{segment.Label}'");
            }
        }
    }
}
