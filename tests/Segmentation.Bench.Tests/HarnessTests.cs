using System.Text.Json.Nodes;

namespace Segmentation.Bench.Tests;

public sealed class HarnessTests
{
    [Fact]
    public async Task Report_LoadParts_WriteEveryKeyFigure_ToMarkdownAndJson()
    {
        var output = Path.Combine(Path.GetTempPath(), "segbench-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = new BenchSettings { Seconds = 0.3, Users = 100, IngestBatches = 10, SoakSeconds = 3, OutputDirectory = output };
            await Harness.RunAsync(settings, ["throughput", "h2load", "soak"], "test", CancellationToken.None);

            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")))!;
            var throughput = json["throughput"]!;
            Assert.True(throughput["lookup_to_echo_ratio"]!.GetValue<double>() > 0);
            Assert.True(throughput["durable_ingest_events_per_second"]!.GetValue<double>() > 0);
            Assert.Equal(7, throughput["closed_loop"]!.AsArray().Count); // plain, echo and five methods
            Assert.Equal(12, throughput["open_loop"]!.AsArray().Count); // six methods at 50 % and 80 %
            Assert.True(throughput["recommend_per_second"]!.GetValue<double>() > 0);
            Assert.True(json["host_after_seeding"]!["rss_bytes"]!.GetValue<long>() > 0);
            Assert.All(throughput["closed_loop"]!.AsArray(), run => Assert.Equal(0, run!["errors"]!.GetValue<long>()));
            Assert.True(json["soak"]!["samples"]!.AsArray().Count >= 2);
            Assert.Equal(Environment.ProcessorCount, json["machine"]!["cores"]!.GetValue<int>());
            if (File.Exists("/usr/bin/h2load"))
            {
                Assert.True(json["h2load"]!["lookup_per_second"]!.GetValue<double>() > 0);
            }

            var markdown = await File.ReadAllTextAsync(Path.Combine(output, "report.md"));
            Assert.Contains("Lookup (GetUserSegments) / echo throughput", markdown);
            Assert.Contains("p99 at 50 % load", markdown);
            Assert.Contains("Durable ingest", markdown);
            Assert.Contains("Soak trend", markdown);
            Assert.Contains("Recommend:", markdown);
            Assert.Contains("host RSS after seeding the shop", markdown);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Report_Grains_MeasuresGrainCallsInAnInProcessSilo()
    {
        var output = Path.Combine(Path.GetTempPath(), "segbench-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = new BenchSettings { Seconds = 0.3, Users = 50, OutputDirectory = output };
            await Harness.RunAsync(settings, ["grains"], "test", CancellationToken.None);

            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")))!;
            var grains = json["grains"]!;
            Assert.True(grains["grain_calls_per_second"]!.GetValue<double>() > 0);
            Assert.Equal(["GetLifecycle", "GetSegments"], grains["runs"]!.AsArray().Select(run => run!["name"]!.GetValue<string>()));
            Assert.All(grains["runs"]!.AsArray(), run =>
            {
                Assert.Equal(0, run!["errors"]!.GetValue<long>());
                Assert.True(run["cpu_us_per_call"]!.GetValue<double>() > 0);
            });
            Assert.Contains("In-process grain calls", await File.ReadAllTextAsync(Path.Combine(output, "report.md")));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
