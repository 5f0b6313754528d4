using System.Diagnostics;
using System.Text.Json.Nodes;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using Segmentation.Storage.Postgres;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>The failover scenario's knobs (the bench's defaults are issue 12's; the test runs a smaller one).</summary>
public sealed record FailoverOptions
{
    /// <summary>Silo processes (silo 1 is the inference silo and is never SIGKILLed).</summary>
    public int Silos { get; init; } = 3;

    /// <summary>SIGKILLs, each followed by a restart of the killed silo.</summary>
    public int Kills { get; init; } = 10;

    /// <summary>Concurrent writers through the gateway.</summary>
    public int Writers { get; init; } = 4;

    /// <summary>Concurrent lookup callers through the gateway.</summary>
    public int Callers { get; init; } = 8;

    /// <summary>Users the load writes to and looks up.</summary>
    public int Users { get; init; } = 200;

    /// <summary>Users silo 1 seeds into the shop (kept small: seeding is not what this measures).</summary>
    public int SeedUsers { get; init; } = 200;

    /// <summary>After the kills, a SIGTERM of one silo and a rolling restart of all, under the same load.</summary>
    public bool Graceful { get; init; } = true;

    /// <summary>Seed for the kill moments and the events.</summary>
    public int Seed { get; init; } = 20_261_206;
}

/// <summary>One SIGKILL: how long until the killed silo's users answered again, and what failed meanwhile.</summary>
public sealed record KillRecovery(int Silo, TimeSpan Recovery, bool Recovered, int UsersThere, int SweepFailures, long FailedLookups, long FailedIngests, TimeSpan Restart);

/// <summary>A graceful phase (SIGTERM of one silo, or a rolling restart): the calls in it and those that failed.</summary>
public sealed record GracefulPhase(string Name, long Lookups, long FailedLookups, long Batches, long FailedIngests, TimeSpan Duration);

/// <summary>What the failover scenario found.</summary>
public sealed record FailoverResult(
    IReadOnlyList<KillRecovery> Kills, IReadOnlyList<GracefulPhase> Graceful, long Acknowledged, long Indeterminate, LogAuditResult Audit, LoadCounts Total, string? FirstError)
{
    /// <summary>The recoveries in seconds, sorted.</summary>
    public double[] RecoverySeconds => [.. Kills.Select(k => k.Recovery.TotalSeconds).Order()];

    /// <summary>The median recovery (seconds); 0 without kills.</summary>
    public double MedianRecovery => RecoverySeconds is { Length: > 0 } r ? (r[(r.Length - 1) / 2] + r[r.Length / 2]) / 2 : 0;

    /// <summary>The slowest recovery (seconds).</summary>
    public double MaxRecovery => RecoverySeconds is { Length: > 0 } r ? r[^1] : 0;

    /// <summary>Nothing acknowledged lost, every profile equal to a fold of the log, every killed silo's users answering again.</summary>
    public bool Passed => Acknowledged > 0 && Audit.Lost == 0 && Audit.ProfileMismatches == 0 && Kills.All(k => k.Recovered);
}

/// <summary>
/// Failover under load (issue 12): a local cluster (<see cref="LocalCluster"/>: PostgreSQL, N silos, a gateway), writers
/// and lookup callers through the gateway, and one non-inference silo SIGKILLed <c>kills</c> times (silos 2..N in
/// turn; silo 1 serves the encoder, and killing it measures the embedder's recovery, not the user grains'). The load's
/// users are spread over the silos by Orleans' placement, and silos serve no public API (only the gateway does), so
/// the scenario does not pick users on the victim: right after the SIGKILL it looks every load user up through the
/// gateway (5 s deadline per attempt, again for those that failed) until each has answered; the recovery time is
/// from the SIGKILL until the last one answered. The gateway retries calls lost to a dead silo (SiloLossRetryFilter),
/// so a user that lived there shows as a slow answer, or as a failed first attempt when the retries outlast the
/// deadline. Then the killed silo is restarted. Optionally a SIGTERM of one silo and a rolling restart of all under the same load, counting failed
/// calls. Finally the load stops and <see cref="LogAudit"/> checks the PostgreSQL log: every acknowledged event is
/// there, every touched user's profile equals a fold of it.
/// </summary>
public static class Failover
{
    private static readonly TimeSpan s_recoveryLimit = TimeSpan.FromSeconds(60);

    /// <summary>Runs the scenario on a cluster of its own; <paramref name="log"/> hears progress.</summary>
    public static async Task<FailoverResult> RunAsync(FailoverOptions options, Action<string> log, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        await using var cluster = await LocalCluster.StartAsync(options.Silos, options.SeedUsers, [], cancellationToken);
        log($"cluster of {options.Silos} silos + gateway serving after {started.Elapsed.TotalSeconds:F1} s");
        await using var load = new ClusterLoad(cluster.Gateway, options.Users, "fo");
        await load.StartAsync(options.Writers, options.Callers, options.Seed, cancellationToken);
        var random = new Random(options.Seed);
        var kills = new List<KillRecovery>();
        for (var k = 0; k < options.Kills; k++)
        {
            var victim = 2 + (k % Math.Max(1, options.Silos - 1));
            if (options.Silos < 2)
            {
                throw new InvalidOperationException("Failover needs at least 2 silos (silo 1 is the inference silo and is not killed).");
            }

            await Task.Delay(random.Next(300, 1_500), cancellationToken);
            var before = load.Snapshot();
            var clock = Stopwatch.StartNew();
            cluster.Kill(victim);
            var (recovered, recovery, usersThere, sweepFailures) = await LookUpUntilAnsweredAsync(load, cluster.Gateway, clock, cancellationToken);
            var window = load.Snapshot() - before;
            var restart = Stopwatch.StartNew();
            await cluster.RestartAsync(victim, cancellationToken);
            var kill = new KillRecovery(victim, recovery, recovered, usersThere, sweepFailures, window.FailedLookups, window.FailedBatches, restart.Elapsed);
            kills.Add(kill);
            log($"kill {k + 1}: silo {victim} SIGKILLed; its users answered again after {recovery.TotalSeconds:F2} s{(recovered ? "" : " (NOT RECOVERED)")}; "
                + $"{usersThere} users' first lookup failed; failed in the window: {window.FailedLookups} load lookups, {window.FailedBatches} ingest attempts; restarted in {restart.Elapsed.TotalSeconds:F1} s");
            await Task.Delay(1_000, cancellationToken);
        }

        var graceful = new List<GracefulPhase>();
        if (options.Graceful)
        {
            graceful.Add(await PhaseAsync("SIGTERM of silo 2, then its restart", load, async () =>
            {
                await cluster.TerminateAsync(2, TimeSpan.FromSeconds(60));
                await cluster.RestartAsync(2, cancellationToken);
            }));
            log(Describe(graceful[^1]));
            graceful.Add(await PhaseAsync($"rolling restart of all {options.Silos} silos (SIGTERM, restart, next)", load, async () =>
            {
                for (var silo = 1; silo <= options.Silos; silo++)
                {
                    await cluster.TerminateAsync(silo, TimeSpan.FromSeconds(60));
                    await cluster.RestartAsync(silo, cancellationToken);
                }
            }));
            log(Describe(graceful[^1]));
        }

        await load.StopAsync();
        var total = load.Snapshot();

        // The audit: the profiles the cluster serves now, against the PostgreSQL log.
        var users = load.Users.ToHashSet(StringComparer.Ordinal);
        var served = new List<Profile>();
        foreach (var chunk in users.Chunk(1_000))
        {
            var request = new BatchGetProfilesRequest();
            request.UserIds.Add(chunk);
            served.AddRange((await load.Client.Profiles.BatchGetProfilesAsync(request, deadline: DateTime.UtcNow.AddMinutes(2), cancellationToken: cancellationToken)).Profiles);
        }

        await using var dataSource = cluster.OpenDataSource();
        await using var eventLog = await PostgresEventLog.OpenAsync(dataSource, cancellationToken: cancellationToken);
        var audit = await LogAudit.RunAsync(eventLog, load.Acknowledged.Keys.ToList(), users, served, cancellationToken);
        return new FailoverResult(kills, graceful, load.Acknowledged.Count, load.Unacknowledged, audit, total, load.FirstError);
    }

    /// <summary>Runs the scenario with issue 12's defaults and writes its section.</summary>
    public static async Task<bool> ReportAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("Failover under load (local cluster on PostgreSQL)");
        var options = new FailoverOptions { Kills = settings.Kills, Seed = settings.Seed };
        var load0 = LoadAverage();
        var started = Stopwatch.StartNew();
        var result = await RunAsync(options, line => Console.WriteLine("failover: " + line), cancellationToken);
        report.Line($"- {options.Silos} silos + 1 gateway + PostgreSQL as child processes (LocalCluster; the settings of scripts/local-cluster.sh), {options.Writers} writers "
            + $"(batches of 50) and {options.Callers} lookup callers (GetUserSegments, 5 s deadline) through the gateway over {options.Users} users; the victim is a non-inference silo "
            + $"(2..{options.Silos} in turn); load average {load0} before, {LoadAverage()} after; {started.Elapsed.TotalSeconds:F0} s.");
        report.Line($"- recovery = SIGKILL until every one of the {options.Users} load users has answered a lookup through the gateway (a sweep of lookups with a 5 s deadline on connections of its own, repeated for those that failed); \"first lookup failed\" = users whose first attempt after the kill failed (they lived on the killed silo, and the gateway's retries outlasted the 5 s deadline).\n");
        report.Table(
            ["kill", "silo", "recovery s", "users whose first lookup failed", "failed sweep lookups", "failed load lookups in window", "failed ingest attempts in window", "restart s"],
            result.Kills.Select((k, i) => (IReadOnlyList<string>)[(i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), $"{k.Silo}",
                k.Recovered ? $"{k.Recovery.TotalSeconds:F2}" : $"> {k.Recovery.TotalSeconds:F0} (not recovered)", N(k.UsersThere), N(k.SweepFailures), N(k.FailedLookups), N(k.FailedIngests), $"{k.Restart.TotalSeconds:F1}"]));
        report.Line($"**Recovery after SIGKILL: median {result.MedianRecovery:F2} s, max {result.MaxRecovery:F2} s** over {result.Kills.Count} kills (target 10 s, aim 2 s); "
            + $"distribution (sorted): {string.Join(", ", result.RecoverySeconds.Select(s => s.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}.");
        foreach (var phase in result.Graceful)
        {
            report.Line("- " + Describe(phase));
        }

        report.Line($"**Audit: acknowledged {N(result.Acknowledged)}, lost {N(result.Audit.Lost)}, indeterminate {N(result.Indeterminate)}** (events in the log {N(result.Audit.InLog)}); "
            + $"profiles checked against a fold of the log {N(result.Audit.ProfilesChecked)}, mismatches {result.Audit.ProfileMismatches}"
            + (result.Audit.FirstMismatch is null ? "" : $" (first: {result.Audit.FirstMismatch})")
            + $"; whole run: {N(result.Total.Lookups)} lookups ({N(result.Total.FailedLookups)} failed), {N(result.Total.Batches)} ingest batches ({N(result.Total.FailedBatches)} failed attempts)"
            + (result.FirstError is null ? "" : $"; first failure: {result.FirstError}") + $". {(result.Passed ? "PASS" : "FAIL")}");
        report.Json["failover"] = new JsonObject
        {
            ["kills"] = new JsonArray(result.Kills.Select(k => (JsonNode)new JsonObject
            {
                ["silo"] = k.Silo,
                ["recovery_s"] = Math.Round(k.Recovery.TotalSeconds, 3),
                ["recovered"] = k.Recovered,
                ["users_there"] = k.UsersThere,
                ["failed_sweep_lookups"] = k.SweepFailures,
                ["failed_lookups"] = k.FailedLookups,
                ["failed_ingest_attempts"] = k.FailedIngests,
                ["restart_s"] = Math.Round(k.Restart.TotalSeconds, 2),
            }).ToArray()),
            ["recovery_median_s"] = Math.Round(result.MedianRecovery, 3),
            ["recovery_max_s"] = Math.Round(result.MaxRecovery, 3),
            ["graceful"] = new JsonArray(result.Graceful.Select(g => (JsonNode)new JsonObject
            {
                ["phase"] = g.Name,
                ["lookups"] = g.Lookups,
                ["failed_lookups"] = g.FailedLookups,
                ["batches"] = g.Batches,
                ["failed_ingest_attempts"] = g.FailedIngests,
                ["seconds"] = Math.Round(g.Duration.TotalSeconds, 1),
            }).ToArray()),
            ["acknowledged"] = result.Acknowledged,
            ["lost"] = result.Audit.Lost,
            ["indeterminate"] = result.Indeterminate,
            ["profiles_checked"] = result.Audit.ProfilesChecked,
            ["profile_mismatches"] = result.Audit.ProfileMismatches,
            ["passed"] = result.Passed,
        };
        return result.Passed;
    }

    /// <summary>The 1/5/15-minute load averages (Linux), for the report.</summary>
    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private static string Describe(GracefulPhase phase) =>
        $"{phase.Name}: {N(phase.FailedLookups)} of {N(phase.Lookups + phase.FailedLookups)} lookups failed, {N(phase.FailedIngests)} failed ingest attempts "
        + $"({N(phase.Batches)} batches acknowledged); {phase.Duration.TotalSeconds:F1} s";

    private static async Task<GracefulPhase> PhaseAsync(string name, ClusterLoad load, Func<Task> action)
    {
        var before = load.Snapshot();
        var clock = Stopwatch.StartNew();
        await action();
        // The load runs on a moment after the last restart, so calls the hand-off delayed are counted here.
        await Task.Delay(2_000);
        var counts = load.Snapshot() - before;
        return new GracefulPhase(name, counts.Lookups, counts.FailedLookups, counts.Batches, counts.FailedBatches, clock.Elapsed);
    }

    /// <summary>
    /// Looks every load user up through the gateway, each in a loop of its own, until each has answered once (each
    /// attempt has a 5 s deadline; a failed one is retried after 20 ms): whether all did within the limit, when the last
    /// did (from <paramref name="clock"/>), how many users failed their first attempt, and how many attempts failed.
    /// </summary>
    private static async Task<(bool Recovered, TimeSpan LastAnswer, int UsersThere, int Failures)> LookUpUntilAnsweredAsync(
        ClusterLoad load, Uri gateway, Stopwatch clock, CancellationToken cancellationToken)
    {
        var users = load.Users.ToList();
        var failures = 0;
        var usersThere = 0;
        // Connections of its own, at most 50 calls on each (under Kestrel's 100 concurrent streams per connection), so
        // the sweep neither queues behind the load's calls nor behind itself.
        var connections = Enumerable.Range(0, (users.Count + 49) / 50).Select(_ => new ServiceClients(gateway)).ToArray();
        try
        {
            var answers = await Task.WhenAll(users.Select(async (user, i) =>
            {
                var first = true;
                while (clock.Elapsed < s_recoveryLimit)
                {
                    // A call stuck on the dead silo is failed by Orleans when the silo is declared dead, well before the
                    // deadline, so the deadline bounds only a silent hang.
                    if (await load.TryLookUpAsync(connections[i % connections.Length], user, TimeSpan.FromSeconds(5), counted: false))
                    {
                        return clock.Elapsed;
                    }

                    Interlocked.Increment(ref failures);
                    if (first)
                    {
                        Interlocked.Increment(ref usersThere);
                        first = false;
                    }

                    await Task.Delay(20, cancellationToken);
                }

                return (TimeSpan?)null;
            }));
            var recovered = answers.All(a => a is not null);
            return (recovered, recovered ? answers.Max(a => a!.Value) : clock.Elapsed, usersThere, failures);
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }
}
