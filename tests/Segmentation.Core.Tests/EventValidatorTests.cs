using Segmentation.Core;

namespace Segmentation.Core.Tests;

public sealed class EventValidatorTests
{
    private static readonly DateTimeOffset s_now = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static BehaviorEvent Valid(EventType type = EventType.Purchase) => new()
    {
        EventId = "e1",
        UserId = "u1",
        Type = type,
        ItemId = "sku",
        Price = 9.5,
        Quantity = BehaviorEvent.NeedsQuantity(type) ? 1 : 0,
        Rating = type == EventType.Rating ? 4 : 0,
        Timestamp = s_now.AddHours(-1),
    };

    private static string? FieldOf(BehaviorEvent e) => EventValidator.Validate(e, s_now)?.Field;

    [Theory]
    [InlineData(EventType.View)]
    [InlineData(EventType.Purchase)]
    [InlineData(EventType.Rating)]
    [InlineData(EventType.Wishlist)]
    public void ValidEvents_Pass(EventType type) => Assert.Null(EventValidator.Validate(Valid(type), s_now));

    [Fact]
    public void Search_NeedsNoItem() => Assert.Null(FieldOf(Valid(EventType.Search) with { ItemId = "", Query = "mugs" }));

    [Fact]
    public void Ids_EmptyOrOver128Bytes_AreRejected()
    {
        Assert.Equal("event_id", FieldOf(Valid() with { EventId = "" }));
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = "" }));
        Assert.Null(FieldOf(Valid() with { UserId = new string('a', 128) }));
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = new string('a', 129) }));
        Assert.Equal("item_id", FieldOf(Valid() with { ItemId = new string('a', 129) }));
    }

    [Fact]
    public void IdLength_CountsUtf8Bytes_NotCharacters()
    {
        Assert.Null(FieldOf(Valid() with { UserId = new string('é', 64) }));      // 128 bytes
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = new string('é', 65) })); // 130 bytes
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = new string('€', 43) })); // 129 bytes
    }

    [Fact]
    public void Type_UnspecifiedOrUnknown_IsRejected()
    {
        Assert.Equal("type", FieldOf(Valid() with { Type = EventType.Unspecified }));
        Assert.Equal("type", FieldOf(Valid() with { Type = (EventType)42 }));
    }

    [Fact]
    public void ItemEvents_NeedAnItem() => Assert.Equal("item_id", FieldOf(Valid(EventType.View) with { ItemId = "" }));

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(-0.01)]
    public void Price_NonFiniteOrNegative_IsRejected(double price) => Assert.Equal("price", FieldOf(Valid() with { Price = price }));

    [Fact]
    public void Price_Zero_IsFree() => Assert.Null(FieldOf(Valid() with { Price = 0 }));

    [Fact]
    public void Quantity_ZeroForPurchases_OrNegative_IsRejected()
    {
        Assert.Equal("quantity", FieldOf(Valid(EventType.Purchase) with { Quantity = 0 }));
        Assert.Equal("quantity", FieldOf(Valid(EventType.AddToCart) with { Quantity = 0 }));
        Assert.Equal("quantity", FieldOf(Valid(EventType.View) with { Quantity = -1 }));
        Assert.Null(FieldOf(Valid(EventType.View) with { Quantity = 0 }));
    }

    [Fact]
    public void Rating_OutsideOneToFive_IsRejected()
    {
        Assert.Equal("rating", FieldOf(Valid(EventType.Rating) with { Rating = 0 }));
        Assert.Equal("rating", FieldOf(Valid(EventType.Rating) with { Rating = 5.5 }));
        Assert.Equal("rating", FieldOf(Valid(EventType.Rating) with { Rating = double.NaN }));
        Assert.Null(FieldOf(Valid(EventType.Rating) with { Rating = 1 }));
        Assert.Null(FieldOf(Valid(EventType.Rating) with { Rating = 5 }));
        Assert.Equal("rating", FieldOf(Valid(EventType.Review) with { Rating = 7 }));
    }

    [Fact]
    public void Timestamp_MissingBefore2000OrOverADayAhead_IsRejected()
    {
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = default }));
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = new DateTimeOffset(1999, 12, 31, 23, 59, 59, TimeSpan.Zero) }));
        Assert.Null(FieldOf(Valid() with { Timestamp = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero) }));
        Assert.Null(FieldOf(Valid() with { Timestamp = s_now.AddDays(1) }));
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = s_now.AddDays(1).AddSeconds(1) }));
    }

    [Fact]
    public void EarliestTimestamp_IsConfigurable_ForHistoricalData()
    {
        var movieLens = Valid(EventType.Rating) with { Timestamp = DateTimeOffset.FromUnixTimeSeconds(881250949) }; // 1997
        Assert.Equal("timestamp", FieldOf(movieLens));
        Assert.Null(EventValidator.Validate(movieLens, s_now, new DateTimeOffset(1995, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var tooOld = EventValidator.Validate(movieLens with { Timestamp = new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero) }, s_now, new DateTimeOffset(1995, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Contains("1995-01-01", tooOld!.Value.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Attributes_AreBounded()
    {
        var many = Enumerable.Range(0, 65).ToDictionary(i => $"k{i}", i => "v");
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = many }));
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = new Dictionary<string, string> { ["k"] = new string('v', 1025) } }));
        Assert.Null(FieldOf(Valid() with { Attributes = new Dictionary<string, string> { ["device"] = "mobile" } }));
    }

    [Fact]
    public void Reasons_AreStableSentences_WithoutValues()
    {
        var a = EventValidator.Validate(Valid() with { Price = -1 }, s_now);
        var b = EventValidator.Validate(Valid() with { Price = -99 }, s_now);
        Assert.Equal(a, b);
        Assert.Contains("price", a!.Value.Reason, StringComparison.Ordinal);
    }
}
