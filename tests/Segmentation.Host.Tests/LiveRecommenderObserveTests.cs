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
