using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;
using Segmentation.Storage.Postgres;
using Segmentation.Storage.Postgres.Cluster;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// Reminders on PostgreSQL through <see cref="Clustering.UseSegmentationClustering(ISiloBuilder, SegmentationOptions)"/>:
/// a reminder registered on one silo fires, is a row in the cluster store, and fires again on a silo started after the
/// first one stopped, though nobody called its grain there: the new silo read it from PostgreSQL.
/// </summary>
public sealed class PostgresReminderTests(ClusterDatabase database) : IClassFixture<ClusterDatabase>
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Reminder_FiresFromPostgres_AndSurvivesASiloRestart()
    {
        var schema = database.NewSchema("reminders");
        var key = "probe-" + Guid.NewGuid().ToString("N");
        var ticks = ReminderProbeGrain.TicksOf(key);
        await using var dataSource = NpgsqlDataSource.Create(database.Postgres.ConnectionString);
        var table = new PostgresReminderTable(dataSource, new PostgresStorageOptions { Schema = schema }, "segmentation", NullLogger<PostgresReminderTable>.Instance);

        SiloAddress firstSilo;
        GrainId grainId;
        using (var first = await StartSiloAsync(schema))
        {
            firstSilo = first.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
            var probe = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IReminderProbeGrain>(key);
            grainId = probe.GetGrainId();
            await probe.StartAsync(TimeSpan.FromSeconds(1));
            Assert.Equal(firstSilo, await NextTickAsync(ticks, _ => true));
            var row = await table.ReadRowAsync(grainId, "probe", CancellationToken.None);
            Assert.Equal(TimeSpan.FromSeconds(1), row?.Period);
            await first.StopAsync();
        }

        using var second = await StartSiloAsync(schema);
        var secondSilo = second.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        Assert.NotEqual(firstSilo, secondSilo);
        Assert.Equal(secondSilo, await NextTickAsync(ticks, silo => silo.Equals(secondSilo)));

        await second.Services.GetRequiredService<IGrainFactory>().GetGrain<IReminderProbeGrain>(key).StopAsync();
        Assert.Null(await table.ReadRowAsync(grainId, "probe", CancellationToken.None));
        await second.StopAsync();
    }

    /// <summary>A bare silo (no Segmentation services) with membership and reminders in <paramref name="schema"/>.</summary>
    private async Task<IHost> StartSiloAsync(string schema)
    {
        var options = new SegmentationOptions
        {
            Storage = { Provider = StorageOptions.Postgres, ConnectionString = database.Postgres.ConnectionString, Schema = schema },
            Cluster = { Membership = MembershipOptions.Postgres, ClusterId = schema },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.UseSegmentationClustering(options);
            silo.Configure<ReminderOptions>(reminders => reminders.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<SiloAddress> NextTickAsync(System.Threading.Channels.Channel<SiloAddress> ticks, Func<SiloAddress, bool> wanted)
    {
        using var timeout = new CancellationTokenSource(s_deadline);
        while (true)
        {
            var silo = await ticks.Reader.ReadAsync(timeout.Token);
            if (wanted(silo))
            {
                return silo;
            }
        }
    }
}
