using System.Text.Json.Nodes;
using Segmentation.Bench.Measurement;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// Soak: a fixed arrival rate (lookups with one in fifty calls a small ingest batch for existing users) for a set time,
/// sampling the server's resident memory, GC heap, threads, open descriptors and error count every few seconds. The
/// verdict compares the last third of the run with the first third (after a warm-up third is skipped for memory).
/// </summary>
public static class Soak
{
    /// <summary>Runs the soak against <paramref name="host"/> at 20 % of the lookup maximum (a load it can sustain for hours).</summary>
    public static async Task<bool> RunAsync(BenchReport report, BenchSettings settings, ServerProcess host, ThroughputSummary throughput, CancellationToken cancellationToken)
    {
        report.Section("Soak");
        var duration = TimeSpan.FromSeconds(settings.SoakSeconds);
        var rate = Math.Max(50, throughput.LookupMax * 0.2);
        using var load = new Workloads(host.Address, throughput.Connections, settings.Users);
        var samples = new List<(double Seconds, ProcessSample Process, ServerStats Stats)>();
        var errorsBefore = Errors(await StatsAsync(load));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var sampler = Task.Run(async () =>
        {
            var interval = TimeSpan.FromSeconds(Math.Clamp(settings.SoakSeconds / 24, 1, 30));
            while (!stop.IsCancellationRequested)
            {
                if (host.Sample() is { } process)
                {
                    samples.Add((started.Elapsed.TotalSeconds, process, await StatsAsync(load)));
                }

                await Task.Delay(interval, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }, CancellationToken.None);

        // 49 lookups, then one ingest of 10 events, repeating.
        Task Mixed(long i) => i % 50 == 49 ? IngestSmallAsync(load, i) : load.GetUserSegmentsAsync(i);
        var result = await OpenLoop.RunAsync("soak", Mixed, rate, duration, cancellationToken);
        await stop.CancelAsync();
        await sampler;
        var errorsAfter = Errors(await StatsAsync(load));

        var third = Math.Max(1, samples.Count / 3);
        double Mean(IEnumerable<double> values) => values.DefaultIfEmpty(0).Average();
        var firstRss = Mean(samples.Skip(third).Take(third).Select(s => (double)s.Process.ResidentBytes));
        var lastRss = Mean(samples.TakeLast(third).Select(s => (double)s.Process.ResidentBytes));
        var firstHeap = Mean(samples.Skip(third).Take(third).Select(s => (double)s.Stats.GcHeapBytes));
        var lastHeap = Mean(samples.TakeLast(third).Select(s => (double)s.Stats.GcHeapBytes));
        var firstThreads = Mean(samples.Take(third).Select(s => (double)s.Process.Threads));
        var lastThreads = Mean(samples.TakeLast(third).Select(s => (double)s.Process.Threads));
        var firstFds = Mean(samples.Take(third).Select(s => (double)s.Process.OpenDescriptors));
        var lastFds = Mean(samples.TakeLast(third).Select(s => (double)s.Process.OpenDescriptors));
        var rssGrowth = Growth(firstRss, lastRss);
        var heapGrowth = Growth(firstHeap, lastHeap);
        var flat = rssGrowth < 0.10 && heapGrowth < 0.25 && lastThreads <= firstThreads * 1.25 + 4 && lastFds <= firstFds * 1.25 + 8;

        report.Line($"{duration.TotalSeconds:F0} s at {N(rate)} calls/s (98 % GetUserSegments, 2 % IngestEvents of 10 events), {samples.Count} samples:\n");
        report.Table(
            ["t s", "RSS MB", "GC heap MB", "GC committed MB", "threads", "open fds", "gen2 GCs", "server errors"],
            samples.Select(s => (IReadOnlyList<string>)[N(s.Seconds), N(s.Process.ResidentBytes / 1e6, 1), N(s.Stats.GcHeapBytes / 1e6, 1), N(s.Stats.GcCommittedBytes / 1e6, 1),
                N(s.Process.Threads), N(s.Process.OpenDescriptors), N(s.Stats.Gen2Collections), N(Errors(s.Stats) - errorsBefore)]));
        report.Line($"**Soak trend: {(flat ? "flat" : "GROWING")}** — RSS {Pct(rssGrowth)} and GC heap {Pct(heapGrowth)} (last third vs the middle third), threads {firstThreads:F0} → {lastThreads:F0}, "
            + $"open fds {firstFds:F0} → {lastFds:F0}; client errors {N(result.Errors)}, server non-OK statuses {N(errorsAfter - errorsBefore)}; latency p50 {result.Latency.Milliseconds(0.5):F2} ms, p99 {result.Latency.Milliseconds(0.99):F2} ms, p99.9 {result.Latency.Milliseconds(0.999):F2} ms.");
        report.Json["soak"] = new JsonObject
        {
            ["seconds"] = duration.TotalSeconds,
            ["rate"] = Math.Round(rate),
            ["flat"] = flat,
            ["rss_growth"] = Math.Round(rssGrowth, 4),
            ["gc_heap_growth"] = Math.Round(heapGrowth, 4),
            ["threads_first"] = Math.Round(firstThreads, 1),
            ["threads_last"] = Math.Round(lastThreads, 1),
            ["fds_first"] = Math.Round(firstFds, 1),
            ["fds_last"] = Math.Round(lastFds, 1),
            ["client_errors"] = result.Errors,
            ["server_errors"] = errorsAfter - errorsBefore,
            ["latency"] = result.ToJson(),
            ["samples"] = new JsonArray(samples.Select(s => (JsonNode)new JsonObject
            {
                ["t"] = Math.Round(s.Seconds, 1),
                ["rss"] = s.Process.ResidentBytes,
                ["gc_heap"] = s.Stats.GcHeapBytes,
                ["threads"] = s.Process.Threads,
                ["fds"] = s.Process.OpenDescriptors,
            }).ToArray()),
        };
        return flat && result.Errors == 0;
    }

    private static async Task IngestSmallAsync(Workloads load, long i)
    {
        var response = await load.Client.Events.IngestEventsAsync(load.IngestRequest(5_000_000 + i, 10));
        if (response.Accepted != 10)
        {
            throw new InvalidOperationException("soak ingest: events not accepted");
        }
    }

    internal static Task<ServerStats> StatsAsync(Workloads load) =>
        load.Client.Admin.GetServerStatsAsync(new GetServerStatsRequest()).ResponseAsync;

    /// <summary>Server-side non-OK statuses, not counting CANCELLED (clients that gave up) or NOT_FOUND.</summary>
    internal static long Errors(ServerStats stats) =>
        stats.CallsByStatus.Where(s => s.Code is not (0 or 1 or 5)).Sum(s => s.Calls);

    private static double Growth(double first, double last) => first <= 0 ? 0 : (last - first) / first;

    private static string Pct(double growth) => $"{growth * 100:+0.0;-0.0} %";
}
