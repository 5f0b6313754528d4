using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Access;

/// <summary>
/// Per-key token buckets (System.Threading.RateLimiting): one for ingested events, one for every other call, created
/// at a key's first call with its quotas (or the deployment's, <see cref="RateLimitOptions"/>). A key with no quota
/// has no bucket and costs a dictionary read. Thread-safe; buckets replenish on their own timer.
/// </summary>
internal sealed class KeyRateLimiters : IDisposable
{
    private readonly RateLimitOptions _defaults;
    private readonly ConcurrentDictionary<string, Buckets> _buckets = new(StringComparer.Ordinal);

    public KeyRateLimiters(RateLimitOptions defaults) => _defaults = defaults;

    /// <summary>The bucket <paramref name="key"/> spends <paramref name="ingest"/> events or calls from, or null when it has no quota.</summary>
    public KeyBucket? For(StoredApiKey key, bool ingest)
    {
        var buckets = _buckets.GetOrAdd(key.Id, static (_, state) => new Buckets(
            Create(state.Key.IngestEventsPerSecond > 0 ? state.Key.IngestEventsPerSecond : state.Defaults.IngestEventsPerSecond, state.Defaults.BurstSeconds),
            Create(state.Key.QueriesPerSecond > 0 ? state.Key.QueriesPerSecond : state.Defaults.QueriesPerSecond, state.Defaults.BurstSeconds)),
            (Key: key, Defaults: _defaults));
        return ingest ? buckets.Ingest : buckets.Queries;
    }

    public void Dispose()
    {
        foreach (var buckets in _buckets.Values)
        {
            buckets.Ingest?.Limiter.Dispose();
            buckets.Queries?.Limiter.Dispose();
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

    private sealed record Buckets(KeyBucket? Ingest, KeyBucket? Queries);
}

/// <summary>A key's token bucket and its depth (the most tokens one call may take).</summary>
internal sealed record KeyBucket(TokenBucketRateLimiter Limiter, int TokenLimit);
