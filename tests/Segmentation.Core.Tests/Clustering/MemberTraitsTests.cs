using Segmentation.Core;
using Segmentation.Core.Clustering;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests.Clustering;

public sealed class MemberTraitsTests
{
    private static readonly float[] s_embedding = [0.6f, 0.8f];

    public static TheoryData<string> Profiles() => ["empty-ish", "tie", "nested", "buyer", "returns", "reactivated"];

    // A profile per case: ties between top-level categories, paths deeper than their parents, more purchases than a
    // member contributes, returns, a comeback after churning.
    private static UserProfile Profile(string name) => name switch
    {
        "empty-ish" => Fold(Make(EventType.View, T0, category: "")),
        // Equal affinities: the smaller category (ordinal) comes first in the view, whatever the fold order.
        "tie" => Fold(Make(EventType.View, T0, item: "a", category: "garden"), Make(EventType.View, T0, item: "b", category: "books")),
        // The deepest path holds the most, but only top-level categories count as her top category.
        "nested" => Fold(
            Make(EventType.Purchase, T0, item: "m", category: "home.kitchen.mugs"),
            Make(EventType.View, T0.AddDays(1), item: "t", category: "toys"),
            Make(EventType.AddToCart, T0.AddDays(2), item: "t2", category: "toys")),
        "buyer" => Fold([.. Enumerable.Range(0, 9).Select(i => Make(EventType.Purchase, T0.AddDays(i), item: $"p{i}", price: 3 + i, category: i % 2 == 0 ? "sports.running" : "books"))]),
        "returns" => Fold(
            Make(EventType.Purchase, T0, item: "x", price: 40, order: "o1"),
            Make(EventType.Purchase, T0.AddHours(1), item: "y", price: 10, order: "o1"),
            Make(EventType.Return, T0.AddDays(3), item: "x", price: 40),
            Make(EventType.View, T0.AddDays(4), item: "z", category: "toys")),
        "reactivated" => Fold(Make(EventType.Purchase, T0, item: "a"), Make(EventType.View, T0.AddDays(200), item: "b", category: "garden")),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Profiles))]
    public void TraitsOfTheProfile_EqualTheTraitsOfItsView(string name)
    {
        var profile = Profile(name);
        foreach (var days in new[] { 0, 1, 5, 20, 45, 100, 300 })
        {
            var now = T0.AddDays(days).AddHours(7);
            var expected = MemberTraits.Of(profile.View(now), s_embedding);
            var actual = MemberTraits.Of(profile, now, s_embedding);
            Assert.Same(s_embedding, actual.Embedding);
            Assert.Equal(expected.Monetary, actual.Monetary);
            Assert.Equal(expected.Orders, actual.Orders);
            Assert.Equal(expected.AverageOrderValue, actual.AverageOrderValue);
            Assert.Equal(expected.RecencyDays, actual.RecencyDays);
            Assert.Equal(expected.Stage, actual.Stage);
            Assert.Equal(expected.TopCategory, actual.TopCategory);
            Assert.Equal(expected.Purchases, actual.Purchases);
        }
    }

    [Fact]
    public void TopCategory_OnATie_IsTheOrdinallySmaller_AndNeverAPath()
    {
        Assert.Equal("books", MemberTraits.Of(Profile("tie"), T0.AddDays(1), s_embedding).TopCategory);
        Assert.Equal("home", MemberTraits.Of(Profile("nested"), T0.AddDays(2), s_embedding).TopCategory);
        Assert.Equal("", MemberTraits.Of(Profile("empty-ish"), T0, s_embedding).TopCategory);
        Assert.Equal(["p8", "p7", "p6", "p5", "p4"], MemberTraits.Of(Profile("buyer"), T0.AddDays(9), s_embedding).Purchases);
    }
}
