using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Tests;

public sealed class Rees46FormatTests : EventFiles
{
    private const string Sample =
        "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n" +
        "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\n" +
        "2019-10-01 00:00:01 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc\n" +
        "2019-10-01 00:00:01 UTC,remove_from_cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc\n" +
        "2019-10-01 00:00:02 UTC,purchase,17200506,2053013559792632471,furniture.living_room.sofa,,543.10,519107250,566511c2-e2e3-422b-b695-cf8e6e792ca8\n";

    [Fact]
    public async Task Rows_MapTypesCategoriesAndAttributes()
    {
        var events = await ReadTextAsync(Sample, EventFileFormat.Rees46);

        Assert.Equal([EventType.View, EventType.AddToCart, EventType.RemoveFromCart, EventType.Purchase], events.Select(e => e.Type));
        Assert.Equal([0, 1, 1, 1], events.Select(e => e.Quantity));
        Assert.Equal(("541312140", "44600062", 35.79), (events[0].UserId, events[0].ItemId, events[0].Price));
        Assert.Equal("2103807459595387724", events[0].Category); // No category_code: the id stands in.
        Assert.Equal("appliances.environment.water_heater", events[1].Category);
        Assert.Equal(("shiseido", "72d76fde-8bb3-4e00-8c23-a032dfed738c"), (events[0].Attributes["brand"], events[0].Attributes["session"]));
        Assert.False(events[3].Attributes.ContainsKey("brand"));
        Assert.Equal(new DateTimeOffset(2019, 10, 1, 0, 0, 1, TimeSpan.Zero), events[1].Timestamp.ToDateTimeOffset());
        Assert.All(events, e => Assert.StartsWith("rees-", e.EventId, StringComparison.Ordinal));
        Assert.Equal(4, events.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task UnknownTypesAndBadRows_AreYieldedForTheServerToReject()
    {
        var events = await ReadTextAsync(
            "2019-10-01 00:00:00 UTC,like,44600062,2103807459595387724,,shiseido,35.79,541312140,s1\n" +
            "2019-10-01 00:00:00 UTC,view,44600062\n" +
            "2019-13-01 00:00:00 UTC,view,44600062,2103807459595387724,,,abc,541312140,s1\n",
            EventFileFormat.Rees46);

        Assert.Equal(3, events.Count);
        Assert.Equal(EventType.Unspecified, events[0].Type);
        Assert.Equal(("", EventType.Unspecified), (events[1].UserId, events[1].Type));
        Assert.Null(events[2].Timestamp);
        Assert.True(double.IsNaN(events[2].Price));
    }

    [Fact]
    public async Task IdenticalRows_GetDistinctIds_AndTheSameIdsOnEveryRead()
    {
        const string row = "2019-10-01 00:00:05 UTC,view,1,2,,,1.00,3,s\n";
        var path = Write("rees.csv", row + row);
        var first = (await ReadAllAsync(path, EventFileFormat.Rees46)).Select(e => e.EventId).ToList();
        var second = (await ReadAllAsync(path, EventFileFormat.Rees46)).Select(e => e.EventId).ToList();

        Assert.NotEqual(first[0], first[1]);
        Assert.Equal(first, second);
    }
}

public sealed class TaobaoFormatTests : EventFiles
{
    [Fact]
    public async Task Behaviours_MapToEventTypes()
    {
        var events = await ReadTextAsync(
            "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,buy,1511561733\n1,1,1,cart,1511561733\n1,2,2,fav,1511561734\n1,2,2,like,1511561734\n",
            EventFileFormat.Taobao);

        Assert.Equal([EventType.View, EventType.Purchase, EventType.AddToCart, EventType.Wishlist, EventType.Unspecified], events.Select(e => e.Type));
        Assert.Equal([0, 1, 1, 0, 0], events.Select(e => e.Quantity));
        Assert.Equal(("1", "2268318", "2520377", 1511544070L), (events[0].UserId, events[0].ItemId, events[0].Category, events[0].Timestamp.Seconds));
        Assert.All(events, e => Assert.StartsWith("tb-", e.EventId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task IdenticalRows_GetDistinctIds_AndBadRowsAreKept()
    {
        var events = await ReadTextAsync("7,8,9,pv,1511544070\n7,8,9,pv,1511544070\n7,8,pv\n7,8,9,pv,soon\n", EventFileFormat.Taobao);

        Assert.Equal(4, events.Count);
        Assert.NotEqual(events[0].EventId, events[1].EventId);
        Assert.Equal(("", EventType.Unspecified), (events[2].UserId, events[2].Type));
        Assert.Null(events[3].Timestamp);
    }
}

public sealed class MovieLensFormatTests : EventFiles
{
    [Fact]
    public async Task UData_RowsAreRatings()
    {
        var events = await ReadTextAsync("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", EventFileFormat.MovieLens);

        Assert.Equal(2, events.Count);
        var e = events[0];
        Assert.Equal((EventType.Rating, "196", "242", 3.0, 881250949L), (e.Type, e.UserId, e.ItemId, e.Rating, e.Timestamp.Seconds));
        Assert.Equal("ml-196-242-881250949", e.EventId);
    }

    [Fact]
    public async Task RatingsCsv_WithHeader_IsReadToo()
    {
        var events = await ReadTextAsync("userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n", EventFileFormat.MovieLens);

        Assert.Equal([5.0, 3.5], events.Select(e => e.Rating));
        Assert.Equal("ml-1-306-1147868817", events[1].EventId);
    }

    [Fact]
    public async Task BadRows_AreKept_WithTheBadFieldEmpty()
    {
        var events = await ReadTextAsync("196\t242\n196\t243\tgood\t881250949\n", EventFileFormat.MovieLens);

        Assert.Equal(2, events.Count);
        Assert.StartsWith("ml-", events[0].EventId, StringComparison.Ordinal);
        Assert.Equal("", events[0].UserId);
        Assert.Equal(0, events[1].Rating); // The server requires 1 to 5 for ratings.
    }
}

public sealed class JsonlFormatTests : EventFiles
{
    [Fact]
    public async Task Lines_AreProtobufJsonEvents()
    {
        var events = await ReadTextAsync(
            "{\"eventId\":\"j1\",\"userId\":\"u\",\"type\":\"EVENT_TYPE_PURCHASE\",\"itemId\":\"i\",\"price\":9.5,\"quantity\":2,\"timestamp\":\"2024-01-01T00:00:00Z\",\"attributes\":{\"order_id\":\"o1\"}}\n" +
            "{\"event_id\":\"j2\",\"user_id\":\"u\",\"type\":\"EVENT_TYPE_SEARCH\",\"query\":\"red mug\"}\n",
            EventFileFormat.Jsonl);

        Assert.Equal(("j1", EventType.Purchase, 9.5, 2, "o1"), (events[0].EventId, events[0].Type, events[0].Price, events[0].Quantity, events[0].Attributes["order_id"]));
        Assert.Equal(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero), events[0].Timestamp.ToDateTimeOffset());
        Assert.Equal(("j2", "red mug"), (events[1].EventId, events[1].Query));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"eventId\":\"j1\",\"colour\":\"red\"}")]         // Unknown field.
    [InlineData("{\"eventId\":\"j1\",\"type\":\"EVENT_TYPE_DANCE\"}")] // Unknown enum name.
    [InlineData("{\"eventId\":\"j1\",\"timestamp\":\"yesterday\"}")]
    [InlineData("{\"eventId\":\"j1\",\"quantity\":\"many\"}")]
    [InlineData("{\"eventId\":\"j1\",\"quantity\":1e20}")]
    [InlineData("[1,2]")]
    [InlineData("{\"eventId\":\"j1\"")]
    public async Task LinesThatDoNotParse_BecomeAnEventWithOnlyTheirLineNumber(string bad)
    {
        var events = await ReadTextAsync("{\"eventId\":\"ok\"}\n\n" + bad + "\n", EventFileFormat.Jsonl);

        Assert.Equal(2, events.Count);
        Assert.Equal(new Event { EventId = "jsonl-line-3" }, events[1]); // Line 3: the blank line counts as a line.
    }
}
