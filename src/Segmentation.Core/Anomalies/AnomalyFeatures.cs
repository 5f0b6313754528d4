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

    /// <summary>
    /// Score from which a user is flagged (<c>anomaly:flagged</c>). Liu et al. read scores well above 0.5 as anomalies;
    /// 0.6 keeps ordinary heavy users out.
    /// </summary>
    public const double DefaultThreshold = 0.6;

    /// <summary>The inputs' names, in order.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "events_per_active_day",
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
        // Rates per day she was active (distinct event days among the remembered interactions, at least 1), not per
        // hour of her span: a person's one short session is not a burst, while a script's day holds hundreds of events.
        var days = new HashSet<long>();
        foreach (var h in s.History)
        {
            days.Add(h.At.UtcTicks / TimeSpan.TicksPerDay);
        }

        var activeDays = Math.Max(1, days.Count);
        double views = s.Counts[(int)EventType.View];
        double purchases = s.Counts[(int)EventType.Purchase];
        double carts = s.Counts[(int)EventType.AddToCart];
        inputs[0] = Math.Log(1 + (s.EventCount / (double)activeDays));
        inputs[1] = Math.Log(1 + views);
        inputs[2] = purchases / (views + 1);
        inputs[3] = Math.Log(1 + s.Orders);
        inputs[4] = Math.Log(1 + (s.Orders > 0 ? s.Spend / s.Orders : 0));
        inputs[5] = Math.Log(1 + (s.Orders / (double)activeDays));
        inputs[6] = carts / (views + 1);
    }

    /// <summary>Input <paramref name="index"/> as a person reads it: the count or amount behind a log-scaled input, a ratio as it is.</summary>
    public static double Readable(int index, double input) => index is 2 or 6 ? input : Math.Exp(input) - 1;
}
