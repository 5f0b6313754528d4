using Segmentation.Core.Embeddings;
using Segmentation.Core.Recommendations;

namespace Segmentation.Core.Tests.Embeddings;

public sealed class EncoderFeaturesTests
{
    private static readonly DateTimeOffset s_now = Events.T0.AddDays(100);

    private static int Known(string id) => id.StartsWith('i') ? int.Parse(id[1..]) : 0;

    private static (long[] Ids, float[] Weights, int Used) History(EncoderFeatures features, params Interaction[] history)
    {
        var ids = new long[features.HistoryLength];
        var weights = new float[features.HistoryLength];
        var used = features.History(history, s_now, Known, ids, weights);
        return (ids, weights, used);
    }

    [Fact]
    public void History_WeighsByTypeAndDecay_MostRecentFirst_SumsToOne_PadsWithZero()
    {
        var features = new EncoderFeatures(5, TimeSpan.FromDays(30), InteractionWeights.Default);

        // A purchase today (5), a view 30 days ago (1 × ½), a cart 60 days ago (3 × ¼).
        var (ids, weights, used) = History(
            features,
            new Interaction("i3", EventType.AddToCart, s_now.AddDays(-60)),
            new Interaction("i1", EventType.Purchase, s_now),
            new Interaction("i2", EventType.View, s_now.AddDays(-30)));

        Assert.Equal(3, used);
        Assert.Equal([1L, 2, 3, 0, 0], ids);
        var total = 5 + 0.5 + 0.75;
        Assert.Equal(5 / total, weights[0], 6);
        Assert.Equal(0.5 / total, weights[1], 6);
        Assert.Equal(0.75 / total, weights[2], 6);
        Assert.Equal([0f, 0f], weights[3..]);
        Assert.Equal(1f, weights.Sum(), 6);
    }

    [Fact]
    public void History_MergesRepeatsOfAnItemAtItsMostRecentSlot()
    {
        var features = new EncoderFeatures(4, TimeSpan.FromDays(30), InteractionWeights.Default);

        var (ids, weights, used) = History(
            features,
            new Interaction("i7", EventType.View, s_now.AddDays(-30)),
            new Interaction("i8", EventType.View, s_now.AddDays(-1)),
            new Interaction("i7", EventType.View, s_now));

        Assert.Equal(2, used);
        Assert.Equal([7L, 8, 0, 0], ids);
        var i8 = Math.Pow(2, -1 / 30.0);
        var total = 1 + 0.5 + i8;
        Assert.Equal(1.5 / total, weights[0], 6);
        Assert.Equal(i8 / total, weights[1], 6);
    }

    [Fact]
    public void History_KeepsOnlyTheLMostRecentKnownPositiveEntries()
    {
        var features = new EncoderFeatures(2, TimeSpan.FromDays(30), InteractionWeights.Default);

        var (ids, weights, used) = History(
            features,
            new Interaction("i1", EventType.View, s_now.AddDays(-3)),
            new Interaction("i2", EventType.View, s_now.AddDays(-2)),
            new Interaction("unknown", EventType.Purchase, s_now),            // index 0: dropped, takes no slot
            new Interaction("i4", EventType.Search, s_now),                   // weight 0: dropped
            new Interaction("i5", EventType.Rating, s_now, Rating: 0),        // no stars, weight 0: dropped
            new Interaction("i3", EventType.Rating, s_now.AddDays(-1), Rating: 4));

        Assert.Equal(2, used);
        Assert.Equal([3L, 2], ids);
        Assert.True(weights[0] > weights[1]);
        Assert.Equal(1f, weights.Sum(), 6);
    }

    [Fact]
    public void History_OnEqualTimes_TheLaterEntryOfTheListIsMoreRecent()
    {
        var features = new EncoderFeatures(1, TimeSpan.FromDays(30), InteractionWeights.Default);

        var (ids, _, _) = History(features, new Interaction("i1", EventType.View, s_now), new Interaction("i2", EventType.View, s_now));

        Assert.Equal([2L], ids);
    }

    [Fact]
    public void History_FutureEventsDoNotGrow_AndNothingKnownGivesAllPadding()
    {
        var features = new EncoderFeatures(3, TimeSpan.FromDays(30), InteractionWeights.Default);

        var (_, weights, _) = History(features, new Interaction("i1", EventType.View, s_now.AddDays(10)), new Interaction("i2", EventType.View, s_now));
        var (emptyIds, emptyWeights, used) = History(features, new Interaction("x", EventType.Purchase, s_now));

        Assert.Equal(0.5f, weights[0], 6);
        Assert.Equal(0.5f, weights[1], 6);
        Assert.Equal(0, used);
        Assert.All(emptyIds, id => Assert.Equal(0L, id));
        Assert.All(emptyWeights, w => Assert.Equal(0f, w));
    }

    [Fact]
    public void History_RejectsBuffersOfTheWrongLength()
    {
        var features = new EncoderFeatures(3, TimeSpan.FromDays(30), InteractionWeights.Default);

        Assert.Throws<ArgumentException>(() => features.History([], s_now, Known, new long[2], new float[3]));
    }

    [Fact]
    public void Encode_UsesTheProfilesHistory_PurchasesIncluded()
    {
        var profile = Events.Fold(
            Events.Make(EventType.Purchase, Events.T0, item: "i1"),
            Events.Make(EventType.View, Events.T0.AddDays(1), item: "i2"),
            Events.Make(EventType.View, Events.T0.AddDays(2), item: "ghost"));
        var features = new EncoderFeatures(4, TimeSpan.FromDays(30), InteractionWeights.Default);
        var ids = new long[4];
        var weights = new float[4];
        var dense = new float[EncoderFeatures.FeatureCount];

        var used = features.Encode(profile, Events.T0.AddDays(2), Known, ids, weights, dense);

        Assert.Equal(2, used);
        Assert.Equal([2L, 1, 0, 0], ids);
        Assert.True(weights[1] > weights[0], "a purchase outweighs a later view");
        Assert.Equal(MathF.Log(4), dense[3], 5);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(400)]
    public void Encode_DenseFeaturesEqualThoseOfTheProfileView(int daysAfter)
    {
        // Purchases in one order and two, a return, a rating, a late cart and two views (no two type counts alike): every
        // column is non-trivial, and Encode (which reads the fold state) must match Dense of the full view bit for bit.
        var profile = Events.Fold(
            Events.Make(EventType.View, Events.T0.AddDays(5), item: "i1"),
            Events.Make(EventType.View, Events.T0.AddDays(6), item: "i6"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(9), item: "i2", price: 12.5, quantity: 3, order: "o1"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(9), item: "i3", price: 7, order: "o1"),
            Events.Make(EventType.Return, Events.T0.AddDays(12), item: "i3", price: 7),
            Events.Make(EventType.Rating, Events.T0.AddDays(13), item: "i2"),
            Events.Make(EventType.AddToCart, Events.T0.AddDays(1), item: "i4"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(20), item: "i5", price: 99.99));
        var now = Events.T0.AddDays(20 + daysAfter);
        var features = new EncoderFeatures(8, TimeSpan.FromDays(30), InteractionWeights.Default);
        var dense = new float[EncoderFeatures.FeatureCount];
        var expected = new float[EncoderFeatures.FeatureCount];

        features.Encode(profile, now, Known, new long[8], new float[8], dense);
        EncoderFeatures.Dense(profile.View(now), expected);

        Assert.Equal(expected, dense);
        Assert.All(dense[1..], x => Assert.True(x > 0));
        Assert.Equal(daysAfter == 0, dense[0] == 0);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(50)]
    public void Encode_HistoryEqualsHistoryOfTheRecommendationHistory(int length)
    {
        // Encode reads the fold state without building RecommendationHistory's list: the same slots and weights, bit for
        // bit, with purchases, ratings, unknown items, repeats of an item, a return (weight 0) and equal timestamps.
        var profile = Events.Fold(
            Events.Make(EventType.View, Events.T0.AddDays(5), item: "i1"),
            Events.Make(EventType.View, Events.T0.AddDays(5), item: "i6"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(9), item: "i2", price: 12.5, quantity: 3, order: "o1"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(9), item: "i3", price: 7, order: "o1"),
            Events.Make(EventType.Return, Events.T0.AddDays(12), item: "i3", price: 7),
            Events.Make(EventType.Rating, Events.T0.AddDays(13), item: "i2"),
            Events.Make(EventType.AddToCart, Events.T0.AddDays(1), item: "i4"),
            Events.Make(EventType.View, Events.T0.AddDays(14), item: "ghost"),
            Events.Make(EventType.View, Events.T0.AddDays(15), item: "i1"),
            Events.Make(EventType.Wishlist, Events.T0.AddDays(15), item: "i7"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(20), item: "i5", price: 99.99));
        var used = AssertEncodeEqualsHistory(profile, Events.T0.AddDays(40), length);

        Assert.Equal(Math.Min(length, 7), used);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(50)]
    [InlineData(700)]
    public void Encode_OfAProfileFoldedInTimeOrder_EqualsHistoryOfTheRecommendationHistory(int length)
    {
        // Folded in time order (as the grain folds), her purchases and other interactions are both in time order, and
        // Encode takes the most recent entries by walking the two lists from their ends instead of sorting all of them: a
        // history far longer than L, many equal timestamps across the two lists and within each (the later entry, and any
        // other interaction before a purchase, goes first), purchases repeated (moved to the end of her purchases), unknown
        // items and returns (never taken), so a wrong tie-break or a skipped entry changes the slots or the weights.
        var random = new Random(11);
        var events = new List<BehaviorEvent>();
        var at = Events.T0;
        for (var i = 0; i < 400; i++)
        {
            at = random.Next(3) == 0 ? at : at.AddHours(random.Next(1, 30));
            var type = random.Next(10) switch
            {
                0 or 1 => EventType.Purchase,
                2 => EventType.AddToCart,
                3 => EventType.Rating,
                4 => EventType.Return,
                5 => EventType.Wishlist,
                _ => EventType.View,
            };
            var item = random.Next(8) == 0 ? "ghost" : "i" + random.Next(1, 60).ToString(System.Globalization.CultureInfo.InvariantCulture);
            events.Add(Events.Make(type, at, item: item));
        }

        var profile = Events.Fold(new ProfileOptions { PurchasedItems = 30 }, [.. events]);
        Assert.True(profile.State.Purchased.Count > 10, "purchases to merge with");
        var used = AssertEncodeEqualsHistory(profile, at.AddDays(3), length);

        Assert.True(used > 0);
    }

    [Fact]
    public void Encode_AfterALateEventAndAfterItsEntriesGo_EqualsHistoryOfTheRecommendationHistory()
    {
        // The profile keeps whether her lists are in time order as she folds, so Encode asked between folds must see a late
        // event (an entry older than the last one, added at the end of its list) take its list out of order, and see the
        // list in order again once that entry is gone from the front: otherwise it would walk an unordered list from its
        // end and put the late entry first.
        var options = new ProfileOptions { HistoryInteractions = 4, PurchasedItems = 3 };
        var profile = Events.Fold(
            options,
            Events.Make(EventType.View, Events.T0.AddDays(1), item: "i1"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(2), item: "i2"),
            Events.Make(EventType.View, Events.T0.AddDays(3), item: "i3"));
        var now = Events.T0.AddDays(60);
        AssertEncodeEqualsHistory(profile, now, 8);

        // Late: a view and a purchase older than what she has.
        profile.Apply(Events.Make(EventType.View, Events.T0.AddHours(1), item: "i4"));
        AssertEncodeEqualsHistory(profile, now, 8);
        profile.Apply(Events.Make(EventType.Purchase, Events.T0.AddHours(2), item: "i5"));
        AssertEncodeEqualsHistory(profile, now, 8);

        // Newer events push the oldest entries out, the late ones with them, one at a time.
        for (var day = 10; day < 18; day++)
        {
            profile.Apply(Events.Make(day % 2 == 0 ? EventType.Purchase : EventType.View, Events.T0.AddDays(day), item: "i" + (day - 4).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            AssertEncodeEqualsHistory(profile, now, 8);
        }
    }

    // Encode's slots and weights equal History's over her recommendation history; returns how many slots it used.
    private static int AssertEncodeEqualsHistory(UserProfile profile, DateTimeOffset now, int length)
    {
        var features = new EncoderFeatures(length, TimeSpan.FromDays(30), InteractionWeights.Default);
        var (ids, weights) = (new long[length], new float[length]);
        var (expectedIds, expectedWeights) = (new long[length], new float[length]);

        var used = features.Encode(profile, now, Known, ids, weights, new float[EncoderFeatures.FeatureCount]);
        var expectedUsed = features.History(profile.RecommendationHistory(), now, Known, expectedIds, expectedWeights);

        Assert.Equal(expectedUsed, used);
        Assert.Equal(expectedIds, ids);
        Assert.Equal(expectedWeights, weights);
        return used;
    }

    [Fact]
    public void Encode_AnEmptyProfileHasAllDenseFeaturesZero()
    {
        var features = new EncoderFeatures(2, TimeSpan.FromDays(30), InteractionWeights.Default);
        var dense = Enumerable.Repeat(9f, EncoderFeatures.FeatureCount).ToArray();

        var used = features.Encode(new UserProfile("u", new ProfileOptions()), s_now, Known, new long[2], new float[2], dense);

        Assert.Equal(0, used);
        Assert.All(dense, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Dense_ComputesTheNamedFeaturesInOrder()
    {
        var profile = Events.Fold(
            Events.Make(EventType.View, Events.T0, item: "a"),
            Events.Make(EventType.View, Events.T0.AddDays(1), item: "b"),
            Events.Make(EventType.View, Events.T0.AddDays(2), item: "c"),
            Events.Make(EventType.Purchase, Events.T0.AddDays(3), item: "a", price: 20, quantity: 2, order: "o1"),
            Events.Make(EventType.Return, Events.T0.AddDays(4), item: "a", price: 20, quantity: 1));
        var dense = new float[EncoderFeatures.FeatureCount];

        EncoderFeatures.Dense(profile.View(Events.T0.AddDays(14)), dense);

        Assert.Equal(
            ["recency_days_log", "orders_log", "monetary_log", "events_log", "purchase_share", "tenure_days_log"],
            EncoderFeatures.FeatureNames);
        Assert.Equal(MathF.Log(1 + 10), dense[0], 5);   // last activity day 4, now day 14
        Assert.Equal(MathF.Log(2), dense[1], 5);        // one order
        Assert.Equal(MathF.Log(1 + 20), dense[2], 5);   // spent 40, returned 20
        Assert.Equal(MathF.Log(1 + 5), dense[3], 5);
        Assert.Equal(0.25f, dense[4], 5);               // 1 purchase, 3 views
        Assert.Equal(MathF.Log(1 + 14), dense[5], 5);
    }

    [Fact]
    public void Dense_IsZeroForAnEmptyProfile_AndMonetaryNeverNegative()
    {
        var dense = new float[EncoderFeatures.FeatureCount];
        EncoderFeatures.Dense(new UserProfile("nobody", new ProfileOptions()).View(s_now), dense);
        Assert.All(dense, x => Assert.Equal(0f, x));

        var returner = Events.Fold(Events.Make(EventType.Return, Events.T0, item: "a", price: 50, quantity: 1));
        EncoderFeatures.Dense(returner.View(Events.T0), dense);
        Assert.Equal(0f, dense[2]);
        Assert.Equal(0f, dense[0]);
        Assert.Equal(0f, dense[4]);
    }
}
