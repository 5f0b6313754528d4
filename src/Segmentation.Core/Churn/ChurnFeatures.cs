using System.Globalization;

namespace Segmentation.Core.Churn;

/// <summary>
/// The inputs of the churn model, read from a user's folded profile at a time "now": one definition shared by the
/// trainer, the evaluation and the server, so a model scores exactly what it was trained on.
/// </summary>
/// <remarks>
/// Every input is a function of the fold state and "now" only (no wall clock, no other user), so a score is
/// reproducible from the event log. Counts and amounts enter log-scaled (<c>log(1 + x)</c>): churn risk moves with
/// orders of magnitude, not with the tenth order. Raw values are kept next to the model inputs for the reasons.
/// </remarks>
public static class ChurnFeatures
{
    /// <summary>Inputs per user.</summary>
    public const int Count = 8;

    /// <summary>The inputs' names, in model order (stored with a model and checked when it is loaded).</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "days_since_last_activity",
        "days_since_last_purchase",
        "events",
        "active_days_per_month",
        "recency_over_usual_gap",
        "orders",
        "monetary",
        "interactions_last_30_days",
    ];

    private const double DaysPerMonth = 30;

    /// <summary>
    /// Writes the model inputs of <paramref name="profile"/> at <paramref name="now"/> into <paramref name="inputs"/>
    /// and the untransformed values (days, counts, amounts) into <paramref name="raw"/>; both of length <see cref="Count"/>.
    /// An empty profile has no inputs and is not scored.
    /// </summary>
    public static void Compute(UserProfile profile, DateTimeOffset now, Span<double> inputs, Span<double> raw)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (inputs.Length < Count || raw.Length < Count)
        {
            throw new ArgumentException($"inputs and raw need {Count} entries.");
        }

        var s = profile.State;
        var idle = Days(now - s.LastSeen);
        // A user who never bought counts as far from a purchase as from her last visit (not 0, which would read as "just
        // bought", nor her tenure, which grows with the age of the shop rather than with her risk); orders = 0 says the rest.
        var sincePurchase = s.LastPurchase is { } p ? Days(now - p) : idle;
        var activeDays = ActiveDays(s.History, s.LastSeen, out var recent, now);
        var span = Math.Max(1, Days(s.LastSeen - s.FirstSeen));
        var perMonth = activeDays * DaysPerMonth / Math.Max(DaysPerMonth, span);
        // Her usual gap between active days: a browser who comes monthly is not lost after 20 quiet days, a daily
        // visitor may be. One active day has no gap: take her whole span, at least a week.
        var usualGap = activeDays > 1 ? span / (activeDays - 1.0) : Math.Max(7, span);
        var overdue = idle / Math.Max(1, usualGap);
        var monetary = Math.Max(0, s.Spend - s.Returned);

        raw[0] = idle;
        raw[1] = sincePurchase;
        raw[2] = s.EventCount;
        raw[3] = perMonth;
        raw[4] = overdue;
        raw[5] = s.Orders;
        raw[6] = monetary;
        raw[7] = recent;
        for (var i = 0; i < Count; i++)
        {
            inputs[i] = Math.Log(1 + Math.Max(0, raw[i]));
        }
    }

    /// <summary>A short phrase for input <paramref name="index"/> at raw value <paramref name="raw"/>: "no visit for 41 days".</summary>
    public static string Describe(int index, double raw)
    {
        var c = CultureInfo.InvariantCulture;
        return index switch
        {
            // Whole days elapsed, as the lifecycle explanation counts them (91.6 days is "91 days ago" in both).
            0 => raw < 1 ? "active today" : string.Create(c, $"no visit for {Math.Floor(raw):F0} days"),
            1 => string.Create(c, $"last purchase {Math.Floor(raw):F0} days ago"),
            2 => string.Create(c, $"{raw:F0} events"),
            3 => string.Create(c, $"{raw:F1} active days a month"),
            4 => string.Create(c, $"quiet for {raw:F1}× her usual gap"),
            5 => string.Create(c, $"{raw:F0} orders"),
            6 => string.Create(c, $"spent {raw:F2}"),
            7 => string.Create(c, $"{raw:F0} interactions in the last 30 days"),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };
    }

    // Distinct event days among the remembered interactions (the last ProfileOptions.HistoryInteractions), plus the
    // day of the last activity, which may be a search or a return the history does not keep; and how many of those
    // interactions fall in the 30 days before now.
    private static int ActiveDays(List<InteractionState> history, DateTimeOffset lastSeen, out int recent, DateTimeOffset now)
    {
        var days = new HashSet<long>(history.Count + 1) { lastSeen.UtcTicks / TimeSpan.TicksPerDay };
        recent = 0;
        var monthAgo = now - TimeSpan.FromDays(DaysPerMonth);
        foreach (var h in history)
        {
            if (h.At <= now)
            {
                days.Add(h.At.UtcTicks / TimeSpan.TicksPerDay);
                recent += h.At > monthAgo ? 1 : 0;
            }
        }

        return days.Count;
    }

    private static double Days(TimeSpan span) => span <= TimeSpan.Zero ? 0 : span.TotalDays;
}
