using System.CommandLine;
using System.Diagnostics;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.V1;
using Segmentation.Host.Seeding;
using Spectre.Console;

namespace Segmentation.Bench.Commands;

/// <summary>
/// <c>segbench bench-recommend</c>: a synthetic shop with a large catalogue (100,000 items by default, every one of them
/// viewed at least once) in a server in this process, the item model (EASEᴿ) trained and served as <c>./run.sh</c> does
/// (<c>--item-model false</c>: the online sources alone); then, in alternating rounds, <c>Recommend</c> called in-process
/// (no gRPC), <c>Recommend</c> over gRPC and <c>GetUserSegments</c> over gRPC on the same server. Callers cycle through
/// the users, so a user is asked again after every other user was. Prints calls/s and p50/p99 of each, the gRPC
/// throughput ratio Recommend / GetUserSegments, the process CPU time per call of each method over its rounds (which,
/// unlike calls/s, does not follow the neighbours on a shared machine), each method's response size, the load average,
/// each phase's start on the monotonic clock (to cut one <c>perf record -k mono</c> profile per method), and one
/// <c>RESULT</c> line for scripts
/// (<c>bench/recommend-before-after.sh</c>). <c>--set Key=Value</c> passes server settings
/// (<c>--set Recommendations:CacheMaxAge=00:00:00</c>). Numbers, not thresholds.
/// </summary>
internal static class RecommendBenchCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per round and method.", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of the three methods.", DefaultValueFactory = _ => 3 };
        var concurrency = new Option<int>("--concurrency") { Description = "Calls in flight.", DefaultValueFactory = _ => 32 };
        var users = new Option<int>("--users") { Description = "Seeded shop users.", DefaultValueFactory = _ => 10_000 };
        var items = new Option<int>("--items") { Description = "Items in the catalogue.", DefaultValueFactory = _ => 100_000 };
        var count = new Option<int>("--count") { Description = "Items per recommendation.", DefaultValueFactory = _ => 10 };
        var itemModel = new Option<bool>("--item-model") { Description = "Train and serve the item model (EASE^R) before measuring.", DefaultValueFactory = _ => true };
        var settings = new Option<string[]>("--set") { Description = "Server settings Key=Value (under Segmentation:), e.g. Recommendations:CacheMaxAge=00:00:00.", AllowMultipleArgumentsPerToken = true };
        var warmup = new Option<double>("--warmup") { Description = "Warm-up seconds per method before measuring (longer takes JIT tiering out of the figures).", DefaultValueFactory = _ => 3 };
        var answers = new Option<string?>("--answers") { Description = "Write the in-process answers for the first 300 users (one JSON response a line) to this file before measuring, to compare two builds." };
        var label = new Option<string>("--label") { Description = "A name for the RESULT line.", DefaultValueFactory = _ => "this build" };
        var command = new Command("bench-recommend", "Benchmark Recommend (in-process and over gRPC) against GetUserSegments on a large catalogue.")
        {
            seconds, rounds, concurrency, users, items, count, itemModel, settings, warmup, answers, label,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await RunAsync(
                TimeSpan.FromSeconds(parse.GetValue(seconds)),
                parse.GetValue(rounds),
                parse.GetValue(concurrency),
                parse.GetValue(users),
                parse.GetValue(items),
                parse.GetValue(count),
                parse.GetValue(itemModel),
                parse.GetValue(settings) ?? [],
                TimeSpan.FromSeconds(parse.GetValue(warmup)),
                parse.GetValue(answers),
                parse.GetValue(label)!,
                cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(
        TimeSpan duration, int rounds, int concurrency, int userCount, int itemCount, int count, bool itemModel, string[] settings, TimeSpan warmup, string? answers, string label, CancellationToken cancellationToken)
    {
        string[] args = ["--Segmentation:SqliteSynchronous=NORMAL", .. settings.Select(s => "--Segmentation:" + s)];
        await using var temporary = await TemporaryServer.StartAsync("seg-bench-rec-", args, cancellationToken);
        var server = temporary.Server;
        var started = TimeProvider.System.GetTimestamp();
        var seeded = await ShopSeeder.SeedIfEmptyAsync(server, userCount, NullLogger.Instance, cancellationToken, itemCount, visitEveryItem: true);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        Console.WriteLine(
            $"seeded {seeded!.Events:N0} events ({userCount:N0} shop users + {itemCount:N0} one-off visitors) in {TimeProvider.System.GetElapsedTime(started).TotalSeconds:F0} s; " +
            $"catalogue {server.Recommendations.KnownItems:N0} items; {count} items per call, concurrency {concurrency}, {rounds} rounds x {duration.TotalSeconds:F0} s; " +
            $"settings: {(settings.Length == 0 ? "defaults" : string.Join(' ', settings))}");
        if (itemModel)
        {
            // As ./run.sh serves it: trained from the log, stored, then blended with the online sources. Called directly,
            // not through its grain, whose call would time out (2 minutes) on a busy 2-core machine.
            var training = TimeProvider.System.GetTimestamp();
            var manifest = await server.Services.GetRequiredService<Segmentation.Host.Recommendations.ItemModels>().TrainAsync(cancellationToken);
            Console.WriteLine($"item model v{manifest?.Version ?? 0} ({manifest?.Items ?? 0:N0} items) trained and served in {TimeProvider.System.GetElapsedTime(training).TotalSeconds:F0} s");
        }

        var loadBefore = LoadAverage();

        using var channel = GrpcChannel.ForAddress(server.Address);
        var recommendations = new RecommendationService.RecommendationServiceClient(channel);
        var lookups = new SegmentService.SegmentServiceClient(channel);
        RecommendRequest Request(int i) => new() { UserId = SyntheticShop.UserId(i % userCount), Count = count };
        Func<int, Task> inProcess = i => server.Recommendations.RecommendAsync(Request(i), CancellationToken.None);
        Func<int, Task> overGrpc = i => recommendations.RecommendAsync(Request(i)).ResponseAsync;
        Func<int, Task> lookup = i => lookups.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(i % userCount) }).ResponseAsync;

        if (answers is not null)
        {
            await using var writer = File.CreateText(answers);
            for (var i = 0; i < Math.Min(300, userCount); i++)
            {
                await writer.WriteLineAsync((await server.Recommendations.RecommendAsync(Request(i), cancellationToken)).ToString());
            }
        }

        // Every user's grain active and every path compiled before measuring.
        foreach (var warm in new[] { lookup, inProcess, overGrpc })
        {
            await LoadRun.RunAsync(warm, concurrency, warmup, cancellationToken);
        }

        var single = await LoadRun.RunAsync(inProcess, 1, duration, cancellationToken);

        // Cost per in-process call, one caller: bytes allocated by the whole process (the grain call and the blend run on
        // other threads than this one) and the process's CPU time, over a fixed number of calls through the users.
        const int costCalls = 2_000;
        var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < costCalls; i++)
        {
            await inProcess(i);
        }

        var bytesPerCall = (GC.GetTotalAllocatedBytes(precise: true) - allocated0) / (double)costCalls;
        var cpuPerCall = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds / costCalls;

        // Which types those bytes are, sampled over as many calls again (beside the counting loop: listening costs a little).
        var sampled = new List<(string Type, long Bytes)>();
        using (var allocations = new Measurement.AllocationSampler())
        {
            for (var i = 0; i < costCalls; i++)
            {
                await inProcess(i);
            }

            sampled.AddRange(allocations.Top(12));
        }
        // What each method puts on the wire: the mean protobuf size of the answer to the first 100 users.
        const int sizedUsers = 100;
        long recommendBytes = 0, segmentBytes = 0;
        for (var i = 0; i < sizedUsers; i++)
        {
            recommendBytes += (await recommendations.RecommendAsync(Request(i), cancellationToken: cancellationToken)).CalculateSize();
            segmentBytes += (await lookups.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(i % userCount) }, cancellationToken: cancellationToken)).CalculateSize();
        }

        var runs = new Dictionary<string, List<LoadRun>> { ["Recommend in-process"] = [], ["Recommend gRPC"] = [], ["GetUserSegments gRPC"] = [] };
        var cpu = runs.Keys.ToDictionary(name => name, _ => new Measurement.CpuPerCall());
        // Each phase's start on the monotonic clock (Stopwatch on Linux), the clock `perf record -k mono` stamps samples
        // with, so one profile of the whole measurement can be cut per method (`perf report --time START,END`).
        Console.WriteLine($"pid {Environment.ProcessId}: measured rounds begin");
        for (var r = 0; r < rounds; r++)
        {
            foreach (var (name, call) in new[] { ("Recommend in-process", inProcess), ("Recommend gRPC", overGrpc), ("GetUserSegments gRPC", lookup) })
            {
                Console.WriteLine(FormattableString.Invariant($"round {r + 1} {name}: begins at monotonic {Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:F3} s"));
                runs[name].Add(await cpu[name].MeasureAsync(() => LoadRun.RunAsync(call, concurrency, duration, cancellationToken), run => run.Calls));
            }
        }

        var table = new Table().AddColumns("method", "calls/s (best round)", "p50 ms", "p99 ms", "rounds calls/s");
        table.AddRow("Recommend in-process, 1 caller", $"{single.PerSecond:N0}", $"{single.P50:F3}", $"{single.P99:F3}", "");
        foreach (var (name, list) in runs)
        {
            var best = list.MaxBy(x => x.PerSecond)!;
            table.AddRow(name, $"{best.PerSecond:N0}", $"{best.P50:F2}", $"{best.P99:F2}", string.Join(" ", list.Select(x => $"{x.PerSecond:N0}")));
        }

        AnsiConsole.Write(table);
        Console.WriteLine(FormattableString.Invariant($"Recommend in-process, 1 caller, {costCalls:N0} calls: {bytesPerCall:F0} bytes and {cpuPerCall:F0} CPU µs (whole process) per call"));
        Console.WriteLine("  sampled allocations per call by type: " + string.Join("; ", sampled.Select(t => FormattableString.Invariant($"{t.Type} {t.Bytes / costCalls:N0} B"))));
        // Calls/s on a shared machine move with what the neighbours do during each 4-second phase (rounds of one method
        // differ by 2x under load 10); the CPU time per call moves much less (Measurement.CpuPerCall).
        double CpuPerCall(string name) => cpu[name].Micros;
        Console.WriteLine(FormattableString.Invariant(
            $"process CPU per call over the measured rounds (client included): Recommend in-process {CpuPerCall("Recommend in-process"):F0} µs, ") +
            FormattableString.Invariant(
            $"Recommend gRPC {CpuPerCall("Recommend gRPC"):F0} µs, GetUserSegments gRPC {CpuPerCall("GetUserSegments gRPC"):F0} µs; ") +
            FormattableString.Invariant(
            $"CPU ratio GetUserSegments / Recommend over gRPC {CpuPerCall("GetUserSegments gRPC") / CpuPerCall("Recommend gRPC"):F3}"));
        Console.WriteLine(FormattableString.Invariant(
            $"mean response size, first {sizedUsers} users: Recommend {recommendBytes / (double)sizedUsers:F0} bytes, GetUserSegments {segmentBytes / (double)sizedUsers:F0} bytes (protobuf, before HTTP/2 framing)"));
        var recommend = runs["Recommend gRPC"];
        var segments = runs["GetUserSegments gRPC"];
        Console.WriteLine(
            $"Recommend / GetUserSegments throughput over gRPC: {recommend.Max(x => x.PerSecond) / segments.Max(x => x.PerSecond):F3} (best rounds); " +
            $"{recommend.Average(x => x.PerSecond) / segments.Average(x => x.PerSecond):F3} (mean of rounds)");
        var loadAfter = LoadAverage();
        Console.WriteLine($"load average (1, 5, 15 min): {loadBefore} before measuring, {loadAfter} after");
        var bestRecommend = recommend.MaxBy(x => x.PerSecond)!;
        var bestSegments = segments.MaxBy(x => x.PerSecond)!;
        Console.WriteLine(FormattableString.Invariant(
            $"RESULT {label} | Recommend gRPC {bestRecommend.PerSecond:F0}/s p99 {bestRecommend.P99:F2} ms (mean of rounds {recommend.Average(x => x.PerSecond):F0}/s, p99 max {recommend.Max(x => x.P99):F2} ms) | ") +
            FormattableString.Invariant(
            $"GetUserSegments gRPC {bestSegments.PerSecond:F0}/s p99 {bestSegments.P99:F2} ms (mean {segments.Average(x => x.PerSecond):F0}/s, p99 max {segments.Max(x => x.P99):F2} ms) | ") +
            FormattableString.Invariant(
            $"ratio best {bestRecommend.PerSecond / bestSegments.PerSecond:F3} mean {recommend.Average(x => x.PerSecond) / segments.Average(x => x.PerSecond):F3} | ") +
            FormattableString.Invariant(
            $"in-process {bytesPerCall:F0} B/call {cpuPerCall:F0} CPU us/call | ") +
            FormattableString.Invariant(
            $"CPU us/call rounds: in-process {CpuPerCall("Recommend in-process"):F0} Recommend gRPC {CpuPerCall("Recommend gRPC"):F0} GetUserSegments gRPC {CpuPerCall("GetUserSegments gRPC"):F0} | load {loadBefore} -> {loadAfter}"));
    }

    // The machine's load average from /proc (other work on a shared machine moves every number; ratios less).
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
