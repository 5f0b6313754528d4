using Segmentation.Core;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;
using Segmentation.Storage;
using WireEventType = Segmentation.Contracts.V1.EventType;

namespace Segmentation.Host.Tests;

/// <summary>
/// The recommenders rebuilt at start from a log whose events were appended in any order equal the ones that learned
/// every user's events in event-time order (LiveRecommender.RebuildAsync replays user by user, her events sorted as her
/// grain folds them): co-occurrence, its evidence and popularity per lifecycle stage, users with more distinct items
/// than their lists hold included.
/// </summary>
public sealed class RecommenderRebuildOrderTests
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Rebuild_OfALogInArrivalOrder_EqualsTheTimeOrderedLoad()
    {
        // Lists of 6 items; six users over 30 items, with gaps long enough to move her lifecycle stage.
        var options = new RecommendationOptions { MaxItemsPerUser = 6 };
        var random = new Random(5);
        var wire = new List<Segmentation.Contracts.V1.Event>();
        for (var i = 0; i < 400; i++)
        {
            var type = random.Next(4) switch { 0 => WireEventType.Purchase, 1 => WireEventType.AddToCart, _ => WireEventType.View };
            wire.Add(Events.Make($"e{i:D4}", "u" + random.Next(6), type, s_start.AddHours(random.Next(24 * 120)), "sku-" + random.Next(30), category: "c" + random.Next(3)));
        }

        var events = wire.ConvertAll(e => EventCodec.Decode(EventCodec.Encode(e)));

        var expected = new LiveRecommender(options);
        foreach (var user in events.GroupBy(e => e.UserId))
        {
            var profile = new UserProfile(user.Key, new ProfileOptions());
            foreach (var e in user.Order(Comparer<BehaviorEvent>.Create(UserProfile.FoldOrder)))
            {
                profile.Apply(e);
                expected.Observe(user.Key, e, profile.StageAt(e.Timestamp));
            }
        }

        var log = new InMemoryEventLog();
        var arrival = wire.ToList();
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(arrival));
        foreach (var chunk in arrival.Chunk(37))
        {
            await log.AppendAsync([.. chunk.Select(e => new LogRecord(TenantKeys.User(e.UserId), TenantKeys.EventKey(TenantKeys.DefaultTenant, e.EventId), EventCodec.Encode(e)))], CancellationToken.None);
        }

        var rebuilt = new LiveRecommender(options);
        var (replayed, _) = await LiveRecommender.RebuildAsync(log, new ProfileOptions(), _ => rebuilt, CancellationToken.None);

        Assert.Equal(events.Count, replayed);
        var now = s_start.AddDays(130);
        var stages = Enum.GetValues<LifecycleStage>().Select(LiveRecommender.LifecycleKey).Append("").ToList();
        var pairs = 0;
        for (var a = 0; a < 30; a++)
        {
            var item = "sku-" + a;
            Assert.Equal(expected.CoOccurrence.Occurrence(item, now), rebuilt.CoOccurrence.Occurrence(item, now), 1e-9);
            foreach (var key in stages)
            {
                Assert.Equal(expected.Popularity.Popularity(key, item, now), rebuilt.Popularity.Popularity(key, item, now), 1e-9);
            }

            for (var b = 0; b < 30; b++)
            {
                var other = "sku-" + b;
                Assert.Equal(expected.CoOccurrence.CoOccurrence(item, other, now), rebuilt.CoOccurrence.CoOccurrence(item, other, now), 1e-9);
                Assert.Equal(expected.CoOccurrence.Evidence(item, other), rebuilt.CoOccurrence.Evidence(item, other));
                pairs += expected.CoOccurrence.CoOccurrence(item, other, now) > 0 ? 1 : 0;
            }
        }

        // Not every pair: each user's list of 6 leaves some of her items unpaired.
        Assert.InRange(pairs, 1, (30 * 29) - 1);
    }
}
