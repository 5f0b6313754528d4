using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Bench.Measurement;
using Segmentation.Bench.Target;
using Segmentation.Grains;
using Segmentation.Host;
using Segmentation.Host.Seeding;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// In-process grain calls/s: a silo hosted in this process (<see cref="SegmentationServer.StartAsync"/> on a temporary
/// store, seeded with the synthetic shop), and <see cref="IUserGrain"/> calls from a closed loop of callers in the same
/// process, with no gRPC in between. Reports calls/s and CPU µs per call (caller and grain together: one process).
/// </summary>
/// <remarks>
/// The silo is the one this harness was built with, whatever <c>--host-dll</c> says: another build's grains can only be
/// measured by that build's own tools (before the move to Orleans, <c>seg bench</c> printed "in-process grain calls"
/// for <c>GetLifecycle</c> on its own grain runtime — the same call, user mix and callers as the first row here).
/// </remarks>
public static class InProcessGrains
{
    private const int Callers = 32;

    /// <summary>Starts the in-process silo, seeds it, measures, stops it.</summary>
    public static async Task RunAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("In-process grain calls");
        var dataDirectory = Path.Combine(Path.GetTempPath(), "segbench-grains-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var server = await SegmentationServer.StartAsync(
                [
                    $"--Segmentation:DataDirectory={dataDirectory}",
                    "--Segmentation:Listen=127.0.0.1:0",
                    "--Segmentation:Clock=System",
                    "--Logging:LogLevel:Default=Warning",
                ],
                cancellationToken);
            await ShopSeeder.SeedIfEmptyAsync(server, settings.Users, NullLogger.Instance, cancellationToken);
            var grains = server.Grains;
            var now = server.DomainClock.GetUtcNow();
            var users = settings.Users;
            IUserGrain User(long i) => grains.GetGrain<IUserGrain>(TenantKeys.User(SyntheticShop.UserId((int)(i % users))));

            var calls = new (string Name, Func<long, Task> Call)[]
            {
                ("GetLifecycle", i => User(i).GetLifecycleAsync(now)),
                ("GetSegments", i => User(i).GetSegmentsAsync(now, includeRules: true)),
            };
            var duration = TimeSpan.FromSeconds(settings.Seconds);
            var rows = new List<(string Name, LoadResult Result, double CpuMicroseconds)>();
            foreach (var (name, call) in calls)
            {
                // Every user's grain is active after the warm-up: the run measures calls, not activations.
                await ClosedLoop.RunAsync("warm-up", call, Callers, TimeSpan.FromSeconds(Math.Max(1, settings.Seconds / 2)), cancellationToken);
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                var result = await ClosedLoop.RunAsync(name, call, Callers, duration, cancellationToken);
                var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds / Math.Max(1, result.Calls - result.Errors);
                rows.Add((name, result, cpu));
            }

            var build = Paths.UsesOtherHost ? "this harness's own build, NOT the --host-dll host" : "the build under test";
            report.Line($"A silo in this process ({build}), {N(users)} seeded users, {Callers} callers in the same process, {settings.Seconds:F0} s per run; IUserGrain calls through Orleans' in-process path (no gRPC, no network):\n");
            report.Table(
                ["grain call", "calls/s", "p50 ms", "p99 ms", "errors", "CPU µs/call (caller + grain)"],
                rows.Select(r => (IReadOnlyList<string>)[r.Name, N(r.Result.PerSecond), Ms(r.Result, 0.5), Ms(r.Result, 0.99), N(r.Result.Errors), $"{r.CpuMicroseconds:F1}"]));
            report.Line($"**In-process grain calls: {N(rows[0].Result.PerSecond)} calls/s** (GetLifecycle, {rows[0].CpuMicroseconds:F1} µs CPU per call).");
            report.Json["grains"] = new JsonObject
            {
                ["callers"] = Callers,
                ["users"] = users,
                ["runs"] = new JsonArray(rows.Select(r =>
                {
                    var json = r.Result.ToJson();
                    json["cpu_us_per_call"] = Math.Round(r.CpuMicroseconds, 2);
                    return (JsonNode)json;
                }).ToArray()),
                ["grain_calls_per_second"] = Math.Round(rows[0].Result.PerSecond),
            };
        }
        finally
        {
            try
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder.
            }
        }
    }

    private static string Ms(LoadResult r, double q) => r.Latency.Milliseconds(q).ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
}
