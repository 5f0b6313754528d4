using System.Diagnostics;
using System.Text.Json.Nodes;
using Segmentation.Bench.Measurement;
using Segmentation.Bench.Target;
using Segmentation.Testing;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>One target's figures in the cluster comparison.</summary>
internal sealed record TargetFigures(string Name, LoadResult Lookups, LoadResult Sequential, DurableIngestResult Ingest);

/// <summary>
/// Embedded host vs the 3-silo cluster, in one run on this machine (issue 12): the embedded default (one process,
/// SQLite), the embedded host on PostgreSQL (the same storage as the cluster, so the difference is the topology), and
/// <see cref="LocalCluster"/> (3 silos + a gateway on PostgreSQL). Each gets the same seeded shop, GetUserSegments in a
/// closed loop (1 connection × 64 streams) and sequentially (1 caller: latency without queueing), and durable ingest
/// (batches of 1,000, 4 in flight). Every lookup through the gateway is a remote grain call (the gateway hosts no user
/// grains), so the cluster's extra cost per lookup over the embedded host on PostgreSQL is the cost of that hop.
/// </summary>
public static class ClusterThroughput
{
    private const int Streams = 64;
    private const int IngestBatches = 100;

    /// <summary>Measures the three targets and writes the section.</summary>
    public static async Task RunAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("Embedded host vs 3-silo cluster (one run)");
        var load0 = Failover.LoadAverage();
        var started = Stopwatch.StartNew();
        string[] common = ["--Segmentation:SeedWhenEmpty=true", $"--Segmentation:SeedUsers={settings.Users}", "--Segmentation:Clock=System"];
        var figures = new List<TargetFigures>();

        var sqliteData = Path.Combine(Path.GetTempPath(), "segbench-embedded-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var embedded = ServerProcess.StartHost(sqliteData, common);
            await embedded.WaitServingAsync(TimeSpan.FromMinutes(3));
            figures.Add(await MeasureAsync("embedded, SQLite", embedded.Address, embedded.CpuTime, settings, cancellationToken));
        }
        finally
        {
            TryDelete(sqliteData);
        }

        var postgresData = Path.Combine(Path.GetTempPath(), "segbench-embedded-pg-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var postgres = await LocalPostgres.StartAsync();
            using var embedded = ServerProcess.StartHost(postgresData, [.. common, "--Segmentation:Storage:Provider=postgres", $"--Segmentation:Storage:ConnectionString={postgres.ConnectionString}"]);
            await embedded.WaitServingAsync(TimeSpan.FromMinutes(3));
            figures.Add(await MeasureAsync("embedded, PostgreSQL", embedded.Address, () => embedded.CpuTime() + postgres.ServerCpuTime(), settings, cancellationToken));
        }
        finally
        {
            TryDelete(postgresData);
        }

        await using (var cluster = await LocalCluster.StartAsync(3, settings.Users, ["--Segmentation:Clock=System"], cancellationToken))
        {
            figures.Add(await MeasureAsync("cluster: 3 silos + gateway, PostgreSQL", cluster.Gateway, cluster.ServerCpuTime, settings, cancellationToken));
        }

        var baseline = figures[0];
        var onPostgres = figures[1];
        var cluster3 = figures[2];
        report.Line($"- {settings.Users:N0} seeded users per target; GetUserSegments closed loop 1 connection × {Streams} streams, {settings.Seconds:F0} s, and 1 sequential caller; durable ingest "
            + $"{IngestBatches} batches of 1,000 new events, 4 in flight. Server CPU = every server process (host or silos + gateway, and PostgreSQL where used). "
            + $"{Environment.ProcessorCount} cores shared with the load generator; load average {load0} before, {Failover.LoadAverage()} after; {started.Elapsed.TotalSeconds:F0} s.\n");
        report.Table(
            ["target", "lookups/s", "vs embedded SQLite", "p50 ms", "p99 ms", "server CPU µs/lookup", "sequential p50 ms", "durable ingest events/s", "vs embedded SQLite", "server CPU µs/event", "errors"],
            figures.Select(f => (IReadOnlyList<string>)[
                f.Name, N(f.Lookups.PerSecond), $"{f.Lookups.PerSecond / baseline.Lookups.PerSecond:F2}", Ms(f.Lookups, 0.5), Ms(f.Lookups, 0.99), $"{f.Lookups.ServerCpuMicroseconds:F0}",
                Ms(f.Sequential, 0.5), N(f.Ingest.AckedPerSecond), $"{f.Ingest.AckedPerSecond / baseline.Ingest.AckedPerSecond:F2}", $"{f.Ingest.AckCpuMicroseconds:F0}",
                N(f.Lookups.Errors + f.Sequential.Errors)]));
        var hopCpu = cluster3.Lookups.ServerCpuMicroseconds - onPostgres.Lookups.ServerCpuMicroseconds;
        var hopLatency = cluster3.Sequential.Latency.Milliseconds(0.5) - onPostgres.Sequential.Latency.Milliseconds(0.5);
        report.Line($"**Cost of the remote grain hop per lookup: {hopCpu:F0} µs of server CPU, {hopLatency * 1000:F0} µs of latency** (cluster minus embedded-on-PostgreSQL: "
            + "server CPU per lookup in the closed loop, and the sequential caller's median; every gateway lookup is one remote grain call and its answer). "
            + $"**Cluster / embedded SQLite: lookups {cluster3.Lookups.PerSecond / baseline.Lookups.PerSecond:F2}, durable ingest {cluster3.Ingest.AckedPerSecond / baseline.Ingest.AckedPerSecond:F2}; "
            + $"PostgreSQL / SQLite durable ingest (embedded): {onPostgres.Ingest.AckedPerSecond / baseline.Ingest.AckedPerSecond:F2}** ({N(onPostgres.Ingest.AckedPerSecond)} vs {N(baseline.Ingest.AckedPerSecond)} events/s).");
        report.Json["cluster"] = new JsonObject
        {
            ["targets"] = new JsonArray(figures.Select(f => (JsonNode)new JsonObject
            {
                ["name"] = f.Name,
                ["lookups"] = f.Lookups.ToJson(),
                ["sequential_lookups"] = f.Sequential.ToJson(),
                ["durable_ingest_events_per_second"] = Math.Round(f.Ingest.AckedPerSecond),
                ["durable_ingest_server_cpu_us_per_event"] = Math.Round(f.Ingest.AckCpuMicroseconds, 1),
            }).ToArray()),
            ["hop_server_cpu_us_per_lookup"] = Math.Round(hopCpu, 1),
            ["hop_latency_us_p50"] = Math.Round(hopLatency * 1000, 1),
            ["cluster_to_embedded_lookups"] = Math.Round(cluster3.Lookups.PerSecond / baseline.Lookups.PerSecond, 4),
            ["cluster_to_embedded_ingest"] = Math.Round(cluster3.Ingest.AckedPerSecond / baseline.Ingest.AckedPerSecond, 4),
            ["postgres_to_sqlite_ingest"] = Math.Round(onPostgres.Ingest.AckedPerSecond / baseline.Ingest.AckedPerSecond, 4),
            ["load_average_before"] = load0,
        };
    }

    private static async Task<TargetFigures> MeasureAsync(string name, Uri address, Func<TimeSpan> serverCpu, BenchSettings settings, CancellationToken cancellationToken)
    {
        Console.WriteLine($"cluster: measuring {name}");
        using var load = new Workloads(address, 1, settings.Users);
        var duration = TimeSpan.FromSeconds(settings.Seconds);
        // Warm-up activates every seeded user (from snapshots and the log), so the measured lookups answer from memory.
        await ClosedLoop.RunAsync("warm-up", load.GetUserSegmentsAsync, Streams, TimeSpan.FromSeconds(3), cancellationToken);
        var lookups = await WithCpuAsync(serverCpu, () => ClosedLoop.RunAsync("GetUserSegments", load.GetUserSegmentsAsync, Streams, duration, cancellationToken));
        var sequential = await ClosedLoop.RunAsync("GetUserSegments, 1 caller", load.GetUserSegmentsAsync, 1, duration * 0.4, cancellationToken);
        var ingest = await Throughput.DurableIngestAsync(load, serverCpu, IngestBatches, cancellationToken);
        return new TargetFigures(name, lookups, sequential, ingest);
    }

    private static async Task<LoadResult> WithCpuAsync(Func<TimeSpan> serverCpu, Func<Task<LoadResult>> run)
    {
        var server0 = serverCpu();
        var result = await run();
        return result with { ServerCpuMicroseconds = (serverCpu() - server0).TotalMicroseconds / Math.Max(1, result.Calls - result.Errors) };
    }

    private static string Ms(LoadResult r, double q) => r.Latency.Milliseconds(q).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder.
        }
    }
}
