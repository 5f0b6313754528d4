using System.Text.Json;
using Segmentation.Core;

namespace Segmentation.Core.Tests;

public sealed class UserProfileTests
{
    private static readonly DateTimeOffset s_t0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static int s_id;

    private static BehaviorEvent E(EventType type, DateTimeOffset at, string item = "sku", double price = 10, int quantity = 1, string category = "home.kitchen", string? order = null) => new()
    {
        EventId = "e" + Interlocked.Increment(ref s_id),
        UserId = "u",
        Type = type,
        ItemId = item,
        Category = category,
        Price = price,
        Quantity = BehaviorEvent.NeedsQuantity(type) ? quantity : 0,
        Rating = type == EventType.Rating ? 4 : 0,
        Timestamp = at,
        Attributes = order is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["order_id"] = order },
    };

    private static UserProfile Fold(params BehaviorEvent[] events)
    {
        var profile = new UserProfile("u", new ProfileOptions());
        foreach (var e in events)
        {
            profile.Apply(e);
        }

        return profile;
    }

    [Fact]
    public void InvoiceLines_SharingAnOrderId_AreOneOrder()
    {
        var profile = Fold(
            E(EventType.Purchase, s_t0, "a", 2, 3, order: "536365"),
            E(EventType.Purchase, s_t0, "b", 4, 1, order: "536365"),
            E(EventType.Purchase, s_t0.AddDays(1), "c", 10, 1, order: "536366"),
            E(EventType.Purchase, s_t0.AddDays(2), "d", 5, 2));
        var view = profile.View(s_t0.AddDays(2));
        Assert.Equal(3, view.Orders);
        Assert.Equal(30, view.Spend, 9);
        Assert.Equal(10, view.AverageOrderValue, 9);
    }

    [Fact]
    public void Returns_ReduceMonetary_NotSpend()
    {
        var view = Fold(E(EventType.Purchase, s_t0, price: 50, quantity: 2), E(EventType.Return, s_t0.AddDays(1), price: 50, quantity: 1)).View(s_t0.AddDays(1));
        Assert.Equal(100, view.Spend, 9);
        Assert.Equal(50, view.Returned, 9);
        Assert.Equal(50, view.Rfm.Monetary, 9);
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(7, 5)]
    [InlineData(8, 4)]
    [InlineData(30, 4)]
    [InlineData(31, 3)]
    [InlineData(90, 3)]
    [InlineData(180, 2)]
    [InlineData(181, 1)]
    public void RecencyScore_FollowsBreakpoints(int daysAgo, int score)
    {
        var profile = Fold(E(EventType.Purchase, s_t0));
        Assert.Equal(score, profile.Rfm(s_t0.AddDays(daysAgo)).RecencyScore);
        Assert.Equal(daysAgo, profile.Rfm(s_t0.AddDays(daysAgo)).RecencyDays);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(4, 4)]
    [InlineData(8, 5)]
    public void FrequencyScore_FollowsBreakpoints(int orders, int score)
    {
        var events = Enumerable.Range(0, orders).Select(i => E(EventType.Purchase, s_t0.AddHours(i), price: 1)).Prepend(E(EventType.View, s_t0)).ToArray();
        Assert.Equal(score, Fold(events).Rfm(s_t0.AddDays(1)).FrequencyScore);
    }

    [Theory]
    [InlineData(49.99, 1)]
    [InlineData(50, 2)]
    [InlineData(200, 3)]
    [InlineData(500, 4)]
    [InlineData(1000, 5)]
    public void MonetaryScore_FollowsBreakpoints(double spend, int score) =>
        Assert.Equal(score, Fold(E(EventType.Purchase, s_t0, price: spend)).Rfm(s_t0).MonetaryScore);

    [Fact]
    public void NeverPurchased_HasRecencyMinusOne_AndScoreOne()
    {
        var rfm = Fold(E(EventType.View, s_t0)).Rfm(s_t0);
        Assert.Equal((-1, 1), (rfm.RecencyDays, rfm.RecencyScore));
    }

    [Fact]
    public void Lifecycle_MovesThroughEveryStage_WithSinceAndExplanation()
    {
        var profile = Fold(E(EventType.Purchase, s_t0));
        var newStage = profile.AssessLifecycle(s_t0.AddDays(3));
        Assert.Equal(LifecycleStage.New, newStage.Stage);
        Assert.Equal(s_t0, newStage.Since);

        profile.Apply(E(EventType.View, s_t0.AddDays(20)));
        var active = profile.AssessLifecycle(s_t0.AddDays(25));
        Assert.Equal(LifecycleStage.Active, active.Stage);
        Assert.Equal(s_t0.AddDays(14), active.Since);

        var atRisk = profile.AssessLifecycle(s_t0.AddDays(20 + 47));
        Assert.Equal(LifecycleStage.AtRisk, atRisk.Stage);
        Assert.Equal(s_t0.AddDays(50), atRisk.Since);
        Assert.Equal("last activity 47 days ago (last purchase 67 days ago); at-risk after 30 days of inactivity", atRisk.Explanation);

        var churned = profile.AssessLifecycle(s_t0.AddDays(20 + 91));
        Assert.Equal(LifecycleStage.Churned, churned.Stage);
        Assert.Equal(s_t0.AddDays(110), churned.Since);

        profile.Apply(E(EventType.Purchase, s_t0.AddDays(200)));
        var back = profile.AssessLifecycle(s_t0.AddDays(205));
        Assert.Equal(LifecycleStage.Reactivated, back.Stage);
        Assert.Equal(s_t0.AddDays(200), back.Since);
        Assert.Contains("180 days away", back.Explanation, StringComparison.Ordinal);

        profile.Apply(E(EventType.View, s_t0.AddDays(225)));
        var activeAgain = profile.AssessLifecycle(s_t0.AddDays(241));
        Assert.Equal(LifecycleStage.Active, activeAgain.Stage);
        Assert.Equal(s_t0.AddDays(230), activeAgain.Since);

        // Back after an at-risk gap (40 days, short of churn): active again from that return.
        profile.Apply(E(EventType.View, s_t0.AddDays(265)));
        var resumed = profile.AssessLifecycle(s_t0.AddDays(266));
        Assert.Equal((LifecycleStage.Active, s_t0.AddDays(265)), (resumed.Stage, resumed.Since));
    }

    [Fact]
    public void OutOfOrderEvents_KeepFirstAndLastSeen()
    {
        var view = Fold(E(EventType.View, s_t0.AddDays(5)), E(EventType.View, s_t0), E(EventType.View, s_t0.AddDays(3))).View(s_t0.AddDays(6));
        Assert.Equal(s_t0, view.FirstSeen);
        Assert.Equal(s_t0.AddDays(5), view.LastSeen);
        Assert.Equal(LifecycleStage.New, view.Lifecycle.Stage);
    }

    [Fact]
    public void Affinity_HalvesEveryHalfLife_AndCreditsParents()
    {
        var profile = Fold(E(EventType.Purchase, s_t0, category: "home.kitchen.mugs"));
        var now = profile.View(s_t0).TopCategories.ToDictionary(c => c.Category, c => c.Affinity);
        var later = profile.View(s_t0.AddDays(30)).TopCategories.ToDictionary(c => c.Category, c => c.Affinity);
        Assert.Equal(5, now["home.kitchen.mugs"], 9);
        Assert.Equal(5, now["home"], 9);
        Assert.Equal(5, now["home.kitchen"], 9);
        Assert.Equal(2.5, later["home.kitchen.mugs"], 9);
    }

    [Fact]
    public void Affinity_LateEvents_AreDecayedToTheEntryTime_AndNeverNegative()
    {
        var profile = Fold(E(EventType.View, s_t0.AddDays(30), category: "toys"), E(EventType.View, s_t0, category: "toys"));
        Assert.Equal(1.5, profile.View(s_t0.AddDays(30)).TopCategories.Single().Affinity, 9);

        var returned = Fold(E(EventType.View, s_t0, category: "toys"), E(EventType.Return, s_t0, category: "toys"));
        Assert.Equal(0, returned.View(s_t0).TopCategories.Single().Affinity);
    }

    [Fact]
    public void Categories_AreBounded_DroppingTheWeakest()
    {
        var profile = new UserProfile("u", new ProfileOptions { MaxCategories = 4 });
        profile.Apply(E(EventType.Purchase, s_t0, category: "strong"));
        for (var i = 0; i < 10; i++)
        {
            profile.Apply(E(EventType.View, s_t0.AddMinutes(i), category: $"weak{i}"));
        }

        var top = profile.View(s_t0.AddHours(1)).TopCategories;
        Assert.Equal(4, top.Count);
        Assert.Equal("strong", top[0].Category);
    }

    [Fact]
    public void RecentItems_AreDistinctNewestFirst_AndBounded()
    {
        var profile = new UserProfile("u", new ProfileOptions { RecentItems = 3 });
        foreach (var (item, day) in new[] { ("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5), ("old", 0) })
        {
            profile.Apply(E(EventType.View, s_t0.AddDays(day), item: item));
        }

        Assert.Equal(["d", "c", "a"], profile.View(s_t0.AddDays(6)).RecentItems.Select(r => r.ItemId));
    }

    [Fact]
    public void Snapshot_RoundTripsThroughJson_AndFoldingOnEqualsAFullFold()
    {
        var events = Enumerable.Range(0, 200).Select(i => E(
            (EventType)(1 + (i % 7)), s_t0.AddHours(i * 7 % 500), item: $"sku{i % 13}", price: i % 17, quantity: 1 + (i % 3),
            category: $"d{i % 4}.a{i % 3}", order: $"o{i / 4}")).ToArray();
        var full = Fold(events);

        var half = Fold(events[..120]);
        var json = JsonSerializer.Serialize(half.ToState());
        var restored = UserProfile.FromState(JsonSerializer.Deserialize<ProfileState>(json)!, new ProfileOptions());
        foreach (var e in events[120..])
        {
            restored.Apply(e);
        }

        Assert.Equal(JsonSerializer.Serialize(full.ToState()), JsonSerializer.Serialize(restored.ToState()));
        Assert.Equal(JsonSerializer.Serialize(full.View(s_t0.AddDays(40))), JsonSerializer.Serialize(restored.View(s_t0.AddDays(40))));
    }

    [Fact]
    public void EventTimeClock_IsMonotonic_AndFallsBackBeforeTheFirstEvent()
    {
        var fallback = new FixedClock(s_t0);
        var clock = new EventTimeClock(fallback);
        Assert.Equal(s_t0, clock.GetUtcNow());
        clock.Observe(s_t0.AddDays(-400));
        Assert.Equal(s_t0.AddDays(-400), clock.GetUtcNow());
        clock.Observe(s_t0.AddDays(-500));
        Assert.Equal(s_t0.AddDays(-400), clock.GetUtcNow());
        Parallel.For(0, 1000, i => clock.Observe(s_t0.AddMinutes(i)));
        Assert.Equal(s_t0.AddMinutes(999), clock.GetUtcNow());
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
