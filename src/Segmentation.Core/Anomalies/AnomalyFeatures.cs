namespace Segmentation.Core.Anomalies;

/// <summary>
/// The profile inputs of the anomaly model: rates and ratios that separate people from scripts (bots: many views, no
/// purchases, inhuman rates; card testing: many tiny orders in a short time). Log-scaled counts and amounts, so an
/// Isolation Forest's uniform thresholds fall across orders of magnitude.
/// </summary>
public static class AnomalyFeatures
{
    /// <summary>Inputs per user.</summary>
    public const int Count = 7;

    /// <summary>The inputs' names, in order.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "events_per_active_hour",
        "views",
        "purchases_per_view",
        "orders",
        "average_order_value",
        "orders_per_active_day",
        "carts_per_view",
    ];

    /// <summary>Writes the inputs of <paramref name="profile"/> (time-independent: a fold of her events) into <paramref name="inputs"/>.</summary>
    public static void Compute(UserProfile profile, Span<double> inputs)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var s = profile.State;
        // The span of her activity, at least an hour (a day for orders), so one burst is a rate and not a division by 0.
        var span = s.LastSeen - s.FirstSeen;
        var hours = Math.Max(1, span.TotalHours);
        var days = Math.Max(1, span.TotalDays);
        double views = s.Counts[(int)EventType.View];
        double purchases = s.Counts[(int)EventType.Purchase];
        double carts = s.Counts[(int)EventType.AddToCart];
        inputs[0] = Math.Log(1 + (s.EventCount / hours));
        inputs[1] = Math.Log(1 + views);
        inputs[2] = purchases / (views + 1);
        inputs[3] = Math.Log(1 + s.Orders);
        inputs[4] = Math.Log(1 + (s.Orders > 0 ? s.Spend / s.Orders : 0));
        inputs[5] = Math.Log(1 + (s.Orders / days));
        inputs[6] = carts / (views + 1);
    }
}
