using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Segmentation.Storage.Postgres.Cluster;

namespace Segmentation.Storage.Postgres.Tests.Cluster;

/// <summary>
/// Orleans' membership-table contract (<see cref="IMembershipTable"/>'s documentation) checked against
/// <see cref="PostgresMembershipTable"/> on a real PostgreSQL: inserts and updates are conditional on ETags and the
/// table version, and atomic; reads return rows and version together; heartbeats touch one column; cleanup removes
/// only long-dead silos; the gateway list shows only active silos with a gateway.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresMembershipTableTests(PostgresFixture fixture) : PostgresTableTest(fixture)
{

    private async Task<PostgresMembershipTable> TableAsync(string clusterId = "c1", bool initVersion = true)
    {
        var table = new PostgresMembershipTable(DataSource, Options, clusterId, NullLogger<PostgresMembershipTable>.Instance);
        await table.InitializeMembershipTableAsync(initVersion, CancellationToken.None);
        return table;
    }

    private static MembershipEntry Entry(int port, int generation = 1, SiloStatus status = SiloStatus.Joining, int proxyPort = 0) => new()
    {
        SiloAddress = SiloAddress.New(IPAddress.Loopback, port, generation),
        Status = status,
        ProxyPort = proxyPort,
        HostName = "host-" + port,
        SiloName = "silo-" + port,
        SuspectTimes = [],
        StartTime = Start,
        IAmAliveTime = Start,
    };

    [Fact]
    public async Task Initialize_CreatesVersionZero_AndAnEmptyTable_AndIsIdempotent()
    {
        var table = await TableAsync();
        await table.InitializeMembershipTableAsync(true, CancellationToken.None);

        var all = await table.ReadAllAsync(CancellationToken.None);

        Assert.Empty(all.Members);
        Assert.Equal(0, all.Version.Version);
    }

    [Fact]
    public async Task InsertRow_AddsTheRowAndMovesTheVersion_AndReadRowReturnsEveryColumn()
    {
        var table = await TableAsync();
        var entry = Entry(11111, proxyPort: 30000);
        var voter = SiloAddress.New(IPAddress.Parse("10.0.0.7"), 11112, 42);
        entry.SuspectTimes = [Tuple.Create(voter, Start.AddSeconds(3))];
        var empty = await table.ReadAllAsync(CancellationToken.None);

        Assert.True(await table.InsertRowAsync(entry, empty.Version.Next(), CancellationToken.None));

        var read = await table.ReadRowAsync(entry.SiloAddress, CancellationToken.None);
        Assert.Equal(1, read.Version.Version);
        var (row, etag) = Assert.Single(read.Members);
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(entry.SiloAddress, row.SiloAddress);
        Assert.Equal((SiloStatus.Joining, 30000, "host-11111", "silo-11111"), (row.Status, row.ProxyPort, row.HostName, row.SiloName));
        Assert.Equal((Start, Start), (row.StartTime, row.IAmAliveTime));
        var (suspecter, time) = Assert.Single(row.SuspectTimes!);
        Assert.Equal((voter, Start.AddSeconds(3)), (suspecter, time));
    }

    [Fact]
    public async Task InsertRow_ForASiloThatHasARow_IsRefused_AndChangesNothing()
    {
        var table = await TableAsync();
        var entry = Entry(11111);
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        var before = await table.ReadAllAsync(CancellationToken.None);

        var again = Entry(11111, status: SiloStatus.Active);
        Assert.False(await table.InsertRowAsync(again, before.Version.Next(), CancellationToken.None));

        var after = await table.ReadAllAsync(CancellationToken.None);
        Assert.Equal(before.Version.Version, after.Version.Version);
        Assert.Equal(SiloStatus.Joining, Assert.Single(after.Members).Item1.Status);
    }

    [Fact]
    public async Task InsertRow_WithAStaleTableVersion_IsRefused_AndAddsNoRow()
    {
        var table = await TableAsync();
        var stale = (await table.ReadAllAsync(CancellationToken.None)).Version;
        Assert.True(await table.InsertRowAsync(Entry(11111), stale.Next(), CancellationToken.None));

        Assert.False(await table.InsertRowAsync(Entry(22222), stale.Next(), CancellationToken.None));

        var all = await table.ReadAllAsync(CancellationToken.None);
        Assert.Equal(11111, Assert.Single(all.Members).Item1.SiloAddress.Endpoint.Port);
        Assert.Equal(1, all.Version.Version);
    }

    [Fact]
    public async Task InsertRow_RacingOnOneVersion_ExactlyOneWins()
    {
        var table = await TableAsync();
        var version = (await table.ReadAllAsync(CancellationToken.None)).Version;

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => table.InsertRowAsync(Entry(20000 + i), version.Next(), CancellationToken.None)));

        Assert.Equal(1, results.Count(won => won));
        var all = await table.ReadAllAsync(CancellationToken.None);
        Assert.Single(all.Members);
        Assert.Equal(1, all.Version.Version);
    }

    [Fact]
    public async Task UpdateRow_WithCurrentEtags_ReplacesTheRow_MovesTheVersion_AndChangesTheRowEtag()
    {
        var table = await TableAsync();
        var entry = Entry(11111);
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        var read = await table.ReadRowAsync(entry.SiloAddress, CancellationToken.None);
        var (row, etag) = read.Members[0];

        row.Status = SiloStatus.Active;
        row.ProxyPort = 30001;
        row.SuspectTimes = [Tuple.Create(SiloAddress.New(IPAddress.Loopback, 22222, 2), Start.AddSeconds(9))];
        Assert.True(await table.UpdateRowAsync(row, etag, read.Version.Next(), CancellationToken.None));

        var after = await table.ReadRowAsync(entry.SiloAddress, CancellationToken.None);
        var (updated, newEtag) = Assert.Single(after.Members);
        Assert.Equal((SiloStatus.Active, 30001), (updated.Status, updated.ProxyPort));
        Assert.Single(updated.SuspectTimes!);
        Assert.NotEqual(etag, newEtag);
        Assert.Equal(read.Version.Version + 1, after.Version.Version);
    }

    [Fact]
    public async Task UpdateRow_WithAStaleRowEtag_IsRefused_AndChangesNeitherRowNorVersion()
    {
        var table = await TableAsync();
        var entry = Entry(11111);
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        var first = await table.ReadRowAsync(entry.SiloAddress, CancellationToken.None);
        var (row, staleEtag) = first.Members[0];
        row.Status = SiloStatus.Active;
        Assert.True(await table.UpdateRowAsync(row, staleEtag, first.Version.Next(), CancellationToken.None));
        var current = await table.ReadAllAsync(CancellationToken.None);

        // A current table version but the row's old ETag: someone else wrote the row since.
        row.Status = SiloStatus.Dead;
        Assert.False(await table.UpdateRowAsync(row, staleEtag, current.Version.Next(), CancellationToken.None));

        var after = await table.ReadAllAsync(CancellationToken.None);
        Assert.Equal(SiloStatus.Active, Assert.Single(after.Members).Item1.Status);
        Assert.Equal(current.Version.Version, after.Version.Version);
    }

    [Fact]
    public async Task UpdateRow_WithAStaleTableVersion_IsRefused_AndChangesNeitherRowNorVersion()
    {
        var table = await TableAsync();
        var (a, b) = (Entry(11111), Entry(22222));
        Assert.True(await table.InsertRowAsync(a, (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        var stale = await table.ReadAllAsync(CancellationToken.None);
        Assert.True(await table.InsertRowAsync(b, stale.Version.Next(), CancellationToken.None));

        // The row's current ETag, but the table moved on (b joined) since the version was read.
        var (row, etag) = stale.TryGet(a.SiloAddress)!;
        row.Status = SiloStatus.Dead;
        Assert.False(await table.UpdateRowAsync(row, etag, stale.Version.Next(), CancellationToken.None));

        var after = await table.ReadRowAsync(a.SiloAddress, CancellationToken.None);
        Assert.Equal(SiloStatus.Joining, Assert.Single(after.Members).Item1.Status);
        Assert.Equal(2, after.Version.Version);
    }

    [Fact]
    public async Task UpdateRow_ForASiloWithoutARow_IsRefused_AndLeavesTheVersion()
    {
        var table = await TableAsync();
        var version = (await table.ReadAllAsync(CancellationToken.None)).Version;

        Assert.False(await table.UpdateRowAsync(Entry(11111), "0", version.Next(), CancellationToken.None));
        Assert.False(await table.UpdateRowAsync(Entry(11111), "not-an-etag", version.Next(), CancellationToken.None));

        Assert.Equal(0, (await table.ReadAllAsync(CancellationToken.None)).Version.Version);
    }

    [Fact]
    public async Task ReadAll_ReturnsEveryRowOfTheCluster_AndReadRowOnlyTheOneAsked()
    {
        var table = await TableAsync();
        var other = await TableAsync("c2");
        foreach (var port in new[] { 11111, 22222, 33333 })
        {
            Assert.True(await table.InsertRowAsync(Entry(port), (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        }

        Assert.True(await other.InsertRowAsync(Entry(44444), (await other.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));

        var all = await table.ReadAllAsync(CancellationToken.None);
        Assert.Equal([11111, 22222, 33333], all.Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());
        Assert.Equal(3, all.Version.Version);
        var one = await table.ReadRowAsync(SiloAddress.New(IPAddress.Loopback, 22222, 1), CancellationToken.None);
        Assert.Equal(22222, Assert.Single(one.Members).Item1.SiloAddress.Endpoint.Port);
        Assert.Equal(3, one.Version.Version);

        // Another generation of the same endpoint is another silo.
        var none = await table.ReadRowAsync(SiloAddress.New(IPAddress.Loopback, 22222, 2), CancellationToken.None);
        Assert.Empty(none.Members);
        Assert.Equal(3, none.Version.Version);
    }

    [Fact]
    public async Task UpdateIAmAlive_ChangesOnlyTheHeartbeat_NotTheEtagNorTheVersion()
    {
        var table = await TableAsync();
        var entry = Entry(11111, status: SiloStatus.Active);
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        var before = await table.ReadRowAsync(entry.SiloAddress, CancellationToken.None);

        var beat = Entry(11111, status: SiloStatus.Dead); // Only the address and the time may be used.
        beat.IAmAliveTime = Start.AddMinutes(5);
        await table.UpdateIAmAliveAsync(beat, CancellationToken.None);

        var after = await table.ReadRowAsync(entry.SiloAddress, CancellationToken.None);
        var (row, etag) = Assert.Single(after.Members);
        Assert.Equal(Start.AddMinutes(5), row.IAmAliveTime);
        Assert.Equal(SiloStatus.Active, row.Status);
        Assert.Equal(before.Members[0].Item2, etag);
        Assert.Equal(before.Version.Version, after.Version.Version);
        var (old, oldEtag) = before.Members[0];
        old.Status = SiloStatus.ShuttingDown;
        Assert.True(await table.UpdateRowAsync(old, oldEtag, after.Version.Next(), CancellationToken.None));
    }

    [Fact]
    public async Task CleanupDefunctSiloEntries_RemovesOnlyDeadSilosSilentBeforeTheDate()
    {
        var table = await TableAsync();
        var rows = new (int Port, SiloStatus Status, DateTime LastBeat)[]
        {
            (11111, SiloStatus.Dead, Start.AddHours(-2)),
            (22222, SiloStatus.Dead, Start.AddMinutes(-1)),
            (33333, SiloStatus.Active, Start.AddHours(-2)),
        };
        foreach (var (port, status, lastBeat) in rows)
        {
            var entry = Entry(port, status: status);
            entry.IAmAliveTime = lastBeat;
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        }

        await table.CleanupDefunctSiloEntriesAsync(new DateTimeOffset(Start.AddHours(-1)), CancellationToken.None);

        var all = await table.ReadAllAsync(CancellationToken.None);
        Assert.Equal([22222, 33333], all.Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());
    }

    [Fact]
    public async Task DeleteMembershipTableEntries_RemovesThatClusterOnly()
    {
        var table = await TableAsync();
        var other = await TableAsync("c2");
        Assert.True(await table.InsertRowAsync(Entry(11111), (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        Assert.True(await other.InsertRowAsync(Entry(22222), (await other.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));

        await table.DeleteMembershipTableEntriesAsync("c1", CancellationToken.None);

        Assert.Empty((await table.ReadAllAsync(CancellationToken.None)).Members);
        Assert.Single((await other.ReadAllAsync(CancellationToken.None)).Members);
        await table.InitializeMembershipTableAsync(true, CancellationToken.None);
        Assert.True(await table.InsertRowAsync(Entry(11111), (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
    }

    [Fact]
    public async Task GatewayList_ShowsOnlyActiveSilosWithAGatewayPort_OfItsCluster()
    {
        var table = await TableAsync();
        var other = await TableAsync("c2");
        var rows = new (int Port, SiloStatus Status, int ProxyPort)[]
        {
            (11111, SiloStatus.Active, 30001),
            (22222, SiloStatus.Active, 0),
            (33333, SiloStatus.Dead, 30003),
            (44444, SiloStatus.Joining, 30004),
            (55555, SiloStatus.ShuttingDown, 30005),
        };
        foreach (var (port, status, proxyPort) in rows)
        {
            Assert.True(await table.InsertRowAsync(Entry(port, status: status, proxyPort: proxyPort), (await table.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        }

        Assert.True(await other.InsertRowAsync(Entry(16666, status: SiloStatus.Active, proxyPort: 30006), (await other.ReadAllAsync(CancellationToken.None)).Version.Next(), CancellationToken.None));
        var gateways = new PostgresGatewayListProvider(DataSource, Options, "c1", TimeSpan.FromSeconds(10));

        var list = await gateways.GetGatewaysAsync(CancellationToken.None);

        Assert.Equal(SiloAddress.New(IPAddress.Loopback, 30001, 1).ToGatewayUri(), Assert.Single(list));
        Assert.Equal(TimeSpan.FromSeconds(10), gateways.MaxStaleness);
    }

    [Fact]
    public async Task ReadAll_BeforeTheVersionRowExists_IsEmpty_AndNoWriteCanMatchIt()
    {
        var table = await TableAsync(initVersion: false);

        var all = await table.ReadAllAsync(CancellationToken.None);

        Assert.Empty(all.Members);
        Assert.False(await table.InsertRowAsync(Entry(11111), all.Version.Next(), CancellationToken.None));
    }
}
