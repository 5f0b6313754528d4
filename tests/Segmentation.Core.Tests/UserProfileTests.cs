using System.Text.Json;
using Segmentation.Core;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests;

public sealed class UserProfileTests
{
    /// <summary>A mixed log: every type, out-of-order times, shared order ids, long gaps, negative weights, deep paths.</summary>
    private static BehaviorEvent[] MixedLog() => [.. Enumerable.Range(0, 240).Select(i => Make(
        (EventType)(1 + (i % 9)),
        T0.AddHours((i * 37 % 500) + (i >= 200 ? 3000 : 0)),
        item: $"sku{i % 13}",
        price: i % 17,
        quantity: 1 + (i % 3),
        category: $"d{i % 5}.a{i % 3}.b{i % 7}",
        order: i % 11 == 0 ? null : $"o{i / 4}"))];

    private static string Json<T>(T value) => JsonSerializer.Serialize(value);

    [Fact]
    public void Counts_PerType_AndEventCount()
    {
        var profile = new UserProfile("u", new ProfileOptions());
        Assert.True(profile.IsEmpty);
        profile.Apply(Make(EventType.View, 0));
        profile.Apply(Make(EventType.Purchase, 1));
        profile.Apply(Make(EventType.View, 2));
        var view = profile.View(T0.AddDays(2));
        Assert.False(profile.IsEmpty);
        Assert.Equal(("u", 3L, 3L), (profile.UserId, profile.EventCount, view.EventCount));
        Assert.Equal([new EventTypeCount(EventType.View, 2), new EventTypeCount(EventType.Purchase, 1)], view.Counts);
        Assert.Equal(T0.AddDays(2), view.AsOf);
    }

    [Fact]
    public void RecentItems_AreDistinctNewestFirst_AndBounded()
    {
        var profile = new UserProfile("u", new ProfileOptions { RecentItems = 3 });
        foreach (var (item, day) in new[] { ("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5), ("old", 0) })
        {
            profile.Apply(Make(EventType.View, T0.AddDays(day), item: item));
        }

        Assert.Equal(["d", "c", "a"], profile.View(T0.AddDays(6)).RecentItems.Select(r => r.ItemId));
    }

    [Fact]
    public void RecentItems_KeepEachItemsLatestEvent_EvenWhenEventsArriveLate()
    {
        var profile = Fold(
            Make(EventType.View, T0.AddDays(1), item: "a"),
            Make(EventType.Purchase, T0.AddDays(5), item: "a"),
            Make(EventType.View, T0.AddDays(3), item: "b"),
            Make(EventType.Wishlist, T0.AddDays(2), item: "a"),
            Make(EventType.Search, T0.AddDays(9)));
        Assert.Equal(
            [new RecentItem("a", EventType.Purchase, T0.AddDays(5)), new RecentItem("b", EventType.View, T0.AddDays(3))],
            profile.View(T0.AddDays(9)).RecentItems);
    }

    [Fact]
    public void StageAt_DecidesWhatAssessLifecycleDecides_AtEveryTime()
    {
        var profile = new UserProfile("u", new ProfileOptions());
        Assert.Equal(LifecycleStage.Unspecified, profile.StageAt(T0));
        foreach (var e in MixedLog())
        {
            profile.Apply(e);
            foreach (var days in new[] { 0, 5, 20, 40, 100, 200 })
            {
                var now = e.Timestamp.AddDays(days);
                Assert.Equal(profile.AssessLifecycle(now).Stage, profile.StageAt(now));
            }
        }
    }

    [Fact]
    public void SameEvents_SameOrder_GiveIdenticalState()
    {
        Assert.Equal(Json(Fold(MixedLog()).ToState()), Json(Fold(MixedLog()).ToState()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(97)]
    [InlineData(200)]
    [InlineData(240)]
    public void Snapshot_RoundTripsThroughJson_AndFoldingOnEqualsAFullFold(int split)
    {
        var events = MixedLog();
        var full = Fold(events);

        var json = Json(Fold(events[..split]).ToState());
        var restored = UserProfile.FromState(JsonSerializer.Deserialize<ProfileState>(json)!, new ProfileOptions());
        Assert.Equal(json, Json(restored.ToState()));
        foreach (var e in events[split..])
        {
            restored.Apply(e);
        }

        Assert.Equal(Json(full.ToState()), Json(restored.ToState()));
        var now = T0.AddDays(200);
        Assert.Equal(Json(full.View(now)), Json(restored.View(now)));
    }

    [Fact]
    public void ToState_IsACopy()
    {
        var profile = Fold(Make(EventType.Purchase, 0));
        var state = profile.ToState();
        state.Orders = 99;
        state.Categories.Clear();
        Assert.Equal(1, profile.View(T0).Orders);
        Assert.NotEmpty(profile.View(T0).TopCategories);
    }
}
