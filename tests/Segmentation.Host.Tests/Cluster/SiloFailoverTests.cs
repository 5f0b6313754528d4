using System.Diagnostics;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Storage.Postgres;
using Segmentation.Storage.Postgres.Cluster;
using Segmentation.Testing;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// Two Segmentation hosts clustered over PostgreSQL on loopback: one in this process, one a child process that is
/// SIGKILLed (no shutdown code runs, its sockets just close). The survivor must declare it dead in the membership
/// table and answer for the users whose grains lived there, from the shared event log. The times are printed (run with
/// <c>--logger "console;verbosity=detailed"</c>), never asserted.
/// </summary>
public sealed class SiloFailoverTests(ClusterDatabase database, ITestOutputHelper output) : IClassFixture<ClusterDatabase>
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task SigkilledSilo_IsDeclaredDead_AndItsGrainsAnswerAgainOnTheSurvivor()
    {
        var schema = database.NewSchema("failover");
        await using var survivor = await TestServer.StartAsync(extraArgs: [.. database.HostArgs(schema), "--Segmentation:Silo:ResponseTimeout=00:00:10"]);
        var victimData = Path.Combine(Path.GetTempPath(), "seg-victim-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var victim = await ChildProcessShutdownTests.ChildHost.StartAsync(victimData, database.HostArgs(schema));
            using var victimClient = GrpcChannel.ForAddress(victim.Address);
            await ChildProcessShutdownTests.WaitHealthyAsync(victimClient);

            var grains = survivor.Server.Grains;
            var management = grains.GetGrain<IManagementGrain>(0);
            var self = survivor.Server.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
            var victimSilo = await EventuallyAsync(async () => (await management.GetHosts(onlyActive: true)).Keys.FirstOrDefault(s => !s.Equals(self)), "the child silo never became active");

            // Users first touched through the victim's edge are placed on the victim (the calling silo is preferred).
            var now = TimeProvider.System.GetUtcNow();
            var users = Enumerable.Range(0, 12).Select(i => "failover-user-" + i).ToList();
            var batch = Events.Batch([.. users.Select((user, i) => Events.Make("failover-" + i, user, EventType.View, now.AddMinutes(-1)))]);
            var ingested = await victimClient.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, batch);
            Assert.Equal(users.Count, ingested.Accepted);
            string? onVictim = null;
            foreach (var user in users)
            {
                if (victimSilo.Equals(await management.GetActivationAddress(grains.GetGrain<IUserGrain>(TenantKeys.User(user)))))
                {
                    onVictim = user;
                    break;
                }
            }

            Assert.True(onVictim is not null, "no user grain was placed on the child silo");
            var grain = grains.GetGrain<IUserGrain>(TenantKeys.User(onVictim));

            var clock = Stopwatch.StartNew();
            victim.Kill();
            var declaredDead = WatchUntilDeadAsync(schema, victimSilo, clock);
            var answered = CallUntilAnsweredAsync(grain, now, clock);
            var (deadAfter, (profile, answeredAfter, failedCalls)) = (await declaredDead, await answered);

            output.WriteLine($"SIGKILL -> declared dead in the membership table: {deadAfter.TotalSeconds:F2} s");
            output.WriteLine($"SIGKILL -> first successful call to a grain that lived on the killed silo: {answeredAfter.TotalSeconds:F2} s ({failedCalls} failed attempts before)");
            Assert.Equal(1, profile.View.EventCount);
            Assert.Equal(self, await management.GetActivationAddress(grain));
            Assert.DoesNotContain(victimSilo, (await management.GetHosts(onlyActive: true)).Keys);
        }
        finally
        {
            TestServer.TryDelete(victimData);
        }
    }

    /// <summary>Polls the victim's membership row until it says Dead; returns when that was seen.</summary>
    private async Task<TimeSpan> WatchUntilDeadAsync(string schema, SiloAddress victim, Stopwatch clock)
    {
        await using var dataSource = NpgsqlDataSource.Create(database.Postgres.ConnectionString);
        var table = new PostgresMembershipTable(dataSource, new PostgresStorageOptions { Schema = schema }, schema, NullLogger<PostgresMembershipTable>.Instance);
        while (clock.Elapsed < s_deadline)
        {
            var row = await table.ReadRowAsync(victim, CancellationToken.None);
            if (Assert.Single(row.Members).Item1.Status == SiloStatus.Dead)
            {
                return clock.Elapsed;
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException($"the killed silo was not declared dead within {s_deadline}");
    }

    /// <summary>Calls the grain until a call succeeds (each attempt bounded, so a call stuck on the dead silo is retried).</summary>
    private static async Task<(ProfileWithEmbedding Profile, TimeSpan At, int Failures)> CallUntilAnsweredAsync(IUserGrain grain, DateTimeOffset now, Stopwatch clock)
    {
        var failures = 0;
        Exception? last = null;
        while (clock.Elapsed < s_deadline)
        {
            try
            {
                var profile = await grain.GetProfileAsync(now).WaitAsync(TimeSpan.FromSeconds(5));
                return (profile ?? throw new Xunit.Sdk.XunitException("the user's profile is gone"), clock.Elapsed, failures);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                // The dead silo's activation is still in the directory until the silo is declared dead.
                failures++;
                last = ex;
                await Task.Delay(20);
            }
        }

        throw new Xunit.Sdk.XunitException($"the grain never answered after the kill; last error: {last}");
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string failure)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < s_deadline)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException(failure);
    }
}
