using Segmentation.Host.Access;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Tests.Access;

/// <summary>
/// The per-caller buckets are evicted when idle: every JWT subject is a caller of its own (<c>jwt:&lt;sub&gt;</c>), and
/// without eviction each one seen would be held for the life of the process. Only full buckets go (a new one is the
/// same), so a caller that drained its quota keeps being refused however long it waits for the sweep.
/// </summary>
public sealed class KeyRateLimitersTests
{
    [Fact]
    public async Task IdleBucketsOfManyJwtSubjects_AreEvicted_OnceFullAgain()
    {
        using var limiters = new KeyRateLimiters(new RateLimitOptions { QueriesPerSecond = 1_000, IngestEventsPerSecond = 1_000 });
        for (var i = 0; i < 500; i++)
        {
            using var lease = limiters.For(JwtCaller($"subject-{i}"), ingest: i % 2 == 0)!.Limiter.AttemptAcquire(1);
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal(500, limiters.Count);
        // Recently used: kept, whatever their fill.
        Assert.Equal(0, limiters.EvictIdle(TimeSpan.FromHours(1)));
        Assert.Equal(500, limiters.Count);

        // 1,000/s refills the one token taken within a tenth of a second; wait a bounded while for every bucket to be full.
        var evicted = 0;
        for (var attempt = 0; attempt < 200 && limiters.Count > 0; attempt++)
        {
            await Task.Delay(50);
            evicted += limiters.EvictIdle(TimeSpan.Zero);
        }

        Assert.Equal(0, limiters.Count);
        Assert.Equal(500, evicted);

        // A subject that comes back gets a full bucket, as before.
        var again = limiters.For(JwtCaller("subject-1"), ingest: false)!;
        Assert.Equal(1_000, again.Limiter.GetStatistics()!.CurrentAvailablePermits);
        Assert.Equal(1, limiters.Count);
    }

    [Fact]
    public void ADrainedBucket_IsKept_SoWaitingForTheSweepDoesNotResetTheQuota()
    {
        // One call per 100 s: drained by the first call for longer than this test runs.
        using var limiters = new KeyRateLimiters(new RateLimitOptions { QueriesPerSecond = 0.01 });
        var caller = JwtCaller("noisy");
        using (var first = limiters.For(caller, ingest: false)!.Limiter.AttemptAcquire(1))
        {
            Assert.True(first.IsAcquired);
        }

        Assert.Equal(0, limiters.EvictIdle(TimeSpan.Zero));
        Assert.Equal(1, limiters.Count);
        using var second = limiters.For(caller, ingest: false)!.Limiter.AttemptAcquire(1);
        Assert.False(second.IsAcquired);
    }

    [Fact]
    public void AnEvictedBucket_StaysUsableUntilTheNextSweep_ThenIsDisposed()
    {
        using var limiters = new KeyRateLimiters(new RateLimitOptions { QueriesPerSecond = 5 });
        // Taken from the map, then evicted (full, never spent) before the caller spends from it.
        var held = limiters.For(JwtCaller("racer"), ingest: false)!;
        Assert.Equal(1, limiters.EvictIdle(TimeSpan.Zero));
        using (var lease = held.Limiter.AttemptAcquire(1))
        {
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal(0, limiters.EvictIdle(TimeSpan.Zero));
        Assert.Throws<ObjectDisposedException>(() => held.Limiter.AttemptAcquire(1));
    }

    // As JwtCallers makes one per validated token: id jwt:<sub>, the deployment's quotas.
    private static StoredApiKey JwtCaller(string subject) =>
        new("jwt:" + subject, "default", AccessScope.Read | AccessScope.Ingest, $"JWT {subject} (test)", [], DateTimeOffset.UnixEpoch, null, 0, 0);
}
