namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// Exponential time decay without touching stored values as time passes ("forward decay", Cormode et al. 2009):
/// a contribution made at time t is stored multiplied by 2^((t − epoch)/halfLife); a sum read at time now is divided
/// by 2^((now − epoch)/halfLife). Ratios of sums need no division at all. When the stored scale grows past 2^256 the
/// owner rescales every stored value by <see cref="Rebase"/>'s factor, so doubles never overflow.
/// Not thread-safe: the owner serialises access.
/// </summary>
internal sealed class ForwardDecay(TimeSpan? halfLife)
{
    private const double RebaseAboveLog2 = 256;
    private readonly double _halfLifeSeconds = halfLife is { } h && h > TimeSpan.Zero ? h.TotalSeconds : double.PositiveInfinity;
    private DateTimeOffset? _epoch;

    /// <summary>Whether values decay at all.</summary>
    public bool Decays => !double.IsPositiveInfinity(_halfLifeSeconds);

    /// <summary>The multiplier for a contribution made at <paramref name="time"/> (1 without decay).</summary>
    public double Weight(DateTimeOffset time)
    {
        if (!Decays)
        {
            return 1;
        }

        _epoch ??= time;
        return Math.Pow(2, (time - _epoch.Value).TotalSeconds / _halfLifeSeconds);
    }

    /// <summary>The divisor that turns stored sums into values as of <paramref name="now"/> (1 without decay).</summary>
    public double Divisor(DateTimeOffset now) => !Decays || _epoch is null ? 1 : Math.Pow(2, (now - _epoch.Value).TotalSeconds / _halfLifeSeconds);

    /// <summary>
    /// If <paramref name="time"/> is far past the epoch, moves the epoch to it and returns the factor (&lt; 1) by
    /// which the owner must multiply every stored value; otherwise returns 1.
    /// </summary>
    public double Rebase(DateTimeOffset time)
    {
        if (!Decays || _epoch is null)
        {
            return 1;
        }

        var log2 = (time - _epoch.Value).TotalSeconds / _halfLifeSeconds;
        if (log2 <= RebaseAboveLog2)
        {
            return 1;
        }

        _epoch = time;
        return Math.Pow(2, -log2);
    }

    /// <summary>2^(−age/halfLife): the weight now of something that happened <paramref name="age"/> ago (1 without decay or for the future).</summary>
    public static double Factor(TimeSpan age, TimeSpan? halfLife) =>
        halfLife is { } h && h > TimeSpan.Zero && age > TimeSpan.Zero ? Math.Pow(2, -age.TotalSeconds / h.TotalSeconds) : 1;
}
