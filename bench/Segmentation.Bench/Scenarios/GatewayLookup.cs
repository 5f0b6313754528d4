using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Bench.Measurement;
using Segmentation.Grains;
using Segmentation.Host;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;
using Segmentation.Host.Seeding;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// How a <c>gateway</c> process should reach the user grains (issue 12, roles): as an Orleans client through a silo's
/// gateway port, or as a silo that hosts no user grains (what <c>Segmentation:Roles=gateway</c> runs). Two hosts in
/// this process form a development cluster on loopback: two user silos (<c>silo,inference</c> with a gateway port,
/// and <c>silo</c>) and a <c>gateway</c> host; an Orleans client joins through the first silo's gateway port. The shop is
/// seeded through the gateway, so its users spread over both silos (each keeps the events of its users in its own
/// SQLite folder: enough for lookups, which never move a grain). The same <see cref="IUserGrain.GetSegmentsAsync"/>
/// lookups run from the client, from the gateway, and from the first silo as the floor.
/// </summary>
/// <remarks>
/// What differs: the client's gateway silo forwards the calls for users on the other silo once more, whereas a gateway
/// silo addresses the owning silo directly (after its directory cache knows it).
/// </remarks>
public static class GatewayLookup
{
    /// <summary>Starts the two hosts and the client, measures, stops them.</summary>
    public static async Task RunAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("Gateway: Orleans client or silo without user grains");
        var root = Path.Combine(Path.GetTempPath(), "segbench-gateway-" + Guid.NewGuid().ToString("N"));
        var siloPort = Host.Hosting.Silo.FreeLoopbackPort();
        var gatewayPort = Host.Hosting.Silo.FreeLoopbackPort();
        string[] Args(string folder, string roles, int port, int gateway) =>
        [
            $"--Segmentation:DataDirectory={Path.Combine(root, folder)}",
            "--Segmentation:Listen=127.0.0.1:0",
            "--Segmentation:Clock=System",
            "--Logging:LogLevel:Default=Warning",
            $"--Segmentation:Roles={roles}",
            "--Segmentation:Cluster:Membership=development",
            $"--Segmentation:Cluster:PrimarySilo=127.0.0.1:{siloPort}",
            "--Segmentation:Cluster:ClusterId=segbench-gateway",
            $"--Segmentation:Silo:SiloPort={port}",
            $"--Segmentation:Silo:GatewayPort={gateway}",
        ];

        try
        {
            await using var silo = await SegmentationServer.StartAsync(Args("silo", "silo,inference", siloPort, gatewayPort), cancellationToken);
            await using var silo2 = await SegmentationServer.StartAsync(Args("silo2", "silo", 0, 0), cancellationToken);
            await using var gateway = await SegmentationServer.StartAsync(Args("gateway", "gateway", 0, 0), cancellationToken);
            await ShopSeeder.SeedIfEmptyAsync(gateway, settings.Users, NullLogger.Instance, cancellationToken);

            var options = new SegmentationOptions();
            options.Cluster.Membership = MembershipOptions.Development;
            options.Cluster.PrimarySilo = $"127.0.0.1:{siloPort}";
            options.Cluster.Gateways = $"127.0.0.1:{gatewayPort}";
            options.Cluster.ClusterId = "segbench-gateway";
            options.Silo.GatewayPort = gatewayPort;
            using var clientHost = Microsoft.Extensions.Hosting.Host.CreateDefaultBuilder()
                .ConfigureLogging(logging => logging.ClearProviders())
                .UseOrleansClient(client => client.UseSegmentationClustering(options))
                .Build();
            await clientHost.StartAsync(cancellationToken);
            var client = clientHost.Services.GetRequiredService<IClusterClient>();

            var now = TimeProvider.System.GetUtcNow();
            var users = settings.Users;
            var ways = new (string Name, IGrainFactory Grains)[]
            {
                ("Orleans client (through the silo's gateway port)", client),
                ("silo without user grains (Roles=gateway)", gateway.Grains),
                ("the first user silo itself (its own users local)", silo.Grains),
            };
            var duration = TimeSpan.FromSeconds(settings.Seconds);
            var rows = new List<(string Name, int Callers, LoadResult Result)>();
            foreach (var callers in (int[])[1, 64])
            {
                foreach (var (name, grains) in ways)
                {
                    Task Call(long i) => grains.GetGrain<IUserGrain>(TenantKeys.User(SyntheticShop.UserId((int)(i % users)))).GetSegmentsAsync(now, includeRules: false);
                    await ClosedLoop.RunAsync("warm-up", Call, callers, TimeSpan.FromSeconds(Math.Max(1, settings.Seconds / 2)), cancellationToken);
                    rows.Add((name, callers, await ClosedLoop.RunAsync(name, Call, callers, duration, cancellationToken)));
                }
            }

            await clientHost.StopAsync(cancellationToken);
            report.Line($"Three hosts and a client in this process (development clustering on loopback), {N(users)} seeded users: {N(silo.GrainServices.ActiveUserGrains)} on the first silo (the client's gateway), {N(silo2.GrainServices.ActiveUserGrains)} on the second; {settings.Seconds:F0} s per run, IUserGrain.GetSegments:\n");
            report.Table(
                ["caller", "callers", "calls/s", "p50 ms", "p99 ms", "errors"],
                rows.Select(r => (IReadOnlyList<string>)[r.Name, N(r.Callers), N(r.Result.PerSecond), Ms(r.Result, 0.5), Ms(r.Result, 0.99), N(r.Result.Errors)]));
            report.Json["gateway"] = new JsonObject
            {
                ["users"] = users,
                ["runs"] = new JsonArray(rows.Select(r =>
                {
                    var json = r.Result.ToJson();
                    json["caller"] = r.Name;
                    json["callers"] = r.Callers;
                    return (JsonNode)json;
                }).ToArray()),
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

    private static string Ms(LoadResult r, double q) => r.Latency.Milliseconds(q).ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
}
