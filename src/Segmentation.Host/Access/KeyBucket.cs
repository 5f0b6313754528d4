using System.Threading.RateLimiting;

namespace Segmentation.Host.Access;

/// <summary>
/// One key's token bucket (a <see cref="TokenBucketRateLimiter"/>) and the retry hints it gives. Thread-safe.
/// </summary>
/// <remarks>
/// <para>
/// The bucket refills continuously, by the time elapsed, whenever it is read (<see cref="Acquire"/>): no timer per key,
/// and no step refill either. A bucket refilled by a timer in steps (a tenth of its rate every 100 ms) hands its
/// waiting callers the whole step at once, and every one of them comes back at the same instant: the key's load
/// arrives in bursts of a step's worth of calls, and those bursts are what another tenant's p99 sees.
/// </para>
/// <para>
/// The hint (<see cref="PushbackMilliseconds"/>) spreads the retries for the same reason. Each refused call is given
/// the next free slot of the key's rate after the bucket could serve it: the first is told the time until a token is
/// back, the next one <c>1 / rate</c> later, and so on, so a key's clients that wait their hint come back one at a time,
/// at the key's rate, rather than all together. A slot is a hint, not a reservation: the token goes to whoever asks
/// first. Hints are never longer than it takes to refill the whole bucket (a flood ignoring them would otherwise push
/// every later slot out without bound); past that, refused calls share the last slot.
/// </para>
/// </remarks>
internal sealed class KeyBucket
{
    private readonly TimeProvider _clock;
    private readonly Lock _slots = new();
    // The next free retry slot (_clock's timestamp); guarded by _slots.
    private long _nextSlot;

    public KeyBucket(double perSecond, int tokenLimit, TimeProvider clock)
    {
        PerSecond = perSecond;
        TokenLimit = tokenLimit;
        _clock = clock;
        // Replenished by hand (TryReplenish), the limiter adds rate × elapsed time; its period only sets how often it
        // bothers: at least one token's worth, and no shorter than 100 µs.
        var tokensPerPeriod = (int)Math.Max(1, Math.Ceiling(perSecond / 10_000));
        Limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = tokenLimit,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokensPerPeriod / perSecond),
            QueueLimit = 0,
            AutoReplenishment = false,
        });
    }

    /// <summary>The limiter; spend through <see cref="Acquire"/>, which refills it first.</summary>
    public TokenBucketRateLimiter Limiter { get; }

    /// <summary>The bucket's depth: the most tokens one call may take.</summary>
    public int TokenLimit { get; }

    /// <summary>The key's rate, tokens per second.</summary>
    public double PerSecond { get; }

    /// <summary>Whether the bucket holds as many tokens as a new one.</summary>
    public bool IsFull
    {
        get
        {
            Limiter.TryReplenish();
            return Limiter.GetStatistics()?.CurrentAvailablePermits >= TokenLimit;
        }
    }

    /// <summary>Refills the bucket for the time elapsed, then takes <paramref name="permits"/> tokens if it holds them.</summary>
    public RateLimitLease Acquire(int permits)
    {
        Limiter.TryReplenish();
        return Limiter.AttemptAcquire(permits);
    }

    /// <summary>
    /// How long the caller refused <paramref name="refused"/> for <paramref name="permits"/> tokens should wait: the
    /// next free slot of the key's rate once the bucket holds them again, in whole milliseconds (at least 1). The slot
    /// is taken: the next refusal is told a later one.
    /// </summary>
    public long PushbackMilliseconds(RateLimitLease refused, int permits) => Slot(refused, permits, TimeSpan.MaxValue).Milliseconds;

    /// <summary>
    /// Takes the next free slot for <paramref name="permits"/> tokens if it is at most <paramref name="wait"/> away
    /// (true: hold the call that long, then acquire again); otherwise takes none and gives the hint to refuse with,
    /// the wait until the last slot taken, so that refusals of a flood that ignores them do not push later slots out.
    /// </summary>
    public bool TryTakeSlot(RateLimitLease refused, int permits, TimeSpan wait, out long milliseconds)
    {
        (milliseconds, var taken) = Slot(refused, permits, wait);
        return taken;
    }

    private (long Milliseconds, bool Taken) Slot(RateLimitLease refused, int permits, TimeSpan within)
    {
        var perToken = TimeSpan.FromSeconds(1 / PerSecond);
        var ready = refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : perToken * permits;
        var refill = TimeSpan.FromSeconds(TokenLimit / PerSecond);
        var frequency = _clock.TimestampFrequency;
        var now = _clock.GetTimestamp();
        var earliest = now + Ticks(ready, frequency);
        var latest = now + Ticks(ready > refill ? ready : refill, frequency);
        var bound = within == TimeSpan.MaxValue ? long.MaxValue : now + Ticks(within, frequency);
        long slot;
        bool taken;
        lock (_slots)
        {
            slot = Math.Max(earliest, _nextSlot);
            taken = slot <= latest && slot <= bound;
            if (taken)
            {
                _nextSlot = slot + Ticks(perToken * permits, frequency);
            }
            else
            {
                slot = Math.Min(slot, latest);
            }
        }

        // Whole milliseconds, rounded up.
        return (Math.Max(1, ((slot - now) * 1000 + frequency - 1) / frequency), taken);
    }

    private static long Ticks(TimeSpan span, long frequency) => (long)(span.TotalSeconds * frequency);
}
