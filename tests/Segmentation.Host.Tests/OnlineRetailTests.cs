using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using Segmentation.Cli;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;
using Segmentation.Testing;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests;

/// <summary>
/// `seg ingest` of the real UCI Online Retail sample: the server's accepted/rejected counts must match an independent
/// count of the file's valid and invalid rows, re-ingesting counts duplicates, and lifecycle stages are as of the last event.
/// </summary>
public sealed class OnlineRetailTests
{
    private readonly ITestOutputHelper _output;

    public OnlineRetailTests(ITestOutputHelper output) => _output = output;

    private static string SamplePath => Path.Combine(Repository.Datasets, "online-retail-sample", "online_retail.first19999.csv.gz");

    [Fact]
    public async Task Ingest_OnlineRetailSample_CountsMatchAnIndependentCount_AndLifecycleIsAsOfTheLastEvent()
    {
        Assert.True(File.Exists(SamplePath), $"dataset missing: {SamplePath} (CI always has ../shared/datasets)");
        var expected = IndependentCount(SamplePath);
        await using var server = await TestServer.StartAsync();
        using var client = new SegmentationClient(server.Server.Address);

        var first = await client.StreamAsync(Batches(SamplePath), CancellationToken.None);
        var second = await client.StreamAsync(Batches(SamplePath), CancellationToken.None);

        _output.WriteLine($"rows {expected.Rows}, valid {expected.Valid}, invalid {expected.Invalid}; server: accepted {first.Accepted}, rejected {first.Rejected}, duplicates {first.Duplicates}");
        Assert.Equal(expected.Rows, first.Received);
        Assert.Equal(expected.Valid, first.Accepted);
        Assert.Equal(expected.Invalid, first.Rejected);
        Assert.Equal(0, first.Duplicates);
        Assert.StartsWith("user_id", first.TopRejectionReasons[0].Reason, StringComparison.Ordinal);
        Assert.Equal((0L, expected.Valid, expected.Invalid), (second.Accepted, second.Duplicates, second.Rejected));

        var request = new BatchGetUserSegmentsRequest();
        request.UserIds.Add(expected.Customers.Take(1_000));
        var segments = await server.Client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(Events.BatchGetUserSegments, request);
        Assert.Equal(Math.Min(1_000, expected.Customers.Count), segments.Users.Count);
        var stages = segments.Users.GroupBy(u => u.Lifecycle.Stage).ToDictionary(g => g.Key, g => g.Count());
        _output.WriteLine("stages as of " + segments.Users[0].AsOf + ": " + string.Join(", ", stages.Select(s => $"{s.Key} {s.Value}")));
        Assert.All(segments.Users, u => Assert.Equal(expected.LastEvent, u.AsOf.ToDateTimeOffset()));
        // The sample spans nine days (2010-12-01..09): as of its last event every customer was first seen within the
        // 14-day "new" window, however recently she was active.
        Assert.All(segments.Users, u => Assert.Equal(LifecycleStage.New, u.Lifecycle.Stage));
    }

    private static async IAsyncEnumerable<IngestEventsRequest> Batches(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var batch = new IngestEventsRequest();
        await foreach (var e in EventFileReader.ReadAsync(path, EventFileFormat.OnlineRetail, cancellationToken))
        {
            batch.Events.Add(e);
            if (batch.Events.Count == 1_000)
            {
                yield return batch;
                batch = new IngestEventsRequest();
            }
        }

        if (batch.Events.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>
    /// Counts valid and invalid rows by the event rules, with its own CSV reading (not the CLI's reader): a row is
    /// invalid when it has no CustomerID, a negative price or a zero quantity.
    /// </summary>
    private static (long Rows, long Valid, long Invalid, List<string> Customers, DateTimeOffset LastEvent) IndependentCount(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        reader.ReadLine();
        long rows = 0, valid = 0;
        var customers = new SortedSet<string>(StringComparer.Ordinal);
        var last = DateTime.MinValue;
        while (reader.ReadLine() is { } line)
        {
            rows++;
            var fields = SplitCsv(line);
            var quantity = int.Parse(fields[3], CultureInfo.InvariantCulture);
            var price = double.Parse(fields[5], CultureInfo.InvariantCulture);
            var date = DateTime.ParseExact(fields[4], "M/d/yy H:mm", CultureInfo.InvariantCulture);
            last = date > last ? date : last;
            if (fields[6].Length > 0 && price >= 0 && quantity != 0)
            {
                valid++;
                customers.Add(fields[6]);
            }
        }

        // December in London is GMT: local time equals UTC.
        return (rows, valid, rows - valid, customers.ToList(), new DateTimeOffset(last, TimeSpan.Zero));
    }

    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }
}
