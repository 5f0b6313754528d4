using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Access;

/// <summary>
/// Per-key token buckets (System.Threading.RateLimiting): one for ingested events, one for every other call, created
/// at a key's first call with its quotas (or the deployment's, <see cref="RateLimitOptions"/>). A key with no quota
/// has no bucket and costs a dictionary read. Thread-safe; buckets replenish on their own timer.
/// </summary>
/// <remarks>
/// Callers are not only the catalogue's keys: every JWT subject is one (<c>jwt:&lt;sub&gt;</c>), so the buckets are
/// evicted when idle, or memory would grow with every subject ever seen. A key's buckets go once unused for
/// <see cref="IdleAfter"/> <em>and</em> full again: a full bucket is exactly what a new one is, so eviction changes no
/// caller's quota (a key that drained its bucket keeps it, however long it waits). A sweep every
/// <see cref="IdleAfter"/> removes them; their limiters (and replenishment timers) are disposed one sweep later, so a
/// call that took a bucket from the map just before it was removed still spends from a live limiter. In that instant
/// the key may briefly have two full buckets, at most one extra burst.
/// </remarks>
internal sealed class KeyRateLimiters : IDisposable
{
    /// <summary>How long a key's buckets are kept unused (and full) before they are evicted.</summary>
    public static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(5);

    private readonly RateLimitOptions _defaults;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, Buckets> _buckets = new(StringComparer.Ordinal);
    private readonly ITimer _sweeper;
    private readonly Lock _sweeping = new();
    private List<Buckets> _retired = [];

    public KeyRateLimiters(RateLimitOptions defaults, TimeProvider? clock = null)
    {
        _defaults = defaults;
        _clock = clock ?? TimeProvider.System;
        _sweeper = _clock.CreateTimer(static state => ((KeyRateLimiters)state!).EvictIdle(IdleAfter), this, IdleAfter, IdleAfter);
    }

    /// <summary>How many keys hold buckets now.</summary>
    public int Count => _buckets.Count;

    /// <summary>The bucket <paramref name="key"/> spends <paramref name="ingest"/> events or calls from, or null when it has no quota.</summary>
    public KeyBucket? For(StoredApiKey key, bool ingest)
    {
        var buckets = _buckets.GetOrAdd(key.Id, static (_, state) => new Buckets(
            Create(state.Key.IngestEventsPerSecond > 0 ? state.Key.IngestEventsPerSecond : state.Defaults.IngestEventsPerSecond, state.Defaults.BurstSeconds),
            Create(state.Key.QueriesPerSecond > 0 ? state.Key.QueriesPerSecond : state.Defaults.QueriesPerSecond, state.Defaults.BurstSeconds)),
            (Key: key, Defaults: _defaults));
        buckets.LastUsed = _clock.GetTimestamp();
        return ingest ? buckets.Ingest : buckets.Queries;
    }

    /// <summary>
    /// Removes the buckets of keys unused for <paramref name="idleFor"/> whose buckets are full, and disposes those removed
    /// by the previous sweep; returns how many keys it removed. Called by the sweep timer; tests call it directly.
    /// </summary>
    public int EvictIdle(TimeSpan idleFor)
    {
        lock (_sweeping)
        {
            foreach (var old in _retired)
            {
                old.Dispose();
            }

            _retired = [];
            var now = _clock.GetTimestamp();
            foreach (var entry in _buckets)
            {
                var buckets = entry.Value;
                if (_clock.GetElapsedTime(buckets.LastUsed, now) >= idleFor && buckets.IsFull && _buckets.TryRemove(entry))
                {
                    _retired.Add(buckets);
                }
            }

            return _retired.Count;
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        lock (_sweeping)
        {
            foreach (var buckets in _retired.Concat(_buckets.Values))
            {
                buckets.Dispose();
            }
        }
    }

    private static KeyBucket? Create(double perSecond, double burstSeconds)
    {
        if (perSecond <= 0)
        {
            return null;
        }

        // Refill ten times a second (or once per token below 10/s), so a bucket drained by a burst recovers smoothly
        // rather than in one step a second later.
        var period = perSecond >= 10 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1 / perSecond);
        var tokensPerPeriod = perSecond >= 10 ? (int)Math.Max(1, Math.Round(perSecond / 10)) : 1;
        var tokenLimit = (int)Math.Clamp(Math.Ceiling(perSecond * burstSeconds), 1, int.MaxValue);
        return new KeyBucket(new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = tokenLimit,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }), tokenLimit);
    }

    private sealed class Buckets(KeyBucket? ingest, KeyBucket? queries)
    {
        public KeyBucket? Ingest { get; } = ingest;

        public KeyBucket? Queries { get; } = queries;

        /// <summary>When a call last took one of them (<see cref="TimeProvider.GetTimestamp"/>); a racy write is fine, any recent value will do.</summary>
        public long LastUsed { get; set; }

        /// <summary>Whether both hold as many tokens as a new bucket would.</summary>
        public bool IsFull => IsFullBucket(Ingest) && IsFullBucket(Queries);

        public void Dispose()
        {
            Ingest?.Limiter.Dispose();
            Queries?.Limiter.Dispose();
        }

        private static bool IsFullBucket(KeyBucket? bucket) =>
            bucket is null || bucket.Limiter.GetStatistics()?.CurrentAvailablePermits >= bucket.TokenLimit;
    }
}

/// <summary>A key's token bucket and its depth (the most tokens one call may take).</summary>
internal sealed record KeyBucket(TokenBucketRateLimiter Limiter, int TokenLimit);
