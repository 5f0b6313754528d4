using Segmentation.Bench.Commands;

namespace Segmentation.Bench.Tests;

/// <summary>
/// The in-process benchmarks (moved here from <c>seg</c>, which is a pure client) run end to end on a temporary server:
/// seeding, the load runs over gRPC and in process, and the server's stop. Numbers are not checked.
/// </summary>
public sealed class InProcessBenchTests
{
    [Fact]
    public async Task Bench_RunsOnATemporaryServer_AndSucceeds()
    {
        var exit = await BenchCommand.Create()
            .Parse(["--seconds", "0.2", "--rounds", "1", "--concurrency", "4", "--users", "40", "--ingest-batches", "2", "--warmup-batches", "1"])
            .InvokeAsync();
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task BenchRecommend_RunsOnATemporaryServer_AndSucceeds()
    {
        var exit = await RecommendBenchCommand.Create()
            .Parse(["--seconds", "0.2", "--rounds", "1", "--concurrency", "4", "--users", "40", "--items", "200"])
            .InvokeAsync();
        Assert.Equal(0, exit);
    }
}
