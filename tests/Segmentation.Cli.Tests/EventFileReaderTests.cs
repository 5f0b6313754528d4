using System.Text;
using Segmentation.Cli.Formats;

namespace Segmentation.Cli.Tests;

public sealed class EventFileReaderTests : EventFiles
{
    [Fact]
    public void ParseFormat_AcceptsEveryName_CaseInsensitively()
    {
        Assert.Equal(Enum.GetValues<EventFileFormat>(), EventFileReader.FormatNames.Select(EventFileReader.ParseFormat));
        Assert.Equal(EventFileFormat.OnlineRetail, EventFileReader.ParseFormat("Online-Retail"));
        Assert.Equal(EventFileFormat.MovieLens, EventFileReader.ParseFormat("movielens"));
    }

    [Fact]
    public void ParseFormat_UnknownName_ListsTheValidNames()
    {
        var error = Assert.Throws<ArgumentException>(() => EventFileReader.ParseFormat("xml"));
        Assert.Contains("'xml'", error.Message, StringComparison.Ordinal);
        Assert.All(EventFileReader.FormatNames, name => Assert.Contains(name, error.Message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("1\t2\t3\t4\n5\t6\t7\t8\n", 2)]            // LF.
    [InlineData("1\t2\t3\t4\r\n5\t6\t7\t8", 2)]             // CRLF, no final newline.
    [InlineData("1\t2\t3\t4\r5\t6\t7\t8\r", 2)]             // Lone CR ends a line too.
    [InlineData("\n\n1\t2\t3\t4\r\n\r\n\r\n5\t6\t7\t8\n\n", 2)] // Blank lines are not rows.
    [InlineData(" \n", 1)]                                   // A line of spaces is a (bad) row.
    [InlineData("", 0)]
    public async Task CountRows_AgreesWithWhatIsRead(string content, int rows)
    {
        Assert.Equal(rows, (await ReadTextAsync(content, EventFileFormat.MovieLens)).Count); // ReadAllAsync also compares with CountRows.
        Assert.Equal(rows, (await ReadAllAsync(Write("rows.gz", content, gzip: true), EventFileFormat.MovieLens)).Count);
    }

    [Fact]
    public async Task HeaderAndByteOrderMark_AreNotRows()
    {
        var header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n";
        var row = "536365,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39,17850,United Kingdom\r\n";
        var bytes = Encoding.UTF8.Preamble.ToArray().Concat(Encoding.UTF8.GetBytes(header + row)).ToArray();

        Assert.Single(await ReadAllAsync(WriteBytes("bom.csv", bytes), EventFileFormat.OnlineRetail));
        Assert.Empty(await ReadAllAsync(Write("header-only.csv", header), EventFileFormat.OnlineRetail));
        Assert.Equal(2, (await ReadAllAsync(Write("no-header.csv", row + row), EventFileFormat.OnlineRetail)).Count);
    }

    [Fact]
    public async Task GzipIsRecognisedByContent_NotByName()
    {
        var content = "196\t242\t3\t881250949\n";
        var events = await ReadAllAsync(Write("ratings.data", content, gzip: true), EventFileFormat.MovieLens);

        Assert.Equal("ml-196-242-881250949", Assert.Single(events).EventId);
    }

    [Fact]
    public async Task Cancellation_StopsTheRead()
    {
        var path = Write("many.data", string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i}\t1\t5\t881250949\n")));
        using var cancel = new CancellationTokenSource();
        var read = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in EventFileReader.ReadAsync(path, EventFileFormat.MovieLens, cancel.Token))
            {
                if (++read == 10)
                {
                    await cancel.CancelAsync();
                }
            }
        });
        Assert.Equal(10, read);
    }

    [Fact]
    public async Task MissingFile_FailsWhenRead()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.csv");

        await Assert.ThrowsAsync<FileNotFoundException>(async () => await ReadAllAsync(path, EventFileFormat.Jsonl));
        Assert.Throws<FileNotFoundException>(() => EventFileReader.CountRows(path, EventFileFormat.Jsonl));
    }
}
