using System.IO.Compression;
using System.Text;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Tests;

public sealed class EventFileReaderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("seg-formats-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string content, bool gzip = false)
    {
        var path = Path.Combine(_directory, name);
        var bytes = Encoding.UTF8.GetBytes(content);
        if (gzip)
        {
            using var file = File.Create(path);
            using var zip = new GZipStream(file, CompressionLevel.Fastest);
            zip.Write(bytes);
        }
        else
        {
            File.WriteAllBytes(path, bytes);
        }

        return path;
    }

    private static async Task<List<Event>> ReadAsync(string path, EventFileFormat format)
    {
        var events = new List<Event>();
        await foreach (var e in EventFileReader.ReadAsync(path, format, CancellationToken.None))
        {
            events.Add(e);
        }

        return events;
    }

    private const string RetailSample =
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n" +
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850,United Kingdom\r\n" +
        "536367,22745,\"AIRLINE LOUNGE,METAL SIGN\",2,12/1/10 8:34,4.25,13047,United Kingdom\r\n" +
        "C536379,D,Discount,-1,12/1/10 9:41,27.5,14527,United Kingdom\r\n" +
        "536414,22139,,56,12/1/10 11:52,0,,United Kingdom\r\n" +
        "A563185,B,Adjust bad debt,1,8/12/11 14:50,-11062.06,,United Kingdom\r\n" +
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850,United Kingdom\r\n" +
        "536370,POST,POSTAGE,3,12/1/10 8:45,18,12583,France";

    [Fact]
    public async Task OnlineRetail_MapsPurchasesReturnsAndQuirks()
    {
        var events = await ReadAsync(Write("retail.csv", RetailSample), EventFileFormat.OnlineRetail);

        Assert.Equal(7, events.Count);
        var first = events[0];
        Assert.Equal((EventType.Purchase, "17850", "85123A", 6, 2.55), (first.Type, first.UserId, first.ItemId, first.Quantity, first.Price));
        Assert.Equal(new DateTimeOffset(2010, 12, 1, 8, 26, 0, TimeSpan.Zero), first.Timestamp.ToDateTimeOffset());
        Assert.Equal("536365", first.Attributes["order_id"]);
        Assert.Equal("airline lounge,metal sign", events[1].Category);
        Assert.Equal((EventType.Return, 1), (events[2].Type, events[2].Quantity));
        Assert.Equal("", events[3].UserId);
        Assert.Equal(-11062.06, events[4].Price);
        Assert.Equal("POST", events[6].ItemId);
    }

    [Fact]
    public async Task OnlineRetail_EventIds_AreDeterministic_AndIdenticalLinesStayDistinct()
    {
        var path = Write("retail.csv.gz", RetailSample, gzip: true);
        var first = await ReadAsync(path, EventFileFormat.OnlineRetail);
        var second = await ReadAsync(path, EventFileFormat.OnlineRetail);

        Assert.Equal(first.Select(e => e.EventId), second.Select(e => e.EventId));
        Assert.Equal(first.Count, first.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(7, EventFileReader.CountRows(path, EventFileFormat.OnlineRetail));
    }

    [Fact]
    public async Task MovieLens_RowsAreRatings()
    {
        var events = await ReadAsync(Write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"), EventFileFormat.MovieLens);
        Assert.Equal(2, events.Count);
        Assert.Equal((EventType.Rating, "196", "242", 3.0, 881250949L), (events[0].Type, events[0].UserId, events[0].ItemId, events[0].Rating, events[0].Timestamp.Seconds));
        Assert.Equal("ml-196-242-881250949", events[0].EventId);
    }

    [Fact]
    public async Task Rees46_MapsEventTypesAndCategories()
    {
        var events = await ReadAsync(Write("rees.csv",
            "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n" +
            "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde\n" +
            "2019-10-01 00:00:01 UTC,purchase,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd\n"), EventFileFormat.Rees46);

        Assert.Equal((EventType.View, "2103807459595387724", 0), (events[0].Type, events[0].Category, events[0].Quantity));
        Assert.Equal((EventType.Purchase, "appliances.environment.water_heater", 1, "aqua"), (events[1].Type, events[1].Category, events[1].Quantity, events[1].Attributes["brand"]));
        Assert.Equal(new DateTimeOffset(2019, 10, 1, 0, 0, 1, TimeSpan.Zero), events[1].Timestamp.ToDateTimeOffset());
    }

    [Fact]
    public async Task Taobao_MapsBehaviourTypes()
    {
        var events = await ReadAsync(Write("tb.csv", "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,buy,1511561733\n1,1,1,cart,1511561733\n1,2,2,fav,1511561733\n"), EventFileFormat.Taobao);
        Assert.Equal([EventType.View, EventType.Purchase, EventType.AddToCart, EventType.Wishlist], events.Select(e => e.Type));
    }

    [Fact]
    public async Task Jsonl_ParsesEvents_AndKeepsBrokenLinesForTheServerToReject()
    {
        var events = await ReadAsync(Write("e.jsonl", "{\"eventId\":\"j1\",\"userId\":\"u\",\"type\":\"EVENT_TYPE_VIEW\",\"itemId\":\"i\",\"timestamp\":\"2024-01-01T00:00:00Z\"}\nnot json\n"), EventFileFormat.Jsonl);
        Assert.Equal(("j1", EventType.View), (events[0].EventId, events[0].Type));
        Assert.Equal(("jsonl-line-2", ""), (events[1].EventId, events[1].UserId));
    }

    [Fact]
    public void ParseFormat_NamesTheValidFormats()
    {
        Assert.Equal(EventFileFormat.OnlineRetail, EventFileReader.ParseFormat("online-retail"));
        var error = Assert.Throws<ArgumentException>(() => EventFileReader.ParseFormat("xml"));
        Assert.Contains("online-retail", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RealOnlineRetailSample_YieldsEveryRow()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Segmentation.sln")))
        {
            root = root.Parent;
        }

        var path = Path.Combine(root!.FullName, "..", "shared", "datasets", "online-retail-sample", "online_retail.first19999.csv.gz");
        Assert.True(File.Exists(path), $"dataset missing: {path} (CI always has ../shared/datasets)");
        var events = await ReadAsync(path, EventFileFormat.OnlineRetail);
        Assert.Equal(19_999, events.Count);
        Assert.Equal(6_652, events.Count(e => e.UserId.Length == 0));
        Assert.Equal(309, events.Count(e => e.Type == EventType.Return));
        Assert.Equal(19_999, events.Select(e => e.EventId).Distinct().Count());
    }
}
