using System.CommandLine;
using System.Diagnostics;
using Segmentation.Bench;
using Segmentation.Bench.Commands;
using Segmentation.Bench.Scenarios;
using Segmentation.Bench.Target;

// segbench: the measurement and fault harness. `bench/run.sh` runs `segbench report` with its defaults.
var seconds = new Option<double>("--seconds") { Description = "Seconds per measured load run.", DefaultValueFactory = _ => 5 };
var users = new Option<int>("--users") { Description = "Users seeded into the host under test.", DefaultValueFactory = _ => 2_000 };
var soak = new Option<double>("--soak-seconds") { Description = "Soak length (3600 for the hour-long soak).", DefaultValueFactory = _ => 120 };
var kills = new Option<int>("--kills") { Description = "SIGKILLs in the crash audit and in the failover scenario.", DefaultValueFactory = _ => 10 };
var fuzz = new Option<int>("--fuzz-iterations") { Description = "Mutated requests the fuzzer sends.", DefaultValueFactory = _ => 20_000 };
var abuse = new Option<double>("--abuse-seconds") { Description = "Seconds per HTTP/2 abuse scenario.", DefaultValueFactory = _ => 5 };
var output = new Option<string>("--out") { Description = "Folder for report.md and report.json.", DefaultValueFactory = _ => Path.Combine(Paths.Root, "artifacts", "bench") };
var hostDll = new Option<string>("--host-dll") { Description = $"The host under test (default: the one built beside this harness; also ${Paths.HostDllVariable})." };
var memoryUsers = new Option<int>("--memory-users") { Description = "Fresh users the memory scenario streams in.", DefaultValueFactory = _ => 200_000 };
var memoryEvents = new Option<int>("--memory-events") { Description = "Events per fresh user in the memory scenario.", DefaultValueFactory = _ => 5 };
var only = new Option<string[]>("--only") { Description = "Run only these parts: throughput, h2load, soak, grains, gateway, crash, fuzz, abuse, memory; cluster and failover (local cluster on PostgreSQL) and auth (keys on vs off, per-key quotas) run only when named.", AllowMultipleArgumentsPerToken = true };

var report = new Command("report", "Run every scenario and write the report (Markdown + JSON).") { seconds, users, soak, kills, fuzz, abuse, memoryUsers, memoryEvents, output, only, hostDll };
report.SetAction(async (parse, cancellationToken) =>
{
    if (parse.GetValue(hostDll) is { Length: > 0 } chosenHost)
    {
        Paths.UseHostDll(chosenHost);
    }

    var settings = new BenchSettings
    {
        Seconds = parse.GetValue(seconds),
        Users = parse.GetValue(users),
        SoakSeconds = parse.GetValue(soak),
        Kills = parse.GetValue(kills),
        FuzzIterations = parse.GetValue(fuzz),
        AbuseSeconds = parse.GetValue(abuse),
        MemoryUsers = parse.GetValue(memoryUsers),
        MemoryEventsPerUser = parse.GetValue(memoryEvents),
        OutputDirectory = parse.GetValue(output)!,
    };
    var parts = parse.GetValue(only) is { Length: > 0 } chosen ? chosen.ToHashSet(StringComparer.OrdinalIgnoreCase) : null;
    return await Harness.RunAsync(settings, parts, string.Join(' ', ["bench/run.sh", .. args.Skip(1)]), cancellationToken);
});

var port = new Option<int>("--port") { Required = true };
var plain = new Command("plain-server", "The bare Kestrel HTTP/2 baseline endpoint (started by the harness).") { port };
plain.SetAction((parse, cancellationToken) => PlainServer.RunAsync(parse.GetValue(port), cancellationToken));

var noiseAddress = new Option<string>("--address") { Required = true };
var noiseKey = new Option<string>("--key") { Required = true };
var noiseCallers = new Option<int>("--callers") { DefaultValueFactory = _ => 64 };
var noiseUsers = new Option<int>("--users") { DefaultValueFactory = _ => 2_000 };
var noiseSeconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 5 };
var honourPushback = new Option<bool>("--honour-pushback");
var noise = new Command("noise", "A noisy tenant's client in a process of its own (started by the auth scenario).") { noiseAddress, noiseKey, noiseCallers, noiseUsers, noiseSeconds, honourPushback };
noise.SetAction((parse, cancellationToken) => NoiseProcess.RunAsync(
    parse.GetValue(noiseAddress)!, parse.GetValue(noiseKey)!, parse.GetValue(noiseCallers), parse.GetValue(noiseUsers), parse.GetValue(noiseSeconds), parse.GetValue(honourPushback), cancellationToken));

var root = new RootCommand("segbench: load, soak, crash audit, fuzzing and HTTP/2 abuse against the Segmentation host")
{
    report,
    plain,
    noise,
    // In-process benchmarks on a temporary server (they moved here from seg, which is a pure client).
    BenchCommand.Create(),
    RecommendBenchCommand.Create(),
    ReplicaBenchCommand.Create(),
    SessionEvalCommand.Create(),
    ChurnBenchCommand.Create(),
};
return await root.Parse(args).InvokeAsync();

namespace Segmentation.Bench
{
    /// <summary>Runs the scenarios in order against one seeded host (the memory scenario and the crash audit use their own) and saves the report.</summary>
    internal static class Harness
    {
        public static async Task<int> RunAsync(BenchSettings settings, HashSet<string>? parts, string command, CancellationToken cancellationToken)
        {
            bool Wants(string part) => parts is null || parts.Contains(part);
            var report = new BenchReport();
            report.Header(command);
            var verdicts = new List<(string Part, bool Passed)>();
            var total = Stopwatch.StartNew();
            var dataDirectory = Path.Combine(Path.GetTempPath(), "segbench-" + Guid.NewGuid().ToString("N"));
            try
            {
                if (Wants("throughput") || Wants("h2load") || Wants("soak") || Wants("fuzz") || Wants("abuse"))
                {
                    await SharedHostAsync(settings, Wants, report, verdicts, dataDirectory, cancellationToken);
                }
            }
            finally
            {
                TryDelete(dataDirectory);
            }

            if (Wants("grains"))
            {
                // After the host process has stopped: the in-process silo has the machine to itself.
                await InProcessGrains.RunAsync(report, settings, cancellationToken);
            }

            if (Wants("gateway"))
            {
                // Orleans client or silo without user grains for the gateway role: the same lookups, side by side.
                await GatewayLookup.RunAsync(report, settings, cancellationToken);
            }

            if (Wants("memory"))
            {
                verdicts.Add(("memory", await Memory.ReportAsync(report, settings, cancellationToken)));
            }

            if (Wants("crash"))
            {
                verdicts.Add(("crash audit", await CrashAudit.ReportAsync(report, settings, cancellationToken)));
            }

            // The cluster parts start PostgreSQL and several host processes (minutes on 2 cores): only when named.
            if (parts?.Contains("cluster") == true)
            {
                await ClusterThroughput.RunAsync(report, settings, cancellationToken);
            }

            if (parts?.Contains("auth") == true)
            {
                // Authentication on vs off, and a noisy key's quota against another key's p99: only when named.
                await AccessLoad.RunAsync(report, settings, cancellationToken);
            }

            if (parts?.Contains("failover") == true)
            {
                verdicts.Add(("failover", await Failover.ReportAsync(report, settings, cancellationToken)));
            }

            report.Section("Verdict");
            report.Line((verdicts.Count == 0 ? "No part with a verdict ran" : string.Join("; ", verdicts.Select(v => $"{v.Part}: {(v.Passed ? "pass" : "FAIL")}"))) + $". Total time {total.Elapsed.TotalMinutes:F1} min.");
            report.Json["verdicts"] = new System.Text.Json.Nodes.JsonObject(verdicts.Select(v => KeyValuePair.Create(v.Part, (System.Text.Json.Nodes.JsonNode?)v.Passed)));
            await report.SaveAsync(settings.OutputDirectory);
            Console.WriteLine($"\nReport: {Path.Combine(settings.OutputDirectory, "report.md")} (and report.json)");
            return verdicts.All(v => v.Passed) ? 0 : 1;
        }

        // The scenarios that share one seeded host.
        private static async Task SharedHostAsync(BenchSettings settings, Func<string, bool> wants, BenchReport report, List<(string Part, bool Passed)> verdicts, string dataDirectory, CancellationToken cancellationToken)
        {
            using var host = ServerProcess.StartHost(dataDirectory, "--Segmentation:SeedWhenEmpty=true", $"--Segmentation:SeedUsers={settings.Users}", "--Segmentation:Clock=System");
            using var plain = ServerProcess.StartPlain();
            await host.WaitServingAsync(TimeSpan.FromMinutes(3));
            await plain.WaitReadyAsync(grpcHealth: false, TimeSpan.FromSeconds(60));
            report.Line($"- host under test: {Paths.HostDll}, a separate process (pid {host.Id}), SQLite synchronous=FULL, {settings.Users:N0} seeded users; load generator in this process; both share this machine's cores.");
            if (host.Sample() is { } seeded)
            {
                // Read once the host reports serving: the shop is seeded (and, where the build does so, its encoder
                // trained and users clustered), before any load.
                report.Line($"- **host RSS after seeding the shop: {seeded.ResidentBytes / (1024.0 * 1024.0):F0} MiB** (VmRSS of pid {host.Id}; {seeded.Threads} threads).");
                report.Json["host_after_seeding"] = new System.Text.Json.Nodes.JsonObject
                {
                    ["rss_bytes"] = seeded.ResidentBytes,
                    ["threads"] = seeded.Threads,
                    ["users"] = settings.Users,
                };
            }

            ThroughputSummary? throughput = null;
            if (wants("throughput") || wants("h2load") || wants("soak"))
            {
                throughput = await Throughput.RunAsync(report, settings, host, plain.Address, cancellationToken);
            }

            if (wants("h2load") && throughput is not null)
            {
                await H2LoadCrossCheck.RunAsync(report, settings, host.Address, throughput, cancellationToken);
            }

            if (wants("soak") && throughput is not null)
            {
                verdicts.Add(("soak", await Soak.RunAsync(report, settings, host, throughput, cancellationToken)));
            }

            if (wants("fuzz"))
            {
                verdicts.Add(("fuzz", await Fuzzer.ReportAsync(report, settings, host, cancellationToken)));
            }

            if (wants("abuse"))
            {
                verdicts.Add(("abuse", await Abuse.ReportAsync(report, settings, host, cancellationToken)));
            }

            if (host.HasExited)
            {
                verdicts.Add(("host alive", false));
                report.Line($"The host process EXITED (code {host.ExitCode}): {host.StandardError}");
            }
        }

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
}
