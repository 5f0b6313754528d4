using System.Diagnostics;
using System.Text.Json.Nodes;
using Segmentation.Bench.Measurement;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>What the throughput scenario found, for the scenarios after it.</summary>
public sealed record ThroughputSummary(int Connections, int Streams, double LookupMax, double LookupP99At50, double EchoMax);

/// <summary>
/// Throughput and latency: the connection × stream sweep, closed-loop maxima of every method beside the bare Kestrel
/// and gRPC echo baselines (ratios in the same run), open-loop latencies at 50 % and 80 % of each maximum, and durable
/// ingest events/s.
/// </summary>
public static class Throughput
{
    private static readonly (int Connections, int Streams)[] s_sweep = [(1, 16), (1, 64), (2, 32), (4, 32)];

    /// <summary>Runs the scenario against a seeded host and the plain baseline.</summary>
    public static async Task<ThroughputSummary> RunAsync(BenchReport report, BenchSettings settings, ServerProcess server, Uri plain, CancellationToken cancellationToken)
    {
        var duration = TimeSpan.FromSeconds(settings.Seconds);
        var host = server.Address;
        report.Section("Throughput and latency");

        // Which connection × stream shape gets the most lookups through?
        var sweep = new List<(int C, int M, LoadResult Result)>();
        foreach (var (c, m) in s_sweep)
        {
            using var probe = new Workloads(host, c, settings.Users);
            await ClosedLoop.RunAsync("warm-up", probe.GetUserSegmentsAsync, c * m, TimeSpan.FromSeconds(1), cancellationToken);
            sweep.Add((c, m, await ClosedLoop.RunAsync("sweep", probe.GetUserSegmentsAsync, c * m, duration * 0.6, cancellationToken)));
        }

        var best = sweep.MaxBy(s => s.Result.PerSecond);
        report.Line($"Connection × stream sweep (GetUserSegments, closed loop): {string.Join(", ", sweep.Select(s => $"{s.C}×{s.M}: {N(s.Result.PerSecond)}/s"))}; using {best.C}×{best.M}.");

        using var load = new Workloads(host, best.C, settings.Users, plain);
        var callers = best.C * best.M;
        var workloads = load.All();
        var closed = new Dictionary<string, LoadResult>();
        var plainResult = await MeasureClosedAsync("Plain Kestrel HTTP/2 (baseline)", load.PlainAsync);
        var echoRounds = new List<LoadResult>();
        var lookupRounds = new List<LoadResult>();
        for (var round = 0; round < 2; round++)
        {
            echoRounds.Add(await MeasureClosedAsync(workloads[0].Name, workloads[0].Call));
            lookupRounds.Add(await MeasureClosedAsync(workloads[1].Name, workloads[1].Call));
        }

        closed[workloads[0].Name] = echoRounds.MaxBy(r => r.PerSecond)!;
        closed[workloads[1].Name] = lookupRounds.MaxBy(r => r.PerSecond)!;
        foreach (var (name, call, _) in workloads.Skip(2))
        {
            closed[name] = await MeasureClosedAsync(name, call);
        }

        var echoMax = closed[workloads[0].Name].PerSecond;
        var rows = new List<IReadOnlyList<string>> { Row(plainResult, 1, echoMax) };
        rows.AddRange(workloads.Select(w => Row(closed[w.Name], w.ItemsPerCall, echoMax)));
        report.Line($"\nClosed loop, {best.C} connection(s) × {best.M} streams, {settings.Seconds:F0} s per run (best of 2 alternating rounds for echo and GetUserSegments):\n");
        report.Table(["method", "calls/s", "items/s", "vs echo", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "CPU µs/call client + server"], rows);
        var lookupRatio = lookupRounds.Average(r => r.PerSecond) / echoRounds.Average(r => r.PerSecond);
        var echoVsPlain = echoMax / plainResult.PerSecond;
        report.Line($"**Lookup (GetUserSegments) / echo throughput: {lookupRatio:F3}** (mean of rounds; best rounds {closed[workloads[1].Name].PerSecond / echoMax:F3}); gRPC echo / plain Kestrel HTTP/2: {echoVsPlain:F3}.");
        var recommend = closed["Recommend"];
        var recommendRatio = recommend.PerSecond / echoMax;
        report.Line($"**Recommend: {N(recommend.PerSecond)} calls/s** closed loop ({Workloads.RecommendCount} items for a seeded user per call; {recommendRatio:F3} of echo's best round; server CPU {recommend.ServerCpuMicroseconds:F0} µs/call).");

        // Open loop at fixed fractions of each maximum: latency from the intended send time.
        var open = new List<LoadResult>();
        // Each run gets fresh connections and a second's pause, so one run's backlog does not spill into the next.
        foreach (var fraction in new[] { 0.5, 0.8 })
        {
            for (var w = 0; w < workloads.Count; w++)
            {
                using var fresh = new Workloads(host, best.C, settings.Users);
                var (name, call, _) = fresh.All()[w];
                await fresh.EchoAsync(0);
                var rate = Math.Max(10, closed[name].PerSecond * fraction);
                open.Add(await WithCpuAsync(server, () => OpenLoop.RunAsync($"{name} @ {fraction:P0}", call, rate, duration, cancellationToken)));
                await Task.Delay(1_000, cancellationToken);
            }
        }

        report.Line($"\nOpen loop (fixed arrival rate; latency from the intended send time, so stalls are not hidden), {settings.Seconds:F0} s per run:\n");
        report.Table(
            ["method @ load", "target calls/s", "achieved", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "sender lag p99 ms", "CPU µs/call client + server", "cores demanded"],
            open.Select(r => (IReadOnlyList<string>)[r.Name, N(r.TargetRate), N(r.PerSecond), Ms(r, 0.5), Ms(r, 0.9), Ms(r, 0.99), Ms(r, 0.999), $"{r.Latency.Max / 1e6:F2}", N(r.Errors), $"{r.SendLagP99Ms:F2}",
                $"{r.ClientCpuMicroseconds:F0} + {r.ServerCpuMicroseconds:F0}", $"{(r.ClientCpuMicroseconds + r.ServerCpuMicroseconds) * r.TargetRate / 1e6:F2}"]));
        report.Line($"(\"cores demanded\" = CPU per call × target rate, generator and server together; this machine has {Environment.ProcessorCount}. Where it exceeds them, the run measures the shared machine's saturation, not the server alone.)");
        var lookupAt50 = open.First(r => r.Name.StartsWith("GetUserSegments @ 50", StringComparison.Ordinal));
        report.Line($"**GetUserSegments p99 at 50 % load ({N(lookupAt50.TargetRate)}/s): {lookupAt50.Latency.Milliseconds(0.99):F2} ms** (p50 {lookupAt50.Latency.Milliseconds(0.5):F2} ms, p99.9 {lookupAt50.Latency.Milliseconds(0.999):F2} ms).");

        var ingest = await DurableIngestAsync(load, server.CpuTime, settings.IngestBatches, cancellationToken);
        report.Line($"**Durable ingest: {N(ingest.AckedPerSecond)} events/s** ({N(ingest.Events)} events for {N(DurableIngestUsers)} users in batches of 1,000, 4 batches in flight, each acknowledged only after its SQLite commit with synchronous=FULL); server CPU {ingest.AckCpuMicroseconds:F0} µs/event until the last ack.");
        report.Line($"**Durable ingest with derived state caught up: {N(ingest.CaughtUpPerSecond)} events/s** (until no user's refresh (embedding, ML segment, statistics, membership changes) was pending, {ingest.CaughtUpAfter.TotalSeconds:F2} s after the last ack); server CPU {ingest.CaughtUpCpuMicroseconds:F0} µs/event in all.");

        report.Json["throughput"] = new JsonObject
        {
            ["connections"] = best.C,
            ["streams_per_connection"] = best.M,
            ["sweep"] = new JsonArray(sweep.Select(s => (JsonNode)new JsonObject { ["connections"] = s.C, ["streams"] = s.M, ["per_second"] = Math.Round(s.Result.PerSecond) }).ToArray()),
            ["closed_loop"] = new JsonArray(new[] { plainResult }.Concat(workloads.Select(w => closed[w.Name])).Select(r => (JsonNode)r.ToJson()).ToArray()),
            ["open_loop"] = new JsonArray(open.Select(r => (JsonNode)r.ToJson()).ToArray()),
            ["lookup_to_echo_ratio"] = Math.Round(lookupRatio, 4),
            ["echo_to_plain_ratio"] = Math.Round(echoVsPlain, 4),
            ["recommend_per_second"] = Math.Round(recommend.PerSecond),
            ["recommend_to_echo_ratio"] = Math.Round(recommendRatio, 4),
            ["lookup_p99_ms_at_50pct"] = Math.Round(lookupAt50.Latency.Milliseconds(0.99), 3),
            ["durable_ingest_events_per_second"] = Math.Round(ingest.AckedPerSecond),
            ["durable_ingest_caught_up_events_per_second"] = Math.Round(ingest.CaughtUpPerSecond),
            ["durable_ingest_server_cpu_us_per_event"] = Math.Round(ingest.AckCpuMicroseconds, 1),
            ["durable_ingest_caught_up_server_cpu_us_per_event"] = Math.Round(ingest.CaughtUpCpuMicroseconds, 1),
        };
        return new ThroughputSummary(best.C, best.M, closed[workloads[1].Name].PerSecond, lookupAt50.Latency.Milliseconds(0.99), echoMax);

        async Task<LoadResult> MeasureClosedAsync(string name, Func<long, Task> call)
        {
            await ClosedLoop.RunAsync("warm-up", call, callers, TimeSpan.FromSeconds(1), cancellationToken);
            return await WithCpuAsync(server, () => ClosedLoop.RunAsync(name, call, callers, duration, cancellationToken));
        }
    }

    private const int DurableIngestUsers = 20_000;

    /// <summary>
    /// Batches of 1,000 new events, 4 in flight, until <paramref name="batches"/> are acknowledged; then until the server
    /// reports no pending segment refresh (the derived state of every acknowledged event is in). Both rates, and the
    /// server's CPU per event to each point (<paramref name="serverCpu"/>: the server processes' CPU time so far).
    /// </summary>
    internal static async Task<DurableIngestResult> DurableIngestAsync(Workloads load, Func<TimeSpan> serverCpu, int batches, CancellationToken cancellationToken)
    {
        // Spread over 20,000 users, as a shop's traffic is: one user's appends are ordered (one grain turn at a time),
        // so a batch concentrated on a few users waits for their previous commits.
        var requests = Enumerable.Range(0, batches).Select(b => load.IngestRequest(1_000_000 + b, 1_000, freshUsers: DurableIngestUsers)).ToArray();
        var next = -1;
        long accepted = 0;
        var cpu0 = serverCpu();
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches)
            {
                var response = await load.Client.Events.IngestEventsAsync(requests[b], cancellationToken: cancellationToken);
                Interlocked.Add(ref accepted, response.Accepted);
            }
        }));
        var acked = stopwatch.Elapsed;
        var ackCpu = serverCpu() - cpu0;
        // A server without the counter (an older build) reports 0: caught up at the ack.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(5));
        while ((await load.Client.Admin.GetServerStatsAsync(new GetServerStatsRequest(), cancellationToken: deadline.Token)).PendingSegmentRefreshes > 0)
        {
            await Task.Delay(10, deadline.Token);
        }

        var caughtUp = stopwatch.Elapsed;
        var caughtUpCpu = serverCpu() - cpu0;
        var events = Math.Max(1, accepted);
        return new DurableIngestResult(
            accepted, accepted / acked.TotalSeconds, accepted / caughtUp.TotalSeconds, caughtUp - acked, ackCpu.TotalMicroseconds / events, caughtUpCpu.TotalMicroseconds / events);
    }

    /// <summary>Runs <paramref name="run"/> and attributes the CPU both processes used to its successful calls.</summary>
    private static async Task<LoadResult> WithCpuAsync(ServerProcess server, Func<Task<LoadResult>> run)
    {
        var client0 = Process.GetCurrentProcess().TotalProcessorTime;
        var server0 = server.CpuTime();
        var result = await run();
        var calls = Math.Max(1, result.Calls - result.Errors);
        return result with
        {
            ClientCpuMicroseconds = (Process.GetCurrentProcess().TotalProcessorTime - client0).TotalMicroseconds / calls,
            ServerCpuMicroseconds = (server.CpuTime() - server0).TotalMicroseconds / calls,
        };
    }

    private static IReadOnlyList<string> Row(LoadResult r, int items, double echo) =>
        [r.Name, N(r.PerSecond), N(r.PerSecond * items), $"{r.PerSecond / echo:F2}", Ms(r, 0.5), Ms(r, 0.9), Ms(r, 0.99), Ms(r, 0.999), N(r.Errors), $"{r.ClientCpuMicroseconds:F0} + {r.ServerCpuMicroseconds:F0}"];

    private static string Ms(LoadResult r, double q) => r.Latency.Milliseconds(q).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>What the durable ingest run measured: acknowledged, and with every event's derived state caught up.</summary>
internal sealed record DurableIngestResult(
    long Events, double AckedPerSecond, double CaughtUpPerSecond, TimeSpan CaughtUpAfter, double AckCpuMicroseconds, double CaughtUpCpuMicroseconds);
