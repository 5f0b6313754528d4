namespace Segmentation.Core.Statistics;

/// <summary>
/// What business metrics and the value segments need of one customer, as of her last event: when she was first and
/// last seen, came back, last bought, and her orders and spend. Small enough to keep for every user of a shop in memory
/// (<see cref="BusinessMetricSums"/> sums them per segment at any time: her stage and recency move with "now").
/// </summary>
/// <param name="FirstSeen">Her first event.</param>
/// <param name="LastSeen">Her newest event.</param>
/// <param name="ReactivatedAt">When she came back after being churned, if she did.</param>
/// <param name="LastPurchase">Her newest purchase, if any.</param>
/// <param name="Orders">Distinct orders.</param>
/// <param name="Spend">Gross spend.</param>
/// <param name="Returned">Value returned.</param>
public readonly record struct CustomerFacts(
    DateTimeOffset FirstSeen, DateTimeOffset LastSeen, DateTimeOffset? ReactivatedAt, DateTimeOffset? LastPurchase, long Orders, double Spend, double Returned)
{
    /// <summary>The facts of <paramref name="profile"/> (a profile with events).</summary>
    public static CustomerFacts Of(UserProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var s = profile.State;
        return new CustomerFacts(s.FirstSeen, s.LastSeen, s.ReactivatedAt, s.LastPurchase, s.Orders, s.Spend, s.Returned);
    }

    /// <summary>Net spend: what she spent less what she returned (the M of RFM).</summary>
    public double Monetary => Spend - Returned;

    /// <summary>Whole days from her last purchase to <paramref name="now"/> (the R of RFM, as <see cref="UserProfile.Rfm"/> counts it); -1 without one.</summary>
    public int RecencyDays(DateTimeOffset now)
    {
        if (LastPurchase is not { } last)
        {
            return -1;
        }

        var span = now - last;
        return span <= TimeSpan.Zero ? 0 : (int)(span.Ticks / TimeSpan.TicksPerDay);
    }

    /// <summary>Her lifecycle stage at <paramref name="now"/> (<see cref="UserProfile.StageAt(DateTimeOffset)"/>).</summary>
    public LifecycleStage StageAt(DateTimeOffset now, LifecycleOptions options) => UserProfile.StageAt(FirstSeen, LastSeen, ReactivatedAt, now, options);
}
