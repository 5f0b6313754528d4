using Segmentation.Core;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests;

public sealed class CategoryAffinityTests
{
    private static Dictionary<string, double> Affinities(UserProfile profile, DateTimeOffset now) =>
        profile.View(now).TopCategories.ToDictionary(c => c.Category, c => c.Affinity);

    [Fact]
    public void Affinity_HalvesEveryHalfLife()
    {
        var profile = Fold(Make(EventType.Purchase, T0, category: "toys"));
        Assert.Equal(5, Affinities(profile, T0)["toys"], 12);
        Assert.Equal(2.5, Affinities(profile, T0.AddDays(30))["toys"], 12);
        Assert.Equal(1.25, Affinities(profile, T0.AddDays(60))["toys"], 12);

        var fast = Fold(new ProfileOptions { AffinityHalfLife = TimeSpan.FromDays(1) }, Make(EventType.Purchase, T0, category: "toys"));
        Assert.Equal(5.0 / 1024, Affinities(fast, T0.AddDays(10))["toys"], 12);
    }

    [Fact]
    public void NewCredit_AddsToTheDecayedValue()
    {
        var profile = Fold(Make(EventType.Purchase, T0, category: "toys"), Make(EventType.View, T0.AddDays(30), category: "toys"));
        Assert.Equal(2.5 + 1, Affinities(profile, T0.AddDays(30))["toys"], 12);
    }

    [Fact]
    public void DottedPaths_CreditEveryParent_AndSharesAreOfTheTopLevelTotal()
    {
        var top = Fold(Make(EventType.Purchase, T0, category: "home.kitchen.mugs"), Make(EventType.View, T0, category: "toys")).View(T0).TopCategories;
        Assert.Equal(["home", "home.kitchen", "home.kitchen.mugs", "toys"], top.Select(c => c.Category));
        Assert.Equal([5, 5, 5, 1], top.Select(c => c.Affinity));
        Assert.Equal(5.0 / 6, top[0].Share, 12);
        Assert.Equal(5.0 / 6, top[2].Share, 12);
        Assert.Equal(1.0 / 6, top[3].Share, 12);
    }

    [Fact]
    public void LateEvents_AreDecayedToTheEntryTime_SoArrivalOrderDoesNotMatter()
    {
        var events = new[] { (EventType.Purchase, 0), (EventType.View, 45), (EventType.AddToCart, 12), (EventType.Rating, 70) }
            .Select(p => Make(p.Item1, T0.AddDays(p.Item2), category: "toys"))
            .ToArray();
        var inTimeOrder = Affinities(Fold([.. events.OrderBy(e => e.Timestamp)]), T0.AddDays(80))["toys"];
        var asArrived = Affinities(Fold(events), T0.AddDays(80))["toys"];
        var expected = (5 * Math.Pow(2, -80 / 30.0)) + Math.Pow(2, -35 / 30.0) + (3 * Math.Pow(2, -68 / 30.0)) + (2 * Math.Pow(2, -10 / 30.0));
        Assert.Equal(expected, inTimeOrder, 12);
        Assert.Equal(expected, asArrived, 12);
    }

    [Fact]
    public void NegativeWeights_TakeCreditAway_ButNeverBelowZero()
    {
        var cart = Fold(Make(EventType.AddToCart, T0, category: "toys"), Make(EventType.RemoveFromCart, T0, category: "toys"));
        Assert.Equal(2, Affinities(cart, T0)["toys"], 12);

        var returned = Fold(Make(EventType.View, T0, category: "toys"), Make(EventType.Return, T0, category: "toys"), Make(EventType.View, T0, category: "toys"));
        Assert.Equal(1, Affinities(returned, T0)["toys"], 12);
    }

    [Fact]
    public void CategoriesAtZero_AreDropped()
    {
        Assert.Empty(Fold(Make(EventType.View, T0, category: "toys"), Make(EventType.Return, T0, category: "toys")).View(T0).TopCategories);
        Assert.Empty(Fold(Make(EventType.Return, T0, category: "toys")).View(T0).TopCategories);
    }

    [Fact]
    public void EventWeights_AreConfigurable_AndAMissingTypeCreditsNothing()
    {
        var options = new ProfileOptions { EventWeights = new() { [EventType.Purchase] = 10 } };
        var profile = Fold(options, Make(EventType.View, T0, category: "toys"), Make(EventType.Purchase, T0, category: "books"));
        Assert.Equal(new Dictionary<string, double> { ["books"] = 10 }, Affinities(profile, T0));
    }

    [Fact]
    public void Categories_AreBounded_DroppingTheWeakest()
    {
        var profile = new UserProfile("u", new ProfileOptions { MaxCategories = 4 });
        profile.Apply(Make(EventType.Purchase, T0, category: "strong"));
        for (var i = 0; i < 10; i++)
        {
            profile.Apply(Make(EventType.View, T0.AddMinutes(i), category: $"weak{i}"));
        }

        var top = profile.View(T0.AddHours(1)).TopCategories;
        Assert.Equal(["strong", "weak9", "weak8", "weak7"], top.Select(c => c.Category));
    }

    [Fact]
    public void Bound_DropsTheDeeperPathOnTies_SoParentsOutliveChildren()
    {
        var profile = Fold(new ProfileOptions { MaxCategories = 2 }, Make(EventType.View, T0, category: "home.kitchen.mugs"));
        Assert.Equal(["home", "home.kitchen"], profile.View(T0).TopCategories.Select(c => c.Category));
    }
}
