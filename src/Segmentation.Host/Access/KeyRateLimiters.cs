using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Access;

/// <summary>
/// Per-key token buckets (System.Threading.RateLimiting): one for ingested events, one for every other call, created
/// at a key's first call with its quotas (or the deployment's, <see cref="RateLimitOptions"/>), and a limit on its unary
/// calls in flight (<see cref="RateLimitOptions.CallsInFlight"/>). A key with no quota has no bucket and costs a
/// dictionary read. Thread-safe; buckets refill as they are read (<see cref="KeyBucket"/>), with no timer.
/// </summary>
/// <remarks>
/// Callers are not only the catalogue's keys: every JWT subject is one (<c>jwt:&lt;sub&gt;</c>), so the buckets are
/// evicted when idle, or memory would grow with every subject ever seen. A key's buckets go once unused for
/// <see cref="IdleAfter"/> <em>and</em> full again: a full bucket is exactly what a new one is, so eviction changes no
/// caller's quota (a key that drained its bucket keeps it, however long it waits). A sweep every
/// <see cref="IdleAfter"/> removes them; their limiters are disposed one sweep later, so a
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
        var buckets = Of(key);
        return ingest ? buckets.Ingest : buckets.Queries;
    }

    /// <summary>The limiter of <paramref name="key"/>'s unary calls in flight, or null when they are not limited (<see cref="RateLimitOptions.CallsInFlight"/>).</summary>
    public ConcurrencyLimiter? CallsInFlight(StoredApiKey key) => Of(key).InFlight;

    private Buckets Of(StoredApiKey key)
    {
        var buckets = _buckets.GetOrAdd(key.Id, static (_, state) => new Buckets(
            Create(state.Key.IngestEventsPerSecond > 0 ? state.Key.IngestEventsPerSecond : state.Defaults.IngestEventsPerSecond, state.Defaults.BurstSeconds, state.Clock),
            Create(state.Key.QueriesPerSecond > 0 ? state.Key.QueriesPerSecond : state.Defaults.QueriesPerSecond, state.Defaults.BurstSeconds, state.Clock),
            state.Defaults.CallsInFlight > 0
                ? new ConcurrencyLimiter(new ConcurrencyLimiterOptions
                {
                    PermitLimit = state.Defaults.CallsInFlight,
                    QueueLimit = state.Defaults.QueuedCalls,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                })
                : null,
            state.Defaults.CallsInFlight),
            (Key: key, Defaults: _defaults, Clock: _clock));
        buckets.LastUsed = _clock.GetTimestamp();
        return buckets;
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

    private static KeyBucket? Create(double perSecond, double burstSeconds, TimeProvider clock) =>
        perSecond > 0 ? new KeyBucket(perSecond, (int)Math.Clamp(Math.Ceiling(perSecond * burstSeconds), 1, int.MaxValue), clock) : null;

    private sealed class Buckets(KeyBucket? ingest, KeyBucket? queries, ConcurrencyLimiter? inFlight, int inFlightLimit)
    {
        public KeyBucket? Ingest { get; } = ingest;

        public KeyBucket? Queries { get; } = queries;

        public ConcurrencyLimiter? InFlight { get; } = inFlight;

        /// <summary>When a call last took one of them (<see cref="TimeProvider.GetTimestamp"/>); a racy write is fine, any recent value will do.</summary>
        public long LastUsed { get; set; }

        /// <summary>Whether both hold as many tokens as a new bucket would, and no call holds or waits for a slot.</summary>
        public bool IsFull => (Ingest?.IsFull ?? true) && (Queries?.IsFull ?? true)
            && (InFlight?.GetStatistics() is not { } calls || (calls.CurrentQueuedCount == 0 && calls.CurrentAvailablePermits == inFlightLimit));

        public void Dispose()
        {
            Ingest?.Limiter.Dispose();
            Queries?.Limiter.Dispose();
            InFlight?.Dispose();
        }
    }
}
