using Segmentation.Core.Statistics;

namespace Segmentation.Core.Tests.Growth;

public sealed class BusinessMetricsTests
{
    [Fact]
    public void PerSegment_ConversionOrderValueRevenueFrequencyRetentionAndChurn()
    {
        var now = Events.T0.AddDays(200);
        // a: a buyer of two orders (30 + 10) active lately, and a viewer seen once long ago (churned).
        var buyer = Fold("b1", Events.Make(EventType.Purchase, Events.T0.AddDays(10), price: 30, order: "o1"), Events.Make(EventType.Purchase, Events.T0.AddDays(190), price: 10, order: "o2"));
        var lapsed = Fold("v1", Events.Make(EventType.View, Events.T0.AddDays(5)));
        // b: a new buyer (first seen 5 days ago: not in the 30-day retention cohort) with one order of 60.
        var fresh = Fold("b2", Events.Make(EventType.Purchase, Events.T0.AddDays(195), price: 60, order: "o3"));

        var metrics = BusinessMetrics.Compute([("a", buyer), ("a", lapsed), ("b", fresh)], now);

        Assert.Equal(["a", "b"], metrics.Select(m => m.Segment));
        var a = metrics[0];
        Assert.Equal(2, a.Users);
        Assert.Equal(0.5, a.ConversionRate, 12);
        Assert.Equal(20, a.AverageOrderValue, 12);
        Assert.Equal(40 / 100.0, a.RevenueShare, 12);
        Assert.Equal(2, a.PurchaseFrequency, 12);
        Assert.Equal(0.5, a.Retention30Days, 12);
        Assert.Equal(0.5, a.ChurnRate, 12);
        var b = metrics[1];
        Assert.Equal(1, b.ConversionRate, 12);
        Assert.Equal(0.6, b.RevenueShare, 12);
        Assert.True(double.IsNaN(b.Retention30Days));
        Assert.Equal(0, b.ChurnRate, 12);
    }

    private static UserProfile Fold(string user, params BehaviorEvent[] events)
    {
        var profile = new UserProfile(user, new ProfileOptions());
        foreach (var e in events)
        {
            profile.Apply(e with { UserId = user });
        }

        return profile;
    }
}
