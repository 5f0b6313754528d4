using Segmentation.Core;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Tests;

/// <summary>
/// <see cref="LiveRecommender.Observe"/> runs for every ingested event with an item, inside the user's grain turn: what it
/// allocates is paid per event.
/// </summary>
public sealed class LiveRecommenderObserveTests
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ObservingAnEventOfAKnownUserAndItem_AllocatesNothingMore_TheMoreOftenItIsObserved()
    {
        // The same user viewing items she viewed before, with no rebuild running (nothing is journaled): the counts it
        // updates exist already, so observing ten times must not allocate more than observing once (an object per
        // observation did, about 120 bytes each).
        var recommender = new LiveRecommender(new RecommendationOptions());
        recommender.MoveMlSegment("u1", 2, []);
        for (var i = 0; i < 20; i++)
        {
            recommender.Observe("u1", View(i % 4, i), LifecycleStage.Active);
        }

        // Warm: first-call paths.
        Allocated(() => recommender.Observe("u1", View(0, 30), LifecycleStage.Active));
        var events = Enumerable.Range(0, 10).Select(i => View(i % 4, 40 + i)).ToArray();
        var once = Allocated(() => recommender.Observe("u1", events[0], LifecycleStage.Active));
        var tenTimes = Allocated(() =>
        {
            foreach (var e in events)
            {
                recommender.Observe("u1", e, LifecycleStage.Active);
            }
        });

        Assert.Equal(once, tenTimes);
    }

    [Fact]
    public void MlSegmentOf_AnswersWhileAnotherUsersLearningHoldsTheLearningLock()
    {
        // Every user's refresh asks which ML segment she is counted under; waiting there behind other users' learning
        // blocked a pool thread per refresh during ingest. Her answer must not wait for the learning lock (held here as
        // another user's Observe holds it), and must be the segment her last move counted her under.
        var recommender = new LiveRecommender(new RecommendationOptions());
        recommender.MoveMlSegment("u1", 2, []);
        var learning = (Lock)typeof(LiveRecommender).GetField("_learning", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(recommender)!;
        int? answer = null;
        using var answered = new ManualResetEventSlim();
        using (learning.EnterScope())
        {
            // On a thread of its own: this one holds the lock, and Lock lets its holder in again.
            var asking = new Thread(() =>
            {
                answer = recommender.MlSegmentOf("u1");
                answered.Set();
            });
            asking.Start();
            // Not a timing bound: a read that waits for the lock cannot answer before this scope ends, however long.
            Assert.True(answered.Wait(TimeSpan.FromSeconds(30)), "MlSegmentOf waited for the learning lock");
        }

        Assert.Equal(2, answer);
        Assert.Null(recommender.MlSegmentOf("u2"));
    }

    private static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static BehaviorEvent View(int item, int minute) => new()
    {
        EventId = "e" + minute.ToString(System.Globalization.CultureInfo.InvariantCulture),
        UserId = "u1",
        Type = EventType.View,
        ItemId = "sku-" + item.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Category = "c1",
        Timestamp = s_start.AddMinutes(minute),
    };
}
