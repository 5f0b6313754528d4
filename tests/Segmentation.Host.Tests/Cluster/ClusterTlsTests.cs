using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Segmentation.Contracts.V1;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;
using Segmentation.Testing;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// Mutual TLS inside a cluster (<c>Segmentation:Cluster:Tls</c>): two silos and an Orleans client whose certificates the
/// cluster's CA issued form one cluster and serve across silos; a client with another CA's certificate, or with none,
/// cannot connect; half-configured settings are refused at start. Certificates are made in the test.
/// </summary>
public sealed class ClusterTlsTests : IDisposable
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private readonly string _folder = Directory.CreateTempSubdirectory("seg-mtls-").FullName;
    private readonly ITestOutputHelper _output;

    public ClusterTlsTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task SilosAndClientOfTheClusterCa_FormOneCluster_OthersCannotConnect()
    {
        using var ca = new ClusterCertificates(_folder, "cluster-ca");
        using var rogue = new ClusterCertificates(_folder, "rogue-ca");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var primaryPort = Hosting.Silo.FreeLoopbackPort();
        var gatewayPort = Hosting.Silo.FreeLoopbackPort();
        string[] development = ["--Segmentation:Cluster:Membership=development", $"--Segmentation:Cluster:PrimarySilo=127.0.0.1:{primaryPort}"];
        await using var primary = await TestServer.StartAsync(extraArgs:
            [.. development, $"--Segmentation:Silo:SiloPort={primaryPort}", $"--Segmentation:Silo:GatewayPort={gatewayPort}", .. TlsArgs(ca.Issue("silo-0"), ca.CaFile)]);
        await using var secondary = await TestServer.StartAsync(extraArgs: [.. development, .. TlsArgs(ca.Issue("silo-1"), ca.CaFile)]);

        _output.WriteLine($"two silos up after {clock.Elapsed.TotalSeconds:F1} s");
        // Membership went over TLS: each silo sees both.
        var hosts = await secondary.Server.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(2, hosts.Count);

        // Users ingested through one silo answer through the other (their grains are spread over both silos, so some
        // calls cross between them).
        var batch = new IngestEventsRequest();
        for (var u = 0; u < 12; u++)
        {
            batch.Events.Add(Events.Make($"mtls-{u}-a", $"mtls-user-{u}", EventType.View, s_now, "item-1"));
            batch.Events.Add(Events.Make($"mtls-{u}-b", $"mtls-user-{u}", EventType.Purchase, s_now.AddMinutes(1), "item-2"));
        }

        await primary.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, batch);
        var profiles = new ProfileService.ProfileServiceClient(secondary.Client);
        for (var u = 0; u < 12; u++)
        {
            var profile = await profiles.GetProfileAsync(new GetProfileRequest { UserId = $"mtls-user-{u}" });
            Assert.Equal(2, profile.EventCount);
        }

        _output.WriteLine($"served across silos after {clock.Elapsed.TotalSeconds:F1} s");
        // An Orleans client with a certificate of the cluster's CA connects through the gateway.
        using (var client = await StartClientAsync(gatewayPort, primaryPort, Tls(ca.Issue("client"), ca.CaFile)))
        {
            var seen = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            Assert.Equal(2, seen.Count);
            await client.StopAsync();
        }

        // Another CA's certificate, or no TLS at all: the gateway ends the connection, the client cannot start.
        var foreign = await Assert.ThrowsAsync<ConnectionFailedException>(() => StartClientAsync(gatewayPort, primaryPort, Tls(rogue.Issue("intruder"), rogue.CaFile)));
        _output.WriteLine($"client with another CA's certificate, after {clock.Elapsed.TotalSeconds:F1} s: {foreign.GetType().Name}: {foreign.Message}");
        var plain = await Assert.ThrowsAsync<ConnectionFailedException>(() => StartClientAsync(gatewayPort, primaryPort, new ClusterTlsOptions()));
        _output.WriteLine($"client without TLS, after {clock.Elapsed.TotalSeconds:F1} s: {plain.GetType().Name}: {plain.Message}");

        // The cluster is unharmed by the attempts.
        Assert.Equal(2, (await primary.Server.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Count);
    }

    [Fact]
    public async Task ASiloWithAnotherCasCertificate_CannotJoin_ItsStartFailsWithinTheJoinTime_TheClusterIsUnharmed()
    {
        using var ca = new ClusterCertificates(_folder, "cluster-ca");
        using var rogue = new ClusterCertificates(_folder, "rogue-ca");
        var primaryPort = Hosting.Silo.FreeLoopbackPort();
        string[] development = ["--Segmentation:Cluster:Membership=development", $"--Segmentation:Cluster:PrimarySilo=127.0.0.1:{primaryPort}"];
        await using var primary = await TestServer.StartAsync(extraArgs:
            [.. development, $"--Segmentation:Silo:SiloPort={primaryPort}", .. TlsArgs(ca.Issue("silo-0"), ca.CaFile)]);

        // A silo whose certificate another CA issued, though it trusts the cluster's CA itself: the primary ends its
        // connections, so it can never write itself into the membership. Its start fails once the join time is up; the
        // token is only a backstop, so that a regression fails this test instead of hanging it.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var data = Path.Combine(_folder, "rogue-data");
        using var backstop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => SegmentationServer.StartAsync(
            [
                $"--Segmentation:DataDirectory={data}",
                "--Segmentation:Listen=127.0.0.1:0",
                "--Logging:LogLevel:Default=Warning",
                "--Segmentation:Cluster:MaxJoinAttemptTime=00:00:10",
                .. development,
                .. TlsArgs(rogue.Issue("intruder-silo"), ca.CaFile),
            ],
            backstop.Token));
        _output.WriteLine($"silo with another CA's certificate refused after {clock.Elapsed.TotalSeconds:F1} s: {refused.GetType().Name}: {refused.Message}");
        Assert.False(backstop.IsCancellationRequested, "the rogue silo's start was still waiting after 3 minutes");
        Assert.IsNotType<OperationCanceledException>(refused);

        // Never a member, and the cluster still serves.
        var hosts = await primary.Server.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: false);
        Assert.Single(hosts);
        var ingested = await primary.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
            Events.Ingest, Events.Batch(Events.Make("after-rogue", "mtls-user", EventType.View, s_now, "item-1")), new CallSettings(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, ingested.Accepted);
    }

    [Theory]
    [InlineData("CertificateFile", "Segmentation:Cluster:Tls:CaFile is required")]
    [InlineData("CaFile", "Segmentation:Cluster:Tls:CertificateFile is required")]
    public async Task HalfConfigured_RefusesToStart_NamingTheSetting(string only, string message)
    {
        using var ca = new ClusterCertificates(_folder, "cluster-ca");
        var value = only == "CaFile" ? ca.CaFile : ca.Issue("silo").CertificateFile;
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(extraArgs: [$"--Segmentation:Cluster:Tls:{only}={value}"]));
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ClusterTlsOptions Tls((string CertificateFile, string KeyFile) certificate, string caFile) =>
        new() { CertificateFile = certificate.CertificateFile, KeyFile = certificate.KeyFile, CaFile = caFile };

    private static string[] TlsArgs((string CertificateFile, string KeyFile) certificate, string caFile) =>
    [
        $"--Segmentation:Cluster:Tls:CertificateFile={certificate.CertificateFile}",
        $"--Segmentation:Cluster:Tls:KeyFile={certificate.KeyFile}",
        $"--Segmentation:Cluster:Tls:CaFile={caFile}",
    ];

    private static async Task<IHost> StartClientAsync(int gatewayPort, int primaryPort, ClusterTlsOptions tls)
    {
        var options = new SegmentationOptions
        {
            Cluster =
            {
                Membership = MembershipOptions.Development,
                PrimarySilo = $"127.0.0.1:{primaryPort}",
                Gateways = $"127.0.0.1:{gatewayPort}",
                Tls = tls,
            },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // No retries of the first connection (Orleans' default retries a refused one 15 times with a growing delay).
        builder.UseOrleansClient(client => client.UseSegmentationClustering(options).UseConnectionRetryFilter((_, _) => Task.FromResult(false)));
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }
}
