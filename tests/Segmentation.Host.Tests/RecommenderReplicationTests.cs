using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Tests;

/// <summary>
/// Each silo of a cluster keeps a replica of the recommenders: the changes one silo's users make reach another silo's
/// <see cref="LiveRecommender"/> through <see cref="LiveRecommender.Apply"/>, which must leave it answering exactly as
/// the silo that made them.
/// </summary>
public sealed class RecommenderReplicationTests
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    // Every interaction each user made so far (what her grain reads from her stream when her ML segment changes).
    private readonly Dictionary<string, List<Interaction>> _histories = new(StringComparer.Ordinal);

    [Fact]
    public void Replica_AppliedTheOriginsChanges_RecommendsExactlyWhatTheOriginDoes()
    {
        var origin = new LiveRecommender(new RecommendationOptions()) { Outbox = new RecommenderOutbox() };
        var replica = new LiveRecommender(new RecommendationOptions());
        var profiles = Feed(origin, users: 60, events: 3_000, seed: 7);

        replica.Apply(origin.Outbox!.Drain());

        AssertAnswersEqual(origin, replica, profiles);
        Assert.Equal(origin.Catalog.Count, replica.Catalog.Count);
    }

    [Fact]
    public void Replica_OfActivationsAndDeactivations_PairsLaterEventsAsTheOriginDoes()
    {
        var origin = new LiveRecommender(new RecommendationOptions()) { Outbox = new RecommenderOutbox() };
        var replica = new LiveRecommender(new RecommendationOptions());
        var profiles = Feed(origin, users: 30, events: 900, seed: 11);
        // Half the users' grains go idle, then come back: the origin forgets their items and restores them from their
        // profiles; the replica must do the same, or their next purchases would pair differently.
        foreach (var (userId, profile) in profiles.Where((_, i) => i % 2 == 0))
        {
            origin.UserDeactivated(userId);
            origin.UserActivated(userId, profile);
        }

        foreach (var (userId, _) in profiles.Where((_, i) => i % 3 == 0))
        {
            origin.UserDeactivated(userId);
        }

        Feed(origin, users: 30, events: 900, seed: 12, profiles);
        replica.Apply(origin.Outbox!.Drain());

        AssertAnswersEqual(origin, replica, profiles);
    }

    [Fact]
    public void Replica_OfALateEventOfAUserWithMoreItemsThanHerList_PairsAsTheOriginDoes()
    {
        // Lists of 5; she has 12 items in time order, and her third event arrives last: the origin derives her pairs
        // again (ReplayPairs), the replica from its Replayed change.
        var options = new RecommendationOptions { MaxItemsPerUser = 5 };
        var origin = new LiveRecommender(options) { Outbox = new RecommenderOutbox() };
        var replica = new LiveRecommender(options);
        var events = Enumerable.Range(0, 12).Select(i => new BehaviorEvent
        {
            EventId = $"e{i}",
            UserId = "her",
            Type = i % 3 == 0 ? EventType.Purchase : EventType.View,
            ItemId = $"sku-{i:D2}",
            Category = "c",
            Timestamp = s_start.AddMinutes(i),
        }).ToList();
        var late = events[2];
        var learned = events.Where(e => e != late).ToList();
        foreach (var e in learned)
        {
            origin.Observe("her", e, LifecycleStage.Active);
        }

        var before = origin.CoOccurrence.CoOccurrence("sku-00", "sku-05", s_start);
        Assert.True(origin.ReplayPairs("her", [.. learned.Select(Interaction.From)], [.. events.Select(Interaction.From)]));
        origin.Observe("her", late, LifecycleStage.Active, pairsReplayed: true);
        replica.Apply(origin.Outbox!.Drain());

        // In time order sku-02 pairs with sku-00 and sku-01, and sku-00 is forgotten before sku-05 comes, not after.
        Assert.True(before > 0);
        Assert.True(origin.CoOccurrence.CoOccurrence("sku-00", "sku-02", s_start) > 0);
        Assert.Equal(0, origin.CoOccurrence.CoOccurrence("sku-00", "sku-05", s_start));
        for (var a = 0; a < 12; a++)
        {
            for (var b = 0; b < 12; b++)
            {
                Assert.Equal(origin.CoOccurrence.CoOccurrence($"sku-{a:D2}", $"sku-{b:D2}", s_start), replica.CoOccurrence.CoOccurrence($"sku-{a:D2}", $"sku-{b:D2}", s_start), 1e-12);
                Assert.Equal(origin.CoOccurrence.Evidence($"sku-{a:D2}", $"sku-{b:D2}"), replica.CoOccurrence.Evidence($"sku-{a:D2}", $"sku-{b:D2}"));
            }

            Assert.Equal(origin.Popularity.Popularity("", $"sku-{a:D2}", s_start), replica.Popularity.Popularity("", $"sku-{a:D2}", s_start), 1e-12);
        }
    }

    [Fact]
    public void Replica_NeverSendsOnWhatItApplied_NorWhatARebuildReplayed()
    {
        var origin = new LiveRecommender(new RecommendationOptions()) { Outbox = new RecommenderOutbox() };
        var replica = new LiveRecommender(new RecommendationOptions()) { Outbox = new RecommenderOutbox() };
        Feed(origin, users: 5, events: 50, seed: 3, moveEvery: 0);
        var changes = origin.Outbox!.Drain();
        Assert.Equal(50, changes.Length);

        replica.Apply(changes);

        Assert.Equal(0, replica.Outbox!.Count);
        Assert.Empty(origin.Outbox.Drain());
    }

    // Events of `users` users over 40 items in 4 categories, a third of them purchases, observed as a user grain does;
    // every `moveEvery`-th event her ML segment changes (to 0, 1, 2 or none) and her interactions move with her.
    private Dictionary<string, UserProfile> Feed(LiveRecommender recommender, int users, int events, int seed, Dictionary<string, UserProfile>? profiles = null, int moveEvery = 7)
    {
        profiles ??= [];
        var random = new Random(seed);
        for (var i = 0; i < events; i++)
        {
            var userId = "u" + random.Next(users);
            var item = random.Next(40);
            var type = (random.Next(3)) switch { 0 => EventType.Purchase, 1 => EventType.AddToCart, _ => EventType.View };
            var e = new BehaviorEvent
            {
                EventId = $"{seed}-{i}",
                UserId = userId,
                Type = type,
                ItemId = $"sku-{item:D3}",
                Category = $"c{item % 4}",
                Price = 10,
                Quantity = type == EventType.View ? 0 : 1,
                Timestamp = s_start.AddMinutes(i),
            };
            if (!profiles.TryGetValue(userId, out var profile))
            {
                profile = new UserProfile(userId, new ProfileOptions());
                profiles.Add(userId, profile);
            }

            profile.Apply(e);
            recommender.Observe(userId, e, profile.StageAt(e.Timestamp));
            if (!_histories.TryGetValue(userId, out var history))
            {
                _histories.Add(userId, history = []);
            }

            history.Add(Interaction.From(e));
            if (moveEvery > 0 && i % moveEvery == 0)
            {
                var segment = random.Next(4);
                recommender.MoveMlSegment(userId, segment == 3 ? null : segment, history);
            }
        }

        return profiles;
    }

    private static void AssertAnswersEqual(LiveRecommender origin, LiveRecommender replica, Dictionary<string, UserProfile> profiles)
    {
        var now = s_start.AddDays(3);
        foreach (var (userId, profile) in profiles)
        {
            var request = new RecommendationRequest
            {
                UserId = userId,
                History = [.. profile.RecommendationHistory()],
                SegmentKeys = [LiveRecommender.MlSegmentKey(1), LiveRecommender.LifecycleKey(profile.StageAt(now))],
                Now = now,
                Count = 10,
            };
            var expected = origin.Recommend("", request);
            Assert.NotEmpty(expected);
            Assert.Equal(Describe(expected), Describe(replica.Recommend("", request)));
        }

        for (var item = 0; item < 40; item += 7)
        {
            var id = $"sku-{item:D3}";
            Assert.Equal(Describe(origin.SimilarItems(id, 10, new HashSet<string>(), now)), Describe(replica.SimilarItems(id, 10, new HashSet<string>(), now)));
        }

        Assert.Contains(LiveRecommender.MlSegmentKey(1), origin.Popularity.Keys);
        foreach (var key in origin.Popularity.Keys.Union(replica.Popularity.Keys))
        {
            Assert.Equal(origin.Popularity.ItemsOf(key, now), replica.Popularity.ItemsOf(key, now));
        }

        foreach (var userId in profiles.Keys)
        {
            Assert.Equal(origin.MlSegmentOf(userId), replica.MlSegmentOf(userId));
        }
    }

    private static string[] Describe(IReadOnlyList<Recommendation> recommendations) =>
        [.. recommendations.Select(r => $"{r.ItemId} {r.Score:R} {r.Reason}")];
}
