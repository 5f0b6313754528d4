using System.Text;
using Segmentation.Cli.Formats;

namespace Segmentation.Cli.Tests;

/// <summary>The reader names each bad row's line and its real problem, and recognises formats from the first lines.</summary>
public sealed class RowProblemTests : EventFiles
{
    private const string RetailHeader = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
    private const string RetailRow = "536365,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39,17850,United Kingdom\n";
    private const string ReesHeader = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n";
    private const string ReesRow = "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\n";

    private async Task<List<EventRow>> RowsAsync(string path, EventFileFormat format)
    {
        var rows = new List<EventRow>();
        await foreach (var row in EventFileReader.ReadRowsAsync(path, format, CancellationToken.None))
        {
            rows.Add(row);
        }

        return rows;
    }

    [Fact]
    public async Task EachBadRow_NamesItsLine_AndItsRealProblem()
    {
        var path = Write("bad.csv", RetailHeader + RetailRow + "\n" + "536365,71053,WHITE,6,12/1/10 8:26,3.39\n" + "536365,71053,A,B,6,12/1/10 8:26,3.39,17850,United Kingdom\n"
            + "536365,71053,WHITE,six,12/1/10 8:26,3.39,17850,United Kingdom\n" + "536365,71053,WHITE,6,yesterday,3.39,17850,United Kingdom\n" + "536365,71053,WHITE");
        var rows = await RowsAsync(path, EventFileFormat.OnlineRetail);

        Assert.Equal(
            [
                (2L, (string?)null),
                (4L, "line 4: 6 columns, online-retail needs 8"),
                (5L, "line 5: 9 columns, online-retail needs 8"),
                (6L, "line 6: Quantity 'six' is not a whole number"),
                (7L, "line 7: InvoiceDate 'yesterday' is not a date like 12/1/10 8:26"),
                (8L, "line 8: 3 columns, online-retail needs 8, and the file ends inside this line: it looks cut off"),
            ],
            rows.Select(r => (r.LineNumber, r.Problem?.At(r.LineNumber))));
        Assert.Equal("truncated line (the file ends inside it)", rows[^1].Problem!.Reason);
        Assert.Equal("wrong number of columns (online-retail needs 8)", rows[1].Problem!.Reason);
    }

    [Fact]
    public async Task InvalidUtf8_IsReportedWithTheByte_AndTheNextLinesReadNormally()
    {
        var latin1 = Encoding.Latin1.GetBytes("536365,22633,HAND WARMER \u00a3 SIGN,6,12/1/10 8:26,1.85,17850,United Kingdom\n");
        var bytes = Encoding.UTF8.GetBytes(RetailHeader).Concat(latin1).Concat(Encoding.UTF8.GetBytes(RetailRow)).ToArray();
        var rows = await RowsAsync(WriteBytes("latin1.csv.gz", bytes, gzip: true), EventFileFormat.OnlineRetail);

        Assert.Equal("line 2: not valid UTF-8: byte 0xA3 at byte 26 of the line (save the file as UTF-8)", rows[0].Problem!.At(2));
        Assert.Null(rows[1].Problem);
    }

    [Theory]
    [InlineData(RetailHeader + RetailRow, EventFileFormat.OnlineRetail, "recognised from its header")]
    [InlineData(RetailRow, EventFileFormat.OnlineRetail, "recognised from line 1")]
    [InlineData(ReesHeader + ReesRow, EventFileFormat.Rees46, "recognised from its header")]
    [InlineData("1,2268318,2520377,pv,1511544070\n", EventFileFormat.Taobao, "recognised from line 1")]
    [InlineData("196\t242\t3\t881250949\n", EventFileFormat.MovieLens, "recognised from line 1")]
    [InlineData("userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n", EventFileFormat.MovieLens, "recognised from its header")]
    [InlineData("{\"eventId\":\"e1\",\"userId\":\"u1\",\"type\":\"EVENT_TYPE_VIEW\",\"itemId\":\"i1\",\"timestamp\":\"2026-12-01T10:00:00Z\"}\n", EventFileFormat.Jsonl, "recognised from line 1")]
    public async Task Formats_AreRecognisedFromTheFirstLines(string content, EventFileFormat format, string how)
    {
        var decision = await EventFileReader.DecideFormatAsync(Write($"{Guid.NewGuid():N}.txt", content), null, CancellationToken.None);

        Assert.Equal((format, true, how), (decision.Format, decision.Detected, decision.How));
    }

    [Theory]
    [InlineData("", null, "the file is empty (0 bytes)")]
    [InlineData("\n\n", null, "the file has no rows: its 2 lines are blank")]
    [InlineData(RetailHeader, null, "the file has no rows: only a header (online-retail): 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'")]
    [InlineData("a;b;c\n", null, "cannot tell the format from line 1: 'a;b;c' (none of online-retail, rees46, taobao, movielens, jsonl reads it); give --format")]
    [InlineData(ReesHeader + ReesRow, EventFileFormat.OnlineRetail, "header does not look like online-retail: 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session' (it is the header of rees46; use --format rees46)")]
    [InlineData("a,b,c\n", EventFileFormat.OnlineRetail, "header does not look like online-retail: 'a,b,c' (3 columns, online-retail needs 8; online-retail files start with 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country')")]
    [InlineData("196\t242\t3\t881250949\n", EventFileFormat.Taobao, "line 1 does not look like taobao: '196\t242\t3\t881250949' (it is a row of movielens; use --format movielens)")]
    public async Task FilesThatAreNotEvents_OrNotTheFormatGiven_AreRefusedWithTheFirstLineShown(string content, EventFileFormat? given, string message)
    {
        var path = Write($"{Guid.NewGuid():N}.txt", content);
        var refused = await Assert.ThrowsAsync<EventFileFormatException>(() => EventFileReader.DecideFormatAsync(path, given, CancellationToken.None));

        Assert.Equal(message, refused.Message);
    }

    [Fact]
    public async Task AGivenFormat_IsKept_WhenALaterSampleLineReadsAsIt()
    {
        // A bad first row does not refuse a good file given with --format: the next lines read as it.
        var path = Write("first-bad.csv", "536365,71053,WHITE\n" + RetailRow + RetailRow);
        var decision = await EventFileReader.DecideFormatAsync(path, EventFileFormat.OnlineRetail, CancellationToken.None);

        Assert.Equal((EventFileFormat.OnlineRetail, false), (decision.Format, decision.Detected));
    }
}
