using System.Globalization;
using System.Text.RegularExpressions;
using Segmentation.Cli.Formats;
using Segmentation.Cli.Formats.Internal;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Tests;

public sealed partial class OnlineRetailFormatTests : EventFiles
{
    private const string Header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n";

    private const string Sample =
        Header +
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850,United Kingdom\r\n" +
        "536367,22745,\"AIRLINE LOUNGE,METAL SIGN\",2,12/1/10 8:34,4.25,13047,United Kingdom\r\n" +
        "C536379,D,Discount,-1,12/1/10 9:41,27.5,14527,United Kingdom\r\n" +
        "536414,22139,,-56,12/1/10 11:52,0,,United Kingdom\r\n" +
        "A563185,B,Adjust bad debt,1,8/12/11 14:50,-11062.06,,United Kingdom\r\n" +
        "536370,POST,POSTAGE,3,12/1/10 8:45,18,12583,France\r\n" +
        "536402,M,Manual,1,12/1/10 11:22,0.85,15642,United Kingdom";

    [GeneratedRegex("^or-[0-9a-f]{32}-[0-9]+$")]
    private static partial Regex RowIdPattern();

    [Fact]
    public async Task InvoiceLine_BecomesAPurchaseWithEveryField()
    {
        var e = (await ReadTextAsync(Sample, EventFileFormat.OnlineRetail))[0];

        Assert.Equal(EventType.Purchase, e.Type);
        Assert.Equal(("17850", "85123A", 6, 2.55, "GBP"), (e.UserId, e.ItemId, e.Quantity, e.Price, e.Currency));
        Assert.Equal("white hanging heart t-light holder", e.Category);
        Assert.Equal(new DateTimeOffset(2010, 12, 1, 8, 26, 0, TimeSpan.Zero), e.Timestamp.ToDateTimeOffset()); // GMT in winter.
        Assert.Equal("536365", e.Attributes["order_id"]);
        Assert.Equal("United Kingdom", e.Attributes["country"]);
        Assert.Equal("WHITE HANGING HEART T-LIGHT HOLDER", e.Attributes["description"]);
        Assert.Matches(RowIdPattern(), e.EventId);
    }

    [Fact]
    public async Task Quirks_AreMappedForTheServerToJudge()
    {
        var events = await ReadTextAsync(Sample, EventFileFormat.OnlineRetail);

        Assert.Equal(7, events.Count);
        Assert.Equal("airline lounge,metal sign", events[1].Category);            // Comma inside quotes.
        Assert.Equal("AIRLINE LOUNGE,METAL SIGN", events[1].Attributes["description"]);
        Assert.Equal((EventType.Return, 1, "C536379"), (events[2].Type, events[2].Quantity, events[2].Attributes["order_id"]));
        Assert.Equal((EventType.Return, 56), (events[3].Type, events[3].Quantity)); // Negative quantity without a C invoice.
        Assert.Equal("", events[3].UserId);                                         // No CustomerID: the server rejects it.
        Assert.Equal("", events[3].Category);
        Assert.False(events[3].Attributes.ContainsKey("description"));
        Assert.Equal((EventType.Purchase, -11062.06, ""), (events[4].Type, events[4].Price, events[4].UserId)); // Adjust bad debt.
        Assert.Equal(("POST", "France"), (events[5].ItemId, events[5].Attributes["country"]));
        Assert.Equal("M", events[6].ItemId);
    }

    [Fact]
    public async Task DoubledQuotesAndDots_InDescriptions()
    {
        var events = await ReadTextAsync(
            Header +
            "536520,21111,\"SWISS ROLL TOWEL, \"\"CHOCOLATE\"\"\",1,12/1/10 12:43,2.1,14729,United Kingdom\n" +
            "536520,22111,RED WOOLLY HOTTIE WHITE HEART.,1,12/1/10 12:43,3.75,14729,United Kingdom\n",
            EventFileFormat.OnlineRetail);

        Assert.Equal("SWISS ROLL TOWEL, \"CHOCOLATE\"", events[0].Attributes["description"]);
        Assert.Equal("swiss roll towel, \"chocolate\"", events[0].Category);
        Assert.Equal("red woolly hottie white heart", events[1].Category); // A dot would start a new category level.
        Assert.Equal("RED WOOLLY HOTTIE WHITE HEART.", events[1].Attributes["description"]);
    }

    [Fact]
    public async Task FloatCustomerIds_AndFourDigitYears_AsOtherExportsWriteThem()
    {
        var e = (await ReadTextAsync(Header + "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26:30,3.39,17850.0,United Kingdom\n", EventFileFormat.OnlineRetail))[0];

        Assert.Equal("17850", e.UserId);
        Assert.Equal(new DateTimeOffset(2010, 12, 1, 8, 26, 30, TimeSpan.Zero), e.Timestamp.ToDateTimeOffset());
    }

    [Theory]
    [InlineData("6/1/11 10:00", "2011-06-01T09:00:00Z")]  // BST: one hour ahead of UTC.
    [InlineData("3/27/11 1:30", "2011-03-27T01:30:00Z")]  // Skipped by the spring change: read as 2:30 BST.
    [InlineData("10/30/11 1:30", "2011-10-30T01:30:00Z")] // Repeated in autumn: read as GMT.
    [InlineData("12/9/11 12:50", "2011-12-09T12:50:00Z")] // GMT.
    public async Task InvoiceDate_IsUkLocalTime(string local, string utc)
    {
        var e = (await ReadTextAsync(Header + $"581587,22613,PACK OF 20 SPACEBOY NAPKINS,12,{local},0.85,12680,France\n", EventFileFormat.OnlineRetail))[0];

        // Without a time zone database the reader documents UTC as its fallback; this machine's answer is checked either way.
        var expected = OnlineRetailMapper.UkTime.Equals(TimeZoneInfo.Utc)
            ? DateTimeOffset.ParseExact(local, "M/d/yy H:mm", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
            : DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture);
        Assert.Equal(expected, e.Timestamp.ToDateTimeOffset());
    }

    [Fact]
    public async Task RowsThatCannotBeMapped_AreStillYielded_WithTheBadFieldEmpty()
    {
        var events = await ReadTextAsync(
            Header +
            "536365,85123A,TOO FEW COLUMNS\r\n" +
            "536365,85123A,TOO,MANY,COLUMNS,6,12/1/10 8:26,2.55,17850,United Kingdom\r\n" +
            "536366,22633,HAND WARMER,six,12/1/10 8:28,1.85,17850,United Kingdom\r\n" +
            "536366,22632,HAND WARMER,6,yesterday,1.85,17850,United Kingdom\r\n" +
            "536366,22631,HAND WARMER,6,12/1/10 8:28,cheap,17850,United Kingdom\r\n" +
            "536366,22630,HAND WARMER,6,13/45/10 8:28,1.85,17850,United Kingdom\r\n",
            EventFileFormat.OnlineRetail);

        Assert.Equal(6, events.Count);
        foreach (var e in events[..2])
        {
            Assert.Matches(RowIdPattern(), e.EventId);
            Assert.Equal(("", EventType.Unspecified, ""), (e.UserId, e.Type, e.ItemId));
        }

        Assert.Equal((EventType.Purchase, 0), (events[2].Type, events[2].Quantity)); // The server rejects quantity 0 for purchases.
        Assert.Null(events[3].Timestamp);
        Assert.True(double.IsNaN(events[4].Price));
        Assert.Null(events[5].Timestamp);
        Assert.Equal("17850", events[5].UserId);
    }

    [Fact]
    public async Task EventIds_AreDeterministic_AndIdenticalLinesStayDistinct()
    {
        const string repeated = "536409,90199C,5 STRAND GLASS NECKLACE CRYSTAL,1,12/1/10 11:45,6.35,17908,United Kingdom";
        var content = Sample + "\r\n" + repeated + "\r\n" + repeated + "\r\n" + repeated;
        var plain = Write("retail.csv", content);
        var zipped = Write("retail.csv.gz", content, gzip: true);

        var first = (await ReadAllAsync(plain, EventFileFormat.OnlineRetail)).Select(e => e.EventId).ToList();
        var second = (await ReadAllAsync(plain, EventFileFormat.OnlineRetail)).Select(e => e.EventId).ToList();
        var fromGzip = (await ReadAllAsync(zipped, EventFileFormat.OnlineRetail)).Select(e => e.EventId).ToList();

        Assert.Equal(10, first.Count);
        Assert.Equal(first, second);
        Assert.Equal(first, fromGzip);
        Assert.Equal(first.Count, first.Distinct().Count());
        var hash = first[7][..^2];
        Assert.Equal([hash + "-0", hash + "-1", hash + "-2"], first[7..]);
    }

    [Fact]
    public async Task IdenticalLinesInSeparateInvoiceRuns_ShareAnId_SoTheServerReportsADuplicate()
    {
        // Occurrences are counted within a run of rows of one invoice (bounded memory); the UCI file keeps invoices together.
        const string line = "536365,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39,17850,United Kingdom";
        var events = await ReadTextAsync(Header + line + "\n536366,22633,HAND WARMER,6,12/1/10 8:28,1.85,17850,United Kingdom\n" + line + "\n", EventFileFormat.OnlineRetail);

        Assert.Equal(events[0].EventId, events[2].EventId);
        Assert.NotEqual(events[0].EventId, events[1].EventId);
    }
}
