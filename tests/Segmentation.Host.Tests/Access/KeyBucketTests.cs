using Segmentation.Host.Access;

namespace Segmentation.Host.Tests.Access;

/// <summary>
/// The retry hints of a drained bucket: successive refusals are told successive slots of the key's rate, so clients
/// that wait their hint come back one at a time rather than all at once; no hint is longer than a whole refill.
/// </summary>
public sealed class KeyBucketTests
{
    [Fact]
    public void RefusedCalls_AreToldSuccessiveSlotsOfTheRate_UpToAWholeRefill()
    {
        // One token per 10 s, five deep: once drained, the next token is 10 s away, the bucket full again in 50 s.
        var bucket = new KeyBucket(0.1, 5, new FrozenClock());
        for (var i = 0; i < 5; i++)
        {
            using var lease = bucket.Acquire(1);
            Assert.True(lease.IsAcquired);
        }

        var hints = Enumerable.Range(0, 7).Select(_ =>
        {
            using var lease = bucket.Acquire(1);
            Assert.False(lease.IsAcquired);
            return bucket.PushbackMilliseconds(lease, 1);
        }).ToList();

        Assert.Equal([10_000, 20_000, 30_000, 40_000, 50_000, 50_000, 50_000], hints);
    }

    // Time stands still for the hints (the limiter itself reads the real clock, 10 s per token is far off).
    private sealed class FrozenClock : TimeProvider
    {
        public override long GetTimestamp() => 1_000_000;
    }
}
