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
            Assert.Equal(6, throughput["closed_loop"]!.AsArray().Count); // plain, echo and four methods
            Assert.Equal(10, throughput["open_loop"]!.AsArray().Count); // five methods at 50 % and 80 %
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
