using Segmentation.Core;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests;

public sealed class OrdersAndRfmTests
{
    [Fact]
    public void InvoiceLines_SharingAnOrderId_AreOneOrder()
    {
        var view = Fold(
            Make(EventType.Purchase, T0, "a", 2, 3, order: "536365"),
            Make(EventType.Purchase, T0, "b", 4, 1, order: "536365"),
            Make(EventType.Purchase, T0.AddDays(1), "c", 10, 1, order: "536366"),
            Make(EventType.Purchase, T0.AddDays(2), "d", 5, 2)).View(T0.AddDays(2));
        Assert.Equal(3, view.Orders);
        Assert.Equal(30, view.Spend, 9);
        Assert.Equal(10, view.AverageOrderValue, 9);
        Assert.Equal(T0.AddDays(2), view.LastPurchase);
    }

    [Fact]
    public void OrderId_IsComparedWithThePreviousPurchaseOnly()
    {
        // Other events between two lines of one invoice do not split it; an id seen earlier but not last starts a new order.
        var view = Fold(
            Make(EventType.Purchase, T0, "a", order: "A"),
            Make(EventType.View, T0, "x"),
            Make(EventType.Return, T0, "y"),
            Make(EventType.Purchase, T0, "b", order: "A"),
            Make(EventType.Purchase, T0, "c", order: "B"),
            Make(EventType.Purchase, T0, "d", order: "A")).View(T0);
        Assert.Equal(3, view.Orders);
    }

    [Fact]
    public void PurchasesWithoutOrderId_AreAnOrderEach()
    {
        var view = Fold(Make(EventType.Purchase, T0, "a"), Make(EventType.Purchase, T0, "a")).View(T0);
        Assert.Equal(2, view.Orders);
    }

    [Fact]
    public void Returns_ReduceMonetary_NotSpend()
    {
        var view = Fold(
            Make(EventType.Purchase, T0, price: 50, quantity: 2),
            Make(EventType.Return, T0.AddDays(1), price: 50, quantity: 1)).View(T0.AddDays(1));
        Assert.Equal(100, view.Spend, 9);
        Assert.Equal(50, view.Returned, 9);
        Assert.Equal(50, view.Rfm.Monetary, 9);
        Assert.Equal(100, view.AverageOrderValue, 9);
        Assert.Equal(2, view.Rfm.MonetaryScore);
    }

    [Fact]
    public void WithoutPurchases_AverageOrderValueIsZero_AndRecencyIsMinusOne()
    {
        var view = Fold(Make(EventType.View, 0)).View(T0);
        Assert.Equal(0, view.AverageOrderValue);
        Assert.Null(view.LastPurchase);
        Assert.Equal(new RfmScore(-1, 0, 0, 1, 1, 1), view.Rfm);
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
        var rfm = Fold(Make(EventType.Purchase, T0)).Rfm(T0.AddDays(daysAgo).AddHours(23));
        Assert.Equal((daysAgo, score), (rfm.RecencyDays, rfm.RecencyScore));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 3)]
    [InlineData(4, 4)]
    [InlineData(7, 4)]
    [InlineData(8, 5)]
    public void FrequencyScore_FollowsBreakpoints(int orders, int score)
    {
        var events = Enumerable.Range(0, orders).Select(i => Make(EventType.Purchase, T0.AddHours(i), $"i{i}", price: 1)).Prepend(Make(EventType.View, 0));
        Assert.Equal(score, Fold([.. events]).Rfm(T0.AddDays(1)).FrequencyScore);
    }

    [Theory]
    [InlineData(49.99, 1)]
    [InlineData(50, 2)]
    [InlineData(199.99, 2)]
    [InlineData(200, 3)]
    [InlineData(500, 4)]
    [InlineData(1000, 5)]
    public void MonetaryScore_FollowsBreakpoints(double spend, int score) =>
        Assert.Equal(score, Fold(Make(EventType.Purchase, T0, price: spend)).Rfm(T0).MonetaryScore);

    [Fact]
    public void Recency_CountsFromTheLatestPurchase_WhateverTheArrivalOrder()
    {
        var rfm = Fold(Make(EventType.Purchase, T0.AddDays(10), "a"), Make(EventType.Purchase, T0, "b")).Rfm(T0.AddDays(12));
        Assert.Equal(2, rfm.RecencyDays);
    }

    [Fact]
    public void Breakpoints_AreConfigurable()
    {
        var options = new ProfileOptions { Rfm = new RfmOptions { RecencyDays = [1, 2, 3, 4], Frequency = [2, 3, 4, 5], Monetary = [1, 2, 3, 4] } };
        var rfm = Fold(options, Make(EventType.Purchase, T0, price: 3)).Rfm(T0.AddDays(3));
        Assert.Equal((3, 1, 4), (rfm.RecencyScore, rfm.FrequencyScore, rfm.MonetaryScore));
    }
}
