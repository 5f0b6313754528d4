using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Segmentation.Cli;
using Segmentation.Cli.Commands;
using Segmentation.Cli.Formats;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests;

/// <summary>
/// <c>seg ingest</c> against a real server, one malformed input at a time: each bad row is reported with its line and
/// its true problem (the reader's, or the server's mapped back to the line), and the exit code says whether the run
/// can be trusted. The table of inputs, messages and exit codes is printed.
/// </summary>
public sealed class IngestReportTests : IAsyncLifetime, IDisposable
{
    private const string Header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
    private readonly ITestOutputHelper _output;
    private readonly string _directory = Directory.CreateTempSubdirectory("seg-ingest-").FullName;
    private TestServer _server = null!;

    public IngestReportTests(ITestOutputHelper output) => _output = output;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => TestServer.TryDelete(_directory);

    /// <summary>An invoice line of customer <paramref name="customer"/> (distinct per case, so no row is a duplicate of another case's).</summary>
    private static string Row(int customer, string quantity = "6", string price = "3.39") =>
        $"5{customer:D5},71053,WHITE METAL LANTERN,{quantity},12/1/10 8:26,{price},{customer},United Kingdom\n";

    private string File(string name, string content) => FileBytes(name, Encoding.UTF8.GetBytes(content));

    private string FileBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(_directory, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    private async Task<(int Exit, string Output, string Error)> IngestAsync(string path, EventFileFormat? format = null, double maxRejectedShare = 1, bool json = false)
    {
        using var client = new SegmentationClient(_server.Server.Address);
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await IngestRun.RunAsync(new IngestSettings(path, format, 1_000, maxRejectedShare, json, null), client, output, error, interactive: false, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task MalformedInputs_EachGetTheirOwnTrueMessage_AndExitCode()
    {
        var latin1 = Encoding.Latin1.GetBytes("500007,22633,HAND WARMER \u00a3 SIGN,6,12/1/10 8:26,1.85,7,United Kingdom\n");
        var reesHeader = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n";
        var gzip = new MemoryStream();
        using (var zip = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(Encoding.UTF8.GetBytes(Header + string.Concat(Enumerable.Range(0, 2_000).Select(i => Row(20_000 + i)))));
        }

        var cases = new (string Input, string Path, EventFileFormat? Format, double Share, int Exit, string Message)[]
        {
            ("truncated last line", File("truncated.csv", Header + Row(1) + Row(2) + "500003,71053,WHITE METAL"), null, 1, 0,
                "line 4: 3 columns, online-retail needs 8, and the file ends inside this line: it looks cut off"),
            ("missing columns", File("missing.csv", Header + Row(4) + "500005,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39\n"), EventFileFormat.OnlineRetail, 1, 0,
                "line 3: 6 columns, online-retail needs 8"),
            ("extra columns", File("extra.csv", Header + Row(5) + Row(6).TrimEnd('\n') + ",extra\n"), null, 1, 0,
                "line 3: 9 columns, online-retail needs 8"),
            ("wrong --format", File("rees.csv", reesHeader + "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s1\n"), EventFileFormat.OnlineRetail, 1, 2,
                "header does not look like online-retail: 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session' (it is the header of rees46; use --format rees46)"),
            ("bad encoding (Latin-1)", FileBytes("latin1.csv", [.. Encoding.UTF8.GetBytes(Header + Row(8)), .. latin1]), null, 1, 0,
                "line 3: not valid UTF-8: byte 0xA3 at byte 26 of the line (save the file as UTF-8)"),
            ("empty file", File("empty.csv", ""), null, 1, 2,
                "the file is empty (0 bytes)"),
            ("header only", File("header.csv", Header), null, 1, 2,
                "the file has no rows: only a header (online-retail): 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'"),
            ("no known format", File("unknown.txt", "id;name\n1;x\n"), null, 1, 2,
                "cannot tell the format from line 1: 'id;name' (none of online-retail, rees46, taobao, movielens, jsonl reads it); give --format"),
            ("server rejects every row", File("zero.csv", Header + Row(9, quantity: "0") + Row(10, quantity: "0")), null, 1, 1,
                "nothing was accepted: all 2 rows were rejected"),
            ("over --max-rejected-share 0.25", File("share.csv", Header + Row(11) + "500012,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39,,United Kingdom\n"), null, 0.25, 1,
                "50.0% of the rows were rejected, more than --max-rejected-share 0.25"),
            ("corrupt gzip", FileBytes("corrupt.csv.gz", [.. gzip.ToArray().AsSpan(0, 600), .. new byte[200], .. gzip.ToArray().AsSpan(800)]), null, 1, 2,
                "the file cannot be read"),
        };

        var table = new StringBuilder("| input | exit | message |\n|---|---|---|\n");
        foreach (var (input, path, format, share, exit, message) in cases)
        {
            var (actualExit, output, error) = await IngestAsync(path, format, share);
            var shown = exit == 0 ? output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("line ", StringComparison.Ordinal)) : error.Trim();
            table.Append($"| {input} | {actualExit} | `{shown.Replace("\n", " / ", StringComparison.Ordinal)}` |\n");
            Assert.True(exit == actualExit, $"{input}: exit {actualExit}, expected {exit}\n{output}\n{error}");
            Assert.Contains(message, exit == 0 ? output : error, StringComparison.Ordinal);
        }

        _output.WriteLine(table.ToString());

        // The server's own rejections name their lines too.
        var (_, zeros, _) = await IngestAsync(Path.Combine(_directory, "zero.csv"));
        Assert.Contains("line 2: quantity: quantity must be at least 1 for cart, purchase and return events; also line 3", zeros, StringComparison.Ordinal);
        Assert.Contains("(server)", zeros, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_IsOneObjectForScripts_WithCountsPerReasonAndLines()
    {
        var path = File("json.csv", Header + Row(30) + Row(31) + "500032,71053,WHITE\n" + Row(33, price: "-1") + "500034,71053,WHITE");
        var (exit, output, _) = await IngestAsync(path, json: true);

        Assert.Equal(0, exit);
        Assert.DoesNotContain('\u001b', output); // no ANSI codes, no progress lines: stdout is not a terminal
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement;
        Assert.Equal(("online-retail", "recognised from its header", 5L, 2L, 3L), (root.GetProperty("format").GetString(), root.GetProperty("formatDecided").GetString(),
            root.GetProperty("rows").GetInt64(), root.GetProperty("accepted").GetInt64(), root.GetProperty("rejected").GetInt64()));
        var reasons = root.GetProperty("reasons").EnumerateArray()
            .Select(r => (r.GetProperty("source").GetString(), r.GetProperty("reason").GetString(), r.GetProperty("count").GetInt64(), string.Join(",", r.GetProperty("lines").EnumerateArray().Select(l => l.GetInt64()))))
            .ToList();
        Assert.Equal(
            [
                ("server", "price: price must be a finite number >= 0", 1L, "5"),
                ("file", "truncated line (the file ends inside it)", 1L, "6"),
                ("file", "wrong number of columns (online-retail needs 8)", 1L, "4"),
            ],
            reasons);
        Assert.Equal(0, root.GetProperty("exitCode").GetInt32());
    }
}
