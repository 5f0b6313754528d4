using System.Globalization;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Bench.Measurement;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;
using Segmentation.Host;
using Segmentation.Host.Access;
using Segmentation.Host.Seeding;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// What API keys cost and what quotas buy (<c>--only auth</c>). Two hosts in this process, each seeded with the same
/// shop: one open (no key exists, the loopback default) and one requiring keys. (1) <c>GetUserSegments</c> and
/// <c>Echo</c> closed-loop throughput with authentication off and on, rounds alternating between the hosts, so both
/// see the same machine. (2) Two more tenants on the keyed host, each seeded with its own copy of the shop and calling
/// with its own keys: the noisy tenant's key (its own query quota) in a closed loop while the quiet tenant's key (a
/// quota it stays under) calls at a fixed rate (open loop): the quiet tenant's p99 unloaded, beside the noisy key
/// limited (its client ignoring, then waiting the pushback), and beside a noisy key with no quota. Quotas are per key.
/// Each noise runs twice: its client in this process, sharing the hosts' thread pool (as before), then in a process
/// of its own (<see cref="NoiseProcess"/>), which reports its own CPU; this process's CPU per noisy call is the hosts'.
/// </summary>
public static class AccessLoad
{
    private const string BootstrapKey = "segbench-bootstrap-key-0123456789abcdef";
    private const string QuietTenant = "quiet-shop";
    private const string NoisyTenant = "noisy-shop";

    /// <summary>Starts both hosts, measures, stops them.</summary>
    public static async Task RunAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("Authentication and per-key quotas");
        var root = Path.Combine(Path.GetTempPath(), "segbench-auth-" + Guid.NewGuid().ToString("N"));
        string[] Args(string folder, params string[] extra) =>
        [
            $"--Segmentation:DataDirectory={Path.Combine(root, folder)}",
            "--Segmentation:Listen=127.0.0.1:0",
            "--Segmentation:Clock=System",
            "--Logging:LogLevel:Default=Warning",
            .. extra,
        ];

        try
        {
            var load0 = Failover.LoadAverage();
            await using var open = await SegmentationServer.StartAsync(Args("open"), cancellationToken);
            await using var keyed = await SegmentationServer.StartAsync(Args("keyed", $"--Segmentation:Auth:BootstrapKey={BootstrapKey}"), cancellationToken);
            await ShopSeeder.SeedIfEmptyAsync(open, settings.Users, NullLogger.Instance, cancellationToken);
            await ShopSeeder.SeedIfEmptyAsync(keyed, settings.Users, NullLogger.Instance, cancellationToken);
            var catalog = keyed.Services.GetRequiredService<ApiKeyCatalog>();
            var (_, readKey) = await catalog.CreateAsync("default", ["read"], "bench reader", 0, 0, cancellationToken);

            using var openChannel = GrpcChannel.ForAddress(open.Address);
            using var keyedChannel = GrpcChannel.ForAddress(keyed.Address);
            var users = settings.Users;
            var duration = TimeSpan.FromSeconds(settings.Seconds);
            var callers = 32;
            Func<long, Task> Lookup(CallInvoker invoker)
            {
                var client = new SegmentService.SegmentServiceClient(invoker);
                return i => client.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId((int)(i % users)) }).ResponseAsync;
            }

            Func<long, Task> Echo(CallInvoker invoker)
            {
                var client = new EchoService.EchoServiceClient(invoker);
                var message = new EchoMessage { Text = SyntheticShop.UserId(42) };
                return _ => client.EchoAsync(message).ResponseAsync;
            }

            var paths = new (string Name, Func<long, Task> Call)[]
            {
                ("GetUserSegments, auth off", Lookup(openChannel.CreateCallInvoker())),
                ("GetUserSegments, auth on", Lookup(WithKey(keyedChannel, readKey))),
                ("Echo, auth off", Echo(openChannel.CreateCallInvoker())),
                ("Echo, auth on", Echo(WithKey(keyedChannel, readKey))),
            };
            foreach (var (name, call) in paths)
            {
                await ClosedLoop.RunAsync("warm-up " + name, call, callers, TimeSpan.FromSeconds(Math.Max(1, settings.Seconds / 2)), cancellationToken);
            }

            const int Rounds = 3;
            var results = paths.ToDictionary(p => p.Name, _ => new List<LoadResult>());
            for (var round = 0; round < Rounds; round++)
            {
                foreach (var (name, call) in paths)
                {
                    results[name].Add(await ClosedLoop.RunAsync(name, call, callers, duration, cancellationToken));
                }
            }

            double Mean(string name) => results[name].Average(r => r.PerSecond);
            var lookupRatio = Mean("GetUserSegments, auth on") / Mean("GetUserSegments, auth off");
            var echoRatio = Mean("Echo, auth on") / Mean("Echo, auth off");
            report.Line($"Closed loop, {callers} callers on one connection, {Rounds} rounds × {settings.Seconds:F0} s alternating between an open host and a keyed host (same process, same seeded shop of {N(users)} users):\n");
            report.Table(
                ["call", "calls/s (mean of rounds)", "rounds", "p50 ms", "p99 ms", "errors"],
                paths.Select(p =>
                {
                    var runs = results[p.Name];
                    var best = runs.MaxBy(r => r.PerSecond)!;
                    return (IReadOnlyList<string>)[p.Name, N(Mean(p.Name)), string.Join(" ", runs.Select(r => N(r.PerSecond))), Ms(best, 0.5), Ms(best, 0.99), N(runs.Sum(r => r.Errors))];
                }));
            report.Line($"\nauth on / off: lookups {lookupRatio.ToString("F3", CultureInfo.InvariantCulture)}, echo {echoRatio.ToString("F3", CultureInfo.InvariantCulture)}.");

            // Quotas: the quiet tenant calls at a fixed rate under its own quota; the noisy one floods with 64 callers. Each
            // tenant has its own shop (the same generator, so the same user ids) and its own keys.
            var quietRate = 200.0;
            var quietQuota = 1_000.0;
            var noisyQuota = 500.0;
            var quietSeeded = await ShopSeeder.SeedIfEmptyAsync(keyed, settings.Users, NullLogger.Instance, cancellationToken, tenant: QuietTenant);
            var noisySeeded = await ShopSeeder.SeedIfEmptyAsync(keyed, settings.Users, NullLogger.Instance, cancellationToken, tenant: NoisyTenant);
            var (_, quietKey) = await catalog.CreateAsync(QuietTenant, ["read"], "quiet tenant", 0, quietQuota, cancellationToken);
            var (_, limitedNoisyKey) = await catalog.CreateAsync(NoisyTenant, ["read"], "noisy tenant, limited", 0, noisyQuota, cancellationToken);
            var (_, unlimitedNoisyKey) = await catalog.CreateAsync(NoisyTenant, ["read"], "noisy tenant, no quota", 0, 0, cancellationToken);
            using var noisyChannel = GrpcChannel.ForAddress(keyed.Address);
            var quiet = Lookup(WithKey(keyedChannel, quietKey));
            await OpenLoop.RunAsync("warm-up quiet", quiet, quietRate, TimeSpan.FromSeconds(2), cancellationToken);
            var aloneCpu = ProcessCpu();
            var alone = await OpenLoop.RunAsync("quiet tenant alone", quiet, quietRate, duration, cancellationToken);
            // This process's CPU per second with the quiet tenant alone: the hosts' idle work and the quiet client.
            var aloneCpuPerSecond = (ProcessCpu() - aloneCpu) / alone.Seconds;

            // Mode 1: the noisy client in this process, sharing the hosts' thread pool.
            var inProcess = new List<NoiseRow>
            {
                await UnderNoiseAsync("noisy key limited", quiet, Lookup(WithKey(noisyChannel, limitedNoisyKey)), quietRate, duration, cancellationToken),
                await UnderNoiseAsync("noisy key limited, client waits the pushback", quiet, HonouringPushback(Lookup(WithKey(noisyChannel, limitedNoisyKey)), cancellationToken), quietRate, duration, cancellationToken),
                await UnderNoiseAsync("noisy key without quota", quiet, Lookup(WithKey(noisyChannel, unlimitedNoisyKey)), quietRate, duration, cancellationToken),
            };

            // Mode 2: the noisy client in a process of its own (segbench noise), its CPU measured there.
            var separate = new List<NoiseRow>
            {
                await UnderNoiseProcessAsync("noisy key limited", quiet, keyed.Address, limitedNoisyKey, false, users, quietRate, duration, cancellationToken),
                await UnderNoiseProcessAsync("noisy key limited, client waits the pushback", quiet, keyed.Address, limitedNoisyKey, true, users, quietRate, duration, cancellationToken),
                await UnderNoiseProcessAsync("noisy key without quota", quiet, keyed.Address, unlimitedNoisyKey, false, users, quietRate, duration, cancellationToken),
            };
            var load1 = Failover.LoadAverage();

            report.Line($"\nTwo tenants of the keyed host, '{QuietTenant}' and '{NoisyTenant}', each seeded with its own shop ({N(quietSeeded?.Events ?? 0)} and {N(noisySeeded?.Events ?? 0)} events) and calling with its own keys: the quiet tenant's key (quota {N(quietQuota)} queries/s) at {N(quietRate)} lookups/s (open loop, latency from the intended send time) while the noisy tenant's key floods with 64 callers on its own connection; the noisy key's quota is {N(noisyQuota)} queries/s, its client first ignoring the pushback, then waiting it; then a noisy key without quota. Each noise twice: its client in this process (sharing the hosts' thread pool), then in a process of its own (`segbench noise`; same two cores). \"host µs/noisy call\": this process's CPU during the quiet run less its CPU with the quiet tenant alone, per noisy call (served or refused); in-process that includes the noisy client's own work.\n");
            IReadOnlyList<string> Row(string mode, NoiseRow row) =>
            [
                mode, row.Name, Ms(row.Quiet, 0.5), Ms(row.Quiet, 0.99), Ratio(row.Quiet, alone), N(row.Quiet.Errors), N(row.ServedPerSecond), N(row.RefusedPerSecond),
                F1((row.CpuPerSecond - aloneCpuPerSecond) * 1e6 / Math.Max(1, row.ServedPerSecond + row.RefusedPerSecond)),
                row.ClientCpuMicroseconds is { } client ? F1(client) : "(in host µs)",
            ];
            report.Table(
                ["noisy client", "quiet tenant", "p50 ms", "p99 ms", "p99 / alone", "quiet errors", "noisy served/s", "noisy refused/s (RESOURCE_EXHAUSTED)", "host µs/noisy call", "noisy client µs/call"],
                [
                    ["", "alone", Ms(alone, 0.5), Ms(alone, 0.99), "1.00", N(alone.Errors), "", "", "", ""],
                    .. inProcess.Select(r => Row("in process", r)),
                    .. separate.Select(r => Row("own process", r)),
                ]);
            var limitedNoise = inProcess[0];
            report.Line($"\nnoisy key's first refusal: {limitedNoise.FirstError ?? "(none)"}; with its client waiting the pushback: {inProcess[1].FirstError ?? "(none)"}");
            report.Line($"load average {load0} before, {load1} after.");
            report.Json["auth"] = new JsonObject
            {
                ["lookup_on_off_ratio"] = lookupRatio,
                ["echo_on_off_ratio"] = echoRatio,
                ["quiet_tenant"] = QuietTenant,
                ["noisy_tenant"] = NoisyTenant,
                ["quiet_p99_alone_ms"] = alone.Latency.Milliseconds(0.99),
                ["quiet_p99_noisy_limited_ms"] = inProcess[0].Quiet.Latency.Milliseconds(0.99),
                ["quiet_p99_noisy_limited_pushback_ms"] = inProcess[1].Quiet.Latency.Milliseconds(0.99),
                ["quiet_p99_noisy_unlimited_ms"] = inProcess[2].Quiet.Latency.Milliseconds(0.99),
                ["noisy_limited_served_per_s"] = limitedNoise.ServedPerSecond,
                ["noisy_limited_refused_per_s"] = limitedNoise.RefusedPerSecond,
                ["own_process_quiet_p99_noisy_limited_ms"] = separate[0].Quiet.Latency.Milliseconds(0.99),
                ["own_process_quiet_p99_noisy_limited_pushback_ms"] = separate[1].Quiet.Latency.Milliseconds(0.99),
                ["own_process_quiet_p99_noisy_unlimited_ms"] = separate[2].Quiet.Latency.Milliseconds(0.99),
                ["load_average"] = $"{load0} / {load1}",
            };
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder.
            }
        }
    }

    private static async Task<NoiseRow> UnderNoiseAsync(
        string name, Func<long, Task> quiet, Func<long, Task> noisy, double quietRate, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The noise starts first and outlasts the quiet run by a margin on both sides.
        var noise = ClosedLoop.RunAsync("noisy", noisy, 64, duration + TimeSpan.FromSeconds(2), cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        var cpu0 = ProcessCpu();
        var measured = await OpenLoop.RunAsync("quiet under noise", quiet, quietRate, duration, cancellationToken);
        var cpuPerSecond = (ProcessCpu() - cpu0) / measured.Seconds;
        var noisyResult = await noise;
        return new NoiseRow(name, measured, noisyResult.PerSecond, noisyResult.Errors / noisyResult.Seconds, cpuPerSecond, null, noisyResult.FirstError);
    }

    private static async Task<NoiseRow> UnderNoiseProcessAsync(
        string name, Func<long, Task> quiet, Uri address, string key, bool honourPushback, int users, double quietRate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var child = NoiseProcess.Start(address, key, 64, users, duration + TimeSpan.FromSeconds(2), honourPushback);
        try
        {
            await NoiseProcess.StartedAsync(child, cancellationToken);
        }
        catch
        {
            child.Kill();
            child.Dispose();
            throw;
        }

        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        var cpu0 = ProcessCpu();
        var measured = await OpenLoop.RunAsync("quiet under noise", quiet, quietRate, duration, cancellationToken);
        var cpuPerSecond = (ProcessCpu() - cpu0) / measured.Seconds;
        var noisy = await NoiseProcess.ResultOfAsync(child, cancellationToken);
        return new NoiseRow(name, measured, noisy.ServedPerSecond, noisy.RefusedPerSecond, cpuPerSecond, noisy.CpuMicrosecondsPerCall, noisy.FirstError);
    }

    private static double ProcessCpu() => System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    private static string F1(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

    // What a gRPC client with a retry policy does with server pushback: waits grpc-retry-pushback-ms before its next call.
    internal static Func<long, Task> HonouringPushback(Func<long, Task> call, CancellationToken cancellationToken) => async i =>
    {
        try
        {
            await call(i);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted
            && long.TryParse(ex.Trailers.GetValue("grpc-retry-pushback-ms"), NumberStyles.None, CultureInfo.InvariantCulture, out var pushbackMs))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(pushbackMs), cancellationToken);
            throw;
        }
    };

    private static CallInvoker WithKey(GrpcChannel channel, string key) =>
        channel.Intercept(metadata =>
        {
            metadata.Add("authorization", "Bearer " + key);
            return metadata;
        });

    private static string Ratio(LoadResult measured, LoadResult baseline) =>
        (measured.Latency.Milliseconds(0.99) / baseline.Latency.Milliseconds(0.99)).ToString("F2", CultureInfo.InvariantCulture);

    private static string Ms(LoadResult r, double q) => r.Latency.Milliseconds(q).ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>One noisy phase: the quiet tenant's latencies beside it, the noise's rates, and CPU.</summary>
    private sealed record NoiseRow(
        string Name, LoadResult Quiet, double ServedPerSecond, double RefusedPerSecond, double CpuPerSecond, double? ClientCpuMicroseconds, string? FirstError);
}
