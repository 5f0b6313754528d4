using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;
using Segmentation.Storage.Postgres;
using Segmentation.Storage.Postgres.Cluster;
using Segmentation.Testing;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// The host with <c>Segmentation:Cluster:Membership=postgres</c>: it starts on an empty database (the migration step
/// creates the membership tables), serves, leaves the table marked dead on a clean stop, and starts again against the
/// same database as a new silo; an Orleans client finds it through the table; bad settings fail the start naming the
/// setting. Also Orleans' development clustering: two hosts around a primary, no database.
/// </summary>
public sealed class PostgresMembershipHostTests(ClusterDatabase database) : IClassFixture<ClusterDatabase>
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);

    [Fact]
    public async Task Host_StartsServesAndRestarts_AgainstTheSameDatabase_AsANewSiloOfTheCluster()
    {
        var schema = database.NewSchema("restart");
        SiloAddress firstSilo;
        await using (var first = await TestServer.StartAsync(extraArgs: database.HostArgs(schema)))
        {
            firstSilo = first.Server.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
            var ingested = await first.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
                Events.Ingest, Events.Batch(Events.Make("restart-1", "restart-user", EventType.Purchase, s_now, price: 40)));
            Assert.Equal(1, ingested.Accepted);
            var rows = await ReadMembersAsync(schema);
            Assert.Equal(SiloStatus.Active, Assert.Single(rows).Status);
        }

        await using var second = await TestServer.StartAsync(extraArgs: database.HostArgs(schema));
        var secondSilo = second.Server.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var profile = await second.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "restart-user" });
        Assert.Equal((1, 40.0), (profile.EventCount, profile.Spend));

        var members = (await ReadMembersAsync(schema)).ToDictionary(m => m.SiloAddress);
        Assert.Equal(SiloStatus.Dead, members[firstSilo].Status);
        Assert.Equal(SiloStatus.Active, members[secondSilo].Status);
    }

    [Fact]
    public async Task OrleansClient_FindsTheGatewayInPostgres_AndCallsTheHostsGrains()
    {
        var schema = database.NewSchema("client");
        var gatewayPort = FreePort();
        await using var server = await TestServer.StartAsync(extraArgs: [.. database.HostArgs(schema), $"--Segmentation:Silo:GatewayPort={gatewayPort}"]);
        await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
            Events.Ingest, Events.Batch(Events.Make("client-1", "client-user", EventType.View, s_now), Events.Make("client-2", "client-user", EventType.View, s_now.AddMinutes(1))));

        var options = new SegmentationOptions
        {
            Storage = { ConnectionString = database.Postgres.ConnectionString, Schema = schema },
            Cluster = { Membership = MembershipOptions.Postgres, ClusterId = schema },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client => client.UseSegmentationClustering(options));
        using var host = builder.Build();
        await host.StartAsync();

        var grain = host.Services.GetRequiredService<IClusterClient>().GetGrain<IUserGrain>(TenantKeys.User("client-user"));
        var view = await grain.GetProfileAsync(s_now.AddMinutes(2));

        Assert.Equal(2, view?.View.EventCount);
        await host.StopAsync();
    }

    [Fact]
    public async Task DevelopmentClustering_JoinsASecondHostToThePrimary_WithoutADatabase()
    {
        var primaryPort = FreePort();
        string[] development = ["--Segmentation:Cluster:Membership=development", $"--Segmentation:Cluster:PrimarySilo=127.0.0.1:{primaryPort}"];
        await using var primary = await TestServer.StartAsync(extraArgs: [.. development, $"--Segmentation:Silo:SiloPort={primaryPort}"]);
        await using var secondary = await TestServer.StartAsync(extraArgs: development);

        var management = secondary.Server.Grains.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetHosts(onlyActive: true);

        Assert.Equal(2, hosts.Count);
        Assert.Contains(primary.Server.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress, hosts.Keys);
    }

    [Theory]
    [InlineData("--Segmentation:Cluster:Membership=etcd", "Segmentation:Cluster:Membership must be")]
    [InlineData("--Segmentation:Cluster:Membership=postgres", "neither Segmentation:Storage:ConnectionString nor ConnectionStrings:Segmentation")]
    [InlineData("--Segmentation:Cluster:Membership=development", "Segmentation:Cluster:PrimarySilo")]
    [InlineData("--Segmentation:Cluster:AdvertisedAddress=pod-7", "Segmentation:Cluster:AdvertisedAddress must be an IP address")]
    public async Task Start_WithBadClusterSettings_FailsNamingTheSetting(string setting, string expected)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(extraArgs: [setting]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private async Task<List<MembershipEntry>> ReadMembersAsync(string schema)
    {
        await using var dataSource = NpgsqlDataSource.Create(database.Postgres.ConnectionString);
        var table = new PostgresMembershipTable(dataSource, new PostgresStorageOptions { Schema = schema }, schema, NullLogger<PostgresMembershipTable>.Instance);
        return [.. (await table.ReadAllAsync(CancellationToken.None)).Members.Select(m => m.Item1)];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
