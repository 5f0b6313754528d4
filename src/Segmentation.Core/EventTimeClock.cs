namespace Segmentation.Core;

/// <summary>
/// Domain time as the newest event time observed: replaying an old dataset then gives the lifecycle stages it had
/// when it was lived, and live traffic keeps it close to the wall clock. Before any observation it reads the inner
/// clock (or a fixed start); from the first observation on it is the maximum observed, so it never goes backwards
/// (it may jump back once, from the inner clock to the first event time). Thread-safe: one atomic maximum.
/// </summary>
/// <remarks>Only <see cref="GetUtcNow"/> follows event time; timers and timestamps are the system's.</remarks>
public sealed class EventTimeClock : TimeProvider
{
    private readonly TimeProvider _before;
    private long _highWaterTicks;

    /// <summary>Creates the clock; <paramref name="before"/> answers until the first event is observed.</summary>
    public EventTimeClock(TimeProvider before)
    {
        ArgumentNullException.ThrowIfNull(before);
        _before = before;
    }

    /// <summary>Creates the clock reading <paramref name="start"/> until the first event is observed.</summary>
    public EventTimeClock(DateTimeOffset start)
        : this(new FixedTime(start))
    {
    }

    /// <summary>Whether any event time was observed.</summary>
    public bool HasObserved => Volatile.Read(ref _highWaterTicks) != 0;

    /// <summary>Moves the clock forward to <paramref name="eventTime"/> if it is later; earlier times change nothing.</summary>
    public void Observe(DateTimeOffset eventTime)
    {
        var ticks = eventTime.UtcTicks;
        var current = Volatile.Read(ref _highWaterTicks);
        while (ticks > current)
        {
            var seen = Interlocked.CompareExchange(ref _highWaterTicks, ticks, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow()
    {
        var ticks = Volatile.Read(ref _highWaterTicks);
        return ticks == 0 ? _before.GetUtcNow() : new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    private sealed class FixedTime(DateTimeOffset start) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => start;
    }
}
