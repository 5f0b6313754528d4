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

    private static Dictionary<string, string> Attributes(string key, string value) => new() { [key] = value };

    [Theory]
    [InlineData(EventType.View)]
    [InlineData(EventType.Search)]
    [InlineData(EventType.AddToCart)]
    [InlineData(EventType.RemoveFromCart)]
    [InlineData(EventType.Purchase)]
    [InlineData(EventType.Return)]
    [InlineData(EventType.Rating)]
    [InlineData(EventType.Review)]
    [InlineData(EventType.Wishlist)]
    public void ValidEvents_OfEveryType_Pass(EventType type) => Assert.Null(EventValidator.Validate(Valid(type), s_now));

    [Fact]
    public void Search_NeedsNoItem() => Assert.Null(FieldOf(Valid(EventType.Search) with { ItemId = "", Query = "mugs" }));

    [Theory]
    [InlineData(EventType.View)]
    [InlineData(EventType.AddToCart)]
    [InlineData(EventType.RemoveFromCart)]
    [InlineData(EventType.Purchase)]
    [InlineData(EventType.Return)]
    [InlineData(EventType.Rating)]
    [InlineData(EventType.Review)]
    [InlineData(EventType.Wishlist)]
    public void ItemEvents_NeedAnItem(EventType type) => Assert.Equal("item_id", FieldOf(Valid(type) with { ItemId = "" }));

    [Fact]
    public void Ids_AreRequired()
    {
        Assert.Equal("event_id", FieldOf(Valid() with { EventId = "" }));
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = "" }));
    }

    [Theory]
    [InlineData("event_id")]
    [InlineData("user_id")]
    [InlineData("item_id")]
    public void Ids_Take128Bytes_Not129(string field)
    {
        BehaviorEvent WithId(string id) => field switch
        {
            "event_id" => Valid() with { EventId = id },
            "user_id" => Valid() with { UserId = id },
            _ => Valid() with { ItemId = id },
        };

        Assert.Null(FieldOf(WithId(new string('a', 128))));
        Assert.Equal(field, FieldOf(WithId(new string('a', 129))));
    }

    [Fact]
    public void Ids_WithANulCharacter_AreRejected()
    {
        Assert.Equal("event_id", FieldOf(Valid() with { EventId = "e\01" }));
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = "u\0" }));
    }

    [Fact]
    public void IdLength_CountsUtf8Bytes_NotCharacters()
    {
        Assert.Null(FieldOf(Valid() with { UserId = new string('é', 64) }));              // 128 bytes, 64 chars
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = new string('é', 65) })); // 130 bytes, 65 chars
        Assert.Equal("user_id", FieldOf(Valid() with { UserId = new string('€', 43) })); // 129 bytes, 43 chars
        Assert.Null(FieldOf(Valid() with { ItemId = string.Concat(Enumerable.Repeat("😀", 32)) })); // 128 bytes, 64 UTF-16 units
        Assert.Equal("item_id", FieldOf(Valid() with { ItemId = "a" + string.Concat(Enumerable.Repeat("😀", 32)) }));
    }

    [Fact]
    public void Category_Takes256Bytes_Not257()
    {
        Assert.Null(FieldOf(Valid() with { Category = new string('c', 256) }));
        Assert.Equal("category", FieldOf(Valid() with { Category = new string('c', 257) }));
        Assert.Equal("category", FieldOf(Valid() with { Category = new string('ü', 129) })); // 258 bytes, 129 chars
    }

    [Fact]
    public void Type_UnspecifiedOrUnknown_IsRejected()
    {
        Assert.Equal("type", FieldOf(Valid() with { Type = EventType.Unspecified }));
        Assert.Equal("type", FieldOf(Valid() with { Type = (EventType)42 }));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(-0.01)]
    public void Price_NonFiniteOrNegative_IsRejected(double price) => Assert.Equal("price", FieldOf(Valid() with { Price = price }));

    [Fact]
    public void Price_Zero_IsFreeOrUnknown() => Assert.Null(FieldOf(Valid() with { Price = 0 }));

    [Theory]
    [InlineData(EventType.AddToCart)]
    [InlineData(EventType.RemoveFromCart)]
    [InlineData(EventType.Purchase)]
    [InlineData(EventType.Return)]
    public void Quantity_Zero_IsRejected_ForCartPurchaseAndReturn(EventType type)
    {
        var error = EventValidator.Validate(Valid(type) with { Quantity = 0 }, s_now);
        Assert.Equal("quantity", error?.Field);
        Assert.Null(FieldOf(Valid(type) with { Quantity = 1 }));
    }

    [Fact]
    public void Quantity_Negative_IsRejected_ZeroMeansNotGivenForOtherTypes()
    {
        Assert.Equal("quantity", FieldOf(Valid(EventType.View) with { Quantity = -1 }));
        Assert.Null(FieldOf(Valid(EventType.View) with { Quantity = 0 }));
        Assert.Null(FieldOf(Valid(EventType.Wishlist) with { Quantity = 2 }));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(0.99)]
    [InlineData(5.01)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void RatingEvents_NeedARatingFromOneToFive(double rating) =>
        Assert.Equal("rating", FieldOf(Valid(EventType.Rating) with { Rating = rating }));

    [Theory]
    [InlineData(1)]
    [InlineData(3.5)]
    [InlineData(5)]
    public void RatingEvents_AcceptOneToFive(double rating) => Assert.Null(FieldOf(Valid(EventType.Rating) with { Rating = rating }));

    [Fact]
    public void OtherTypes_TreatZeroAsNotGiven_ButCheckAGivenRating()
    {
        Assert.Null(FieldOf(Valid(EventType.Review) with { Rating = 0 }));
        Assert.Null(FieldOf(Valid(EventType.Review) with { Rating = 4 }));
        Assert.Equal("rating", FieldOf(Valid(EventType.Review) with { Rating = 0.5 }));
        Assert.Equal("rating", FieldOf(Valid(EventType.Review) with { Rating = 7 }));
        Assert.Equal("rating", FieldOf(Valid(EventType.View) with { Rating = double.NaN }));
    }

    [Fact]
    public void Timestamp_MissingBefore2000OrOverADayAhead_IsRejected()
    {
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = default }));
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = new DateTimeOffset(1999, 12, 31, 23, 59, 59, TimeSpan.Zero) }));
        Assert.Null(FieldOf(Valid() with { Timestamp = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero) }));
        Assert.Null(FieldOf(Valid() with { Timestamp = s_now.AddDays(1) }));
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = s_now.AddDays(1).AddTicks(1) }));
    }

    [Fact]
    public void Timestamp_IsComparedAsAnInstant_WhateverItsOffset()
    {
        // 2000-01-01T01:00+02:00 is 1999-12-31T23:00Z.
        Assert.Equal("timestamp", FieldOf(Valid() with { Timestamp = new DateTimeOffset(2000, 1, 1, 1, 0, 0, TimeSpan.FromHours(2)) }));
        Assert.Null(FieldOf(Valid() with { Timestamp = s_now.AddDays(1).ToOffset(TimeSpan.FromHours(-5)) }));
    }

    [Fact]
    public void EarliestTimestamp_IsConfigurable_ForHistoricalData()
    {
        var earliest = new DateTimeOffset(1995, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var movieLens = Valid(EventType.Rating) with { Timestamp = DateTimeOffset.FromUnixTimeSeconds(881250949) }; // 1997
        Assert.Equal("timestamp", FieldOf(movieLens));
        Assert.Null(EventValidator.Validate(movieLens, s_now, earliest));
        var tooOld = EventValidator.Validate(movieLens with { Timestamp = new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero) }, s_now, earliest);
        Assert.Contains("1995-01-01", tooOld!.Value.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Attributes_Take64Entries_Not65()
    {
        Assert.Null(FieldOf(Valid() with { Attributes = Enumerable.Range(0, 64).ToDictionary(i => $"k{i}", _ => "v") }));
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = Enumerable.Range(0, 65).ToDictionary(i => $"k{i}", _ => "v") }));
    }

    [Fact]
    public void AttributeKeys_Take64Bytes_Not65()
    {
        Assert.Null(FieldOf(Valid() with { Attributes = Attributes(new string('k', 64), "v") }));
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = Attributes(new string('k', 65), "v") }));
        Assert.Null(FieldOf(Valid() with { Attributes = Attributes(new string('é', 32), "v") }));
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = Attributes(new string('é', 33), "v") }));
    }

    [Fact]
    public void AttributeValues_Take1024Bytes_Not1025()
    {
        Assert.Null(FieldOf(Valid() with { Attributes = Attributes("order_id", new string('v', 1024)) }));
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = Attributes("order_id", new string('v', 1025)) }));
        Assert.Equal("attributes", FieldOf(Valid() with { Attributes = Attributes("order_id", new string('€', 342)) })); // 1026 bytes
    }

    [Fact]
    public void FirstFailingField_InContractOrder_IsReported()
    {
        var broken = Valid() with { UserId = "", Type = EventType.Unspecified, Price = -1, Timestamp = default };
        Assert.Equal("user_id", FieldOf(broken));
        Assert.Equal("type", FieldOf(broken with { UserId = "u" }));
        Assert.Equal("price", FieldOf(broken with { UserId = "u", Type = EventType.Purchase }));
        Assert.Equal("timestamp", FieldOf(broken with { UserId = "u", Type = EventType.Purchase, Price = 1 }));
        Assert.Equal("item_id", FieldOf(Valid() with { ItemId = new string('a', 129), Category = new string('c', 257) }));
    }

    [Fact]
    public void Reasons_AreStableSentences_WithoutTheOffendingValue()
    {
        var a = EventValidator.Validate(Valid() with { Price = -1.25 }, s_now);
        var b = EventValidator.Validate(Valid() with { Price = -99 }, s_now);
        Assert.Equal(a, b);
        Assert.Equal("price must be a finite number >= 0", a!.Value.Reason);
        var late = EventValidator.Validate(Valid() with { Timestamp = s_now.AddDays(3) }, s_now)!.Value.Reason;
        Assert.Equal(late, EventValidator.Validate(Valid() with { Timestamp = s_now.AddDays(30) }, s_now)!.Value.Reason);
        Assert.DoesNotContain("2024", late, StringComparison.Ordinal);
    }
}
