using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Grpc.Core;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using Segmentation.Storage.Sqlite;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>The outcome of a crash audit.</summary>
public sealed record CrashAuditResult(int Kills, long Acknowledged, long Lost, long Indeterminate, long InLog, int ProfilesChecked, int ProfileMismatches, string? FirstMismatch)
{
    /// <summary>Nothing acknowledged was lost and every served profile equals a fold of the log.</summary>
    public bool Passed => Acknowledged > 0 && Lost == 0 && ProfileMismatches == 0;
}

/// <summary>
/// Crash audit: while writers ingest at full speed, the host is SIGKILLed at random moments and restarted on the same
/// data, <c>kills</c> times. Then every acknowledged <c>event_id</c> must be in the log (calls that failed or timed out
/// are indeterminate, not lost), and every profile the restarted host serves must equal a from-scratch fold of the log.
/// </summary>
public static class CrashAudit
{
    private const int Writers = 4;
    private const int Users = 200;
    private const int BatchSize = 100;

    /// <summary>Runs the audit in its own data folder.</summary>
    public static async Task<CrashAuditResult> RunAsync(int kills, int seed, CancellationToken cancellationToken)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "segbench-crash-" + Guid.NewGuid().ToString("N"));
        var random = new Random(seed);
        var acknowledged = new ConcurrentDictionary<string, bool>();
        long indeterminate = 0;
        long nextEvent = 0;
        var now = TimeProvider.System.GetUtcNow();
        try
        {
            for (var cycle = 0; cycle < kills; cycle++)
            {
                using var host = ServerProcess.StartHost(dataDirectory);
                await host.WaitReadyAsync(grpcHealth: true, TimeSpan.FromSeconds(60));
                using var client = new ServiceClients(host.Address);
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
                {
                    var local = new Random((seed * 31) + (cycle * 100) + w);
                    while (!stop.IsCancellationRequested)
                    {
                        var request = new IngestEventsRequest();
                        for (var i = 0; i < BatchSize; i++)
                        {
                            var n = Interlocked.Increment(ref nextEvent);
                            request.Events.Add(AuditEvents.Random(local, "crash", n, $"crash-u{local.Next(Users)}", now));
                        }

                        try
                        {
                            var response = await client.Events.IngestEventsAsync(request, deadline: DateTime.UtcNow.AddSeconds(20));
                            foreach (var result in response.Results)
                            {
                                if (result.Outcome != IngestOutcome.Rejected)
                                {
                                    acknowledged[result.EventId] = true;
                                }
                            }
                        }
                        catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException or OperationCanceledException)
                        {
                            Interlocked.Add(ref indeterminate, request.Events.Count);
                            return;
                        }
                    }
                })).ToArray();

                await Task.Delay(random.Next(300, 1_500), cancellationToken);
                host.Kill();
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }

            using var final = ServerProcess.StartHost(dataDirectory);
            await final.WaitReadyAsync(grpcHealth: true, TimeSpan.FromSeconds(60));
            using var finalClient = new ServiceClients(final.Address);
            var request = new BatchGetProfilesRequest();
            request.UserIds.Add(Enumerable.Range(0, Users).Select(u => $"crash-u{u}"));
            var served = await finalClient.Profiles.BatchGetProfilesAsync(request, cancellationToken: cancellationToken);
            final.Kill();

            await using var log = new SqliteEventLog(Path.Combine(dataDirectory, "events.db"));
            var users = Enumerable.Range(0, Users).Select(u => $"crash-u{u}").ToHashSet(StringComparer.Ordinal);
            var audit = await LogAudit.RunAsync(log, acknowledged.Keys.ToList(), users, served.Profiles, cancellationToken);
            return new CrashAuditResult(kills, acknowledged.Count, audit.Lost, indeterminate, audit.InLog, audit.ProfilesChecked, audit.ProfileMismatches, audit.FirstMismatch);
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

    /// <summary>Runs the audit and writes its section.</summary>
    public static async Task<bool> ReportAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("Crash audit (SIGKILL during ingest)");
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await RunAsync(settings.Kills, settings.Seed, cancellationToken);
        report.Line($"**{result.Kills} kills: acknowledged {N(result.Acknowledged)}, lost {N(result.Lost)}, indeterminate {N(result.Indeterminate)}** "
            + $"(events in the log {N(result.InLog)}); profiles served after restart checked against a fold of the log: {result.ProfilesChecked}, mismatches {result.ProfileMismatches}"
            + (result.FirstMismatch is null ? "" : $" (first: {result.FirstMismatch})") + $"; {started.Elapsed.TotalSeconds:F0} s. {(result.Passed ? "PASS" : "FAIL")}");
        report.Json["crash_audit"] = new JsonObject
        {
            ["kills"] = result.Kills,
            ["acknowledged"] = result.Acknowledged,
            ["lost"] = result.Lost,
            ["indeterminate"] = result.Indeterminate,
            ["in_log"] = result.InLog,
            ["profiles_checked"] = result.ProfilesChecked,
            ["profile_mismatches"] = result.ProfileMismatches,
            ["passed"] = result.Passed,
        };
        return result.Passed;
    }
}
