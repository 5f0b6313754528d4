using Segmentation.Core.Errors;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Tests;

/// <summary>The feed itself, without a server: how a watch ends and what the publisher sees meanwhile.</summary>
public sealed class SegmentChangeFeedTests
{
    private static readonly DateTimeOffset s_at = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static MembershipChange Change(string userId) => new(userId, "rule:big-spenders", Entered: true, s_at, "spent 200 > 100");

    [Fact]
    public async Task AWatchWhoseCallEnds_EndsCancelled_LeavesTheFeed_AndTheOthersStillGetEveryChange()
    {
        var feed = new SegmentChangeFeed();
        using var ended = new CancellationTokenSource();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var leaving = feed.WatchAsync(_ => true, ended.Token).GetAsyncEnumerator();
        await using var staying = feed.WatchAsync(_ => true, bound.Token).GetAsyncEnumerator();
        var leavingNext = leaving.MoveNextAsync().AsTask();
        var stayingNext = staying.MoveNextAsync().AsTask();
        Assert.Equal(2, feed.WatcherCount);

        feed.Publish(Change("u1"));
        Assert.True(await leavingNext.WaitAsync(bound.Token));
        Assert.True(await stayingNext.WaitAsync(bound.Token));
        Assert.Equal("u1", leaving.Current.UserId);

        // The leaving watch waits for its next change when its call ends: the wait ends, cancelled, without a change.
        leavingNext = leaving.MoveNextAsync().AsTask();
        ended.Cancel();
        // A TimeoutException (not cancellation) if the call's end did not end the wait.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leavingNext.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, feed.WatcherCount);

        for (var i = 2; i <= 100; i++)
        {
            feed.Publish(Change($"u{i}"));
        }

        for (var i = 2; i <= 100; i++)
        {
            Assert.True(await staying.MoveNextAsync().AsTask().WaitAsync(bound.Token));
            Assert.Equal($"u{i}", staying.Current.UserId);
        }
    }

    [Fact]
    public async Task AWatchAskedAfterItsCallEnded_EndsCancelled_EvenWithChangesQueued()
    {
        var feed = new SegmentChangeFeed();
        using var ended = new CancellationTokenSource();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = feed.WatchAsync(_ => true, ended.Token).GetAsyncEnumerator();
        var first = watch.MoveNextAsync().AsTask();
        feed.Publish(Change("u1"));
        Assert.True(await first.WaitAsync(bound.Token));

        feed.Publish(Change("u2"));
        ended.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, feed.WatcherCount);
    }

    [Fact]
    public async Task AWatchEndedByTheFeed_EndsWithTheFeedsReason_NotAsCancelled()
    {
        var feed = new SegmentChangeFeed();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = feed.WatchAsync(_ => true, bound.Token, userId: "u1").GetAsyncEnumerator();
        var next = watch.MoveNextAsync().AsTask();
        Assert.Equal(1, feed.EndWatchesOf("u1"));
        await Assert.ThrowsAsync<NotFoundException>(() => next.WaitAsync(bound.Token));
    }
}
