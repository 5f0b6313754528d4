using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;
using Segmentation.Storage;
using WireEventType = Segmentation.Contracts.V1.EventType;

namespace Segmentation.Host.Tests;

/// <summary>
/// Popularity per ML segment counts each user's interactions under the ML segment she is in now
/// (<see cref="LiveRecommender.MoveMlSegment"/>, as her grain calls it when its refresh assigns her another one): the
/// same events give the same counts whatever order they arrived in and whenever her segment changed, and a rebuild
/// after an erasure counts the log under each remaining user's segment.
/// </summary>
public sealed class MlSegmentPopularityTests
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly int?[] s_final = [0, 1, 1, null, 2, 0];

    [Fact]
    public void MlSegmentPopularity_IsTheSame_ForTwoArrivalOrders_WithHerSegmentChangingBetween()
    {
        var events = Make();

        // In time order, every user in her final segment from the start.
        var sorted = new LiveRecommender(new RecommendationOptions());
        for (var u = 0; u < s_final.Length; u++)
        {
            sorted.MoveMlSegment("u" + u, s_final[u], []);
        }

        foreach (var e in events.OrderBy(e => e.Timestamp))
        {
            sorted.Observe(e.UserId, e, LifecycleStage.Active);
        }

        // Shuffled, her segment changing every few events (her interactions so far moving with her), then the final one.
        var shuffled = new LiveRecommender(new RecommendationOptions());
        var random = new Random(3);
        var arrival = events.ToArray();
        random.Shuffle(arrival);
        var histories = Feed(shuffled, arrival, random);

        foreach (var (userId, history) in histories)
        {
            shuffled.MoveMlSegment(userId, s_final[int.Parse(userId[1..], System.Globalization.CultureInfo.InvariantCulture)], history);
        }

        var now = s_start.AddDays(40);
        Assert.Equal(["", "lifecycle:active", "ml:0", "ml:1", "ml:2"], sorted.Popularity.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(sorted.Popularity.Keys.Order(StringComparer.Ordinal), shuffled.Popularity.Keys.Order(StringComparer.Ordinal));
        foreach (var key in sorted.Popularity.Keys)
        {
            AssertSameItems(sorted.Popularity.ItemsOf(key, now), shuffled.Popularity.ItemsOf(key, now));
        }

        for (var u = 0; u < s_final.Length; u++)
        {
            Assert.Equal(s_final[u], shuffled.MlSegmentOf("u" + u));
        }
    }

    [Fact]
    public async Task RebuildWithout_AnErasedUser_CountsTheOthersLoggedEventsUnderTheirMlSegments()
    {
        var events = Make();
        var log = new InMemoryEventLog();
        foreach (var chunk in events.Chunk(29))
        {
            await log.AppendAsync([.. chunk.Select(e => new LogRecord(TenantKeys.User(e.UserId), TenantKeys.EventKey(TenantKeys.DefaultTenant, e.EventId), EventCodec.Encode(ToWire(e))))], CancellationToken.None);
        }

        var live = new LiveRecommender(new RecommendationOptions());
        var random = new Random(8);
        var histories = Feed(live, events, random);
        foreach (var (userId, history) in histories)
        {
            live.MoveMlSegment(userId, s_final[int.Parse(userId[1..], System.Globalization.CultureInfo.InvariantCulture)], history);
        }

        // u4 (in ml:2) is erased: her stream goes, and the rebuild takes her out of ml:2 and everyone's counts.
        Assert.Contains("ml:2", live.Popularity.Keys);
        await log.DeleteStreamAsync(TenantKeys.User("u4"), CancellationToken.None);
        await live.RebuildWithoutAsync(log, new ProfileOptions(), ["u4"], CancellationToken.None);

        var expected = new LiveRecommender(new RecommendationOptions());
        for (var u = 0; u < s_final.Length; u++)
        {
            expected.MoveMlSegment("u" + u, u == 4 ? null : s_final[u], []);
        }

        foreach (var e in events.Where(e => e.UserId != "u4"))
        {
            expected.Observe(e.UserId, e, LifecycleStage.Active);
        }

        var now = s_start.AddDays(40);
        Assert.DoesNotContain("ml:2", live.Popularity.Keys);
        Assert.Null(live.MlSegmentOf("u4"));
        foreach (var key in new[] { "", "ml:0", "ml:1" })
        {
            AssertSameItems(expected.Popularity.ItemsOf(key, now), live.Popularity.ItemsOf(key, now));
        }
    }

    // Observes `arrival` in that order as user grains do; every 5th event her ML segment changes (0, 1, 2 or none) and
    // every interaction of hers observed so far moves with her. Returns each user's interactions.
    private static Dictionary<string, List<Interaction>> Feed(LiveRecommender recommender, IEnumerable<BehaviorEvent> arrival, Random random)
    {
        var histories = new Dictionary<string, List<Interaction>>(StringComparer.Ordinal);
        var i = 0;
        foreach (var e in arrival)
        {
            recommender.Observe(e.UserId, e, LifecycleStage.Active);
            if (!histories.TryGetValue(e.UserId, out var history))
            {
                histories.Add(e.UserId, history = []);
            }

            history.Add(Interaction.From(e));
            if (i++ % 5 == 0)
            {
                var segment = random.Next(4);
                recommender.MoveMlSegment(e.UserId, segment == 3 ? null : segment, history);
            }
        }

        return histories;
    }

    // Six users, 25 items, views, carts and purchases over a month.
    private static List<BehaviorEvent> Make()
    {
        var random = new Random(21);
        var events = new List<BehaviorEvent>();
        for (var i = 0; i < 300; i++)
        {
            var type = random.Next(4) switch { 0 => EventType.Purchase, 1 => EventType.AddToCart, _ => EventType.View };
            events.Add(new BehaviorEvent
            {
                EventId = $"e{i:D4}",
                UserId = "u" + random.Next(s_final.Length),
                Type = type,
                ItemId = "sku-" + random.Next(25),
                Category = "c" + random.Next(3),
                Price = 10,
                Quantity = type == EventType.View ? 0 : 1,
                Timestamp = s_start.AddMinutes(random.Next(30 * 24 * 60)),
            });
        }

        return events;
    }

    private static Segmentation.Contracts.V1.Event ToWire(BehaviorEvent e) =>
        Events.Make(e.EventId, e.UserId, e.Type switch
        {
            EventType.Purchase => WireEventType.Purchase,
            EventType.AddToCart => WireEventType.AddToCart,
            _ => WireEventType.View,
        }, e.Timestamp, e.ItemId, quantity: e.Quantity, category: e.Category);

    // The same items with the same popularity, within rounding of the sums (relative 1e-9).
    private static void AssertSameItems(IReadOnlyDictionary<string, double> expected, IReadOnlyDictionary<string, double> actual)
    {
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (item, value) in expected)
        {
            Assert.Equal(value, actual[item], value * 1e-9);
        }
    }
}
