using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Segmentation.Storage.Postgres.Cluster;

namespace Segmentation.Storage.Postgres.Tests.Cluster;

/// <summary>
/// Orleans' reminder-table contract (<see cref="IReminderTable"/>) checked against <see cref="PostgresReminderTable"/>
/// on a real PostgreSQL: upsert returns a fresh ETag, reads by grain, by name and by hash-ring range (wrapping too),
/// remove only with the current ETag, one service's rows invisible to another.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresReminderTableTests(PostgresFixture fixture) : PostgresTableTest(fixture)
{

    private async Task<PostgresReminderTable> TableAsync(string serviceId = "s1")
    {
        var table = new PostgresReminderTable(DataSource, Options, serviceId, NullLogger<PostgresReminderTable>.Instance);
        await table.StartAsync(CancellationToken.None);
        return table;
    }

    private static GrainId Grain(string key) => GrainId.Create("reminded", key);

    private static ReminderEntry Reminder(GrainId grain, string name, int periodSeconds = 60) => new()
    {
        GrainId = grain,
        ReminderName = name,
        StartAt = Start,
        Period = TimeSpan.FromSeconds(periodSeconds),
    };

    [Fact]
    public async Task UpsertRow_InsertsAndReturnsAnEtag_AndReadRowReturnsTheReminder()
    {
        var table = await TableAsync();
        var grain = Grain("a");

        var etag = await table.UpsertRowAsync(Reminder(grain, "daily", 86_400), CancellationToken.None);

        var read = await table.ReadRowAsync(grain, "daily", CancellationToken.None);
        Assert.NotNull(read);
        Assert.Equal((grain, "daily", Start, TimeSpan.FromDays(1), etag), (read.GrainId, read.ReminderName, read.StartAt, read.Period, read.ETag));
        Assert.Null(await table.ReadRowAsync(grain, "weekly", CancellationToken.None));
    }

    [Fact]
    public async Task UpsertRow_OfAnExistingReminder_ReplacesItAndChangesTheEtag()
    {
        var table = await TableAsync();
        var grain = Grain("a");
        var first = await table.UpsertRowAsync(Reminder(grain, "r", 60), CancellationToken.None);

        var second = await table.UpsertRowAsync(Reminder(grain, "r", 120), CancellationToken.None);

        Assert.NotEqual(first, second);
        var read = Assert.Single((await table.ReadRowsAsync(grain, CancellationToken.None)).Reminders);
        Assert.Equal((TimeSpan.FromMinutes(2), second), (read.Period, read.ETag));
    }

    [Fact]
    public async Task ReadRows_OfAGrain_ReturnsItsRemindersOnly()
    {
        var table = await TableAsync();
        var (a, b) = (Grain("a"), Grain("b"));
        await table.UpsertRowAsync(Reminder(a, "one"), CancellationToken.None);
        await table.UpsertRowAsync(Reminder(a, "two"), CancellationToken.None);
        await table.UpsertRowAsync(Reminder(b, "one"), CancellationToken.None);

        var rows = await table.ReadRowsAsync(a, CancellationToken.None);

        Assert.Equal(["one", "two"], rows.Reminders.Select(r => r.ReminderName).Order());
        Assert.All(rows.Reminders, r => Assert.Equal(a, r.GrainId));
    }

    [Fact]
    public async Task ReadRows_OfARingRange_ReturnsTheGrainsHashedIntoIt_WrappingAroundZeroToo()
    {
        var table = await TableAsync();
        var grains = Enumerable.Range(0, 40).Select(i => Grain("g" + i)).ToList();
        foreach (var grain in grains)
        {
            await table.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);
        }

        var hashes = grains.Select(g => g.GetUniformHashCode()).Order().ToList();
        // (begin, end] with begin < end; wrapping (begin > end); the whole ring (begin == end); bounds on exact hashes.
        var ranges = new (uint Begin, uint End)[]
        {
            (hashes[5], hashes[25]),
            (hashes[30], hashes[8]),
            (0, uint.MaxValue),
            (hashes[12], hashes[12]),
            (uint.MaxValue / 2, uint.MaxValue),
        };
        foreach (var (begin, end) in ranges)
        {
            var expected = grains.Where(g => InRange(g.GetUniformHashCode(), begin, end)).Select(g => g.ToString()).Order().ToList();
            var rows = await table.ReadRowsAsync(begin, end, CancellationToken.None);
            Assert.Equal(expected, rows.Reminders.Select(r => r.GrainId.ToString()).Order().ToList());
        }

        Assert.Equal(40, (await table.ReadRowsAsync(hashes[12], hashes[12], CancellationToken.None)).Reminders.Count);
    }

    // The documented range rule: (begin, end] when begin < end; otherwise everything above begin or at most end.
    private static bool InRange(uint hash, uint begin, uint end) => begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;

    [Fact]
    public async Task RemoveRow_WithAStaleEtag_IsRefused_AndWithTheCurrentOneRemoves()
    {
        var table = await TableAsync();
        var grain = Grain("a");
        var stale = await table.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);
        var current = await table.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);

        Assert.False(await table.RemoveRowAsync(grain, "r", stale, CancellationToken.None));
        Assert.NotNull(await table.ReadRowAsync(grain, "r", CancellationToken.None));
        Assert.False(await table.RemoveRowAsync(grain, "r", "garbage", CancellationToken.None));

        Assert.True(await table.RemoveRowAsync(grain, "r", current, CancellationToken.None));
        Assert.Null(await table.ReadRowAsync(grain, "r", CancellationToken.None));
        Assert.False(await table.RemoveRowAsync(grain, "r", current, CancellationToken.None));
    }

    [Fact]
    public async Task RemoveRow_WithTheEtagOfAnEarlierIncarnation_DoesNotRemoveTheReRegisteredReminder()
    {
        var table = await TableAsync();
        var grain = Grain("a");
        var old = await table.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);
        Assert.True(await table.RemoveRowAsync(grain, "r", old, CancellationToken.None));
        await table.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);

        Assert.False(await table.RemoveRowAsync(grain, "r", old, CancellationToken.None));
        Assert.NotNull(await table.ReadRowAsync(grain, "r", CancellationToken.None));
    }

    [Fact]
    public async Task Services_SeeOnlyTheirOwnReminders_AndClearingOneLeavesTheOther()
    {
        var mine = await TableAsync("s1");
        var theirs = await TableAsync("s2");
        var grain = Grain("a");
        await mine.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);
        await theirs.UpsertRowAsync(Reminder(grain, "r"), CancellationToken.None);

        await mine.ClearAsync(CancellationToken.None);

        Assert.Empty((await mine.ReadRowsAsync(0, 0, CancellationToken.None)).Reminders);
        Assert.Single((await theirs.ReadRowsAsync(grain, CancellationToken.None)).Reminders);
    }

    [Fact]
    public async Task TheInterface_ForwardsToTheTable()
    {
        IReminderTable table = await TableAsync();
        var grain = Grain("i");
        var etag = await table.UpsertRow(Reminder(grain, "r"));
        Assert.NotNull(etag);
        Assert.Equal(etag, (await table.ReadRow(grain, "r"))?.ETag);
        Assert.Single((await table.ReadRows(grain)).Reminders);
        Assert.True(await table.RemoveRow(grain, "r", etag));
    }
}
