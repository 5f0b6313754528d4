using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Tests;

/// <summary>
/// The readers over the real public datasets in <c>../shared/datasets</c> (next to the repository root). CI always
/// has that folder; without it these tests fail and say where they looked (xunit 2 cannot skip at run time).
/// </summary>
public sealed class RealDatasetTests : EventFiles
{
    private static string Dataset(string relativePath)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Segmentation.sln")))
        {
            directory = directory.Parent;
        }

        Assert.True(directory is not null, $"Segmentation.sln not found above {AppContext.BaseDirectory}; cannot locate ../shared/datasets.");
        var path = Path.GetFullPath(Path.Combine(directory.FullName, "..", "shared", "datasets", relativePath));
        Assert.True(File.Exists(path), $"Dataset missing: {path}. These tests need the shared datasets folder next to the repository (CI always has it).");
        return path;
    }

    [Fact]
    public async Task OnlineRetailSample_YieldsEveryRow_WithItsQuirks()
    {
        var events = await ReadAllAsync(Dataset("online-retail-sample/online_retail.first19999.csv.gz"), EventFileFormat.OnlineRetail);

        Assert.Equal(19_999, events.Count);
        Assert.Equal(6_652, events.Count(e => e.UserId.Length == 0));
        Assert.Equal(261, events.Count(e => e.Attributes["order_id"].StartsWith('C')));
        Assert.Equal(309, events.Count(e => e.Type == EventType.Return)); // 261 cancellation lines and 48 negative adjustments.
        Assert.All(events, e => Assert.True(e.Quantity >= 0));
        Assert.Equal(19_999, events.Select(e => e.EventId).Distinct().Count());
        var first = new DateTimeOffset(2010, 12, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.All(events, e => Assert.InRange(e.Timestamp.ToDateTimeOffset(), first, first.AddDays(9)));
        Assert.DoesNotContain(events, e => double.IsNaN(e.Price));
    }

    [Fact]
    public async Task MovieLens100k_YieldsEveryRating()
    {
        var events = await ReadAllAsync(Dataset("movielens-100k/u.data.gz"), EventFileFormat.MovieLens);

        Assert.Equal(100_000, events.Count);
        Assert.Equal(943, events.Select(e => e.UserId).Distinct().Count());
        Assert.Equal(1_682, events.Select(e => e.ItemId).Distinct().Count());
        Assert.All(events, e => Assert.InRange(e.Rating, 1, 5));
        Assert.Equal(100_000, events.Select(e => e.EventId).Distinct().Count());
    }
}
