using System.Text;
using Npgsql;

namespace Segmentation.Storage.Postgres.Tests;

/// <summary>What the PostgreSQL event log promises beyond the shared contract: group commit, durability, many silos.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresEventLogBehaviourTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();
    private readonly PostgresStorageOptions _options = postgres.NewOptions();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    private static LogRecord Record(string stream, string id) => new(stream, id, Encoding.UTF8.GetBytes(id));

    [Theory]
    [InlineData(PostgresBulkInsert.Unnest, 1)]
    [InlineData(PostgresBulkInsert.Copy, 1)]
    [InlineData(PostgresBulkInsert.Copy, 2)]
    public async Task ConcurrentAppenders_ShareCommits_AndNoneIsAcknowledgedBeforeItsCommit(PostgresBulkInsert bulkInsert, int commitsInFlight)
    {
        _options.BulkInsert = bulkInsert;
        _options.CommitsInFlight = commitsInFlight;
        await using var log = await PostgresEventLog.OpenAsync(_dataSource, _options);
        await log.AppendAsync([Record("warm", "warm")], CancellationToken.None);
        var before = log.Commits;

        // Hold the schema's commit lock from outside, as another silo's commit would: the writer's next group waits on
        // it while every other appender queues behind.
        await using var blocker = await _dataSource.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({PostgresSchema.CommitLockClass}, (SELECT oid::int FROM pg_namespace WHERE nspname = $1))", blocker))
        {
            take.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _options.Schema });
            await take.ExecuteNonQueryAsync();
        }

        var appends = Enumerable.Range(0, 64)
            .Select(c => Task.Run(() => log.AppendAsync([Record($"user{c}", $"{c}-a"), Record($"user{c}", $"{c}-b")], CancellationToken.None)))
            .ToArray();
        // Each commit lane with a group waits on the lock: one at first, up to CommitsInFlight once every lane has work.
        await WaitForAsync(async () => await WaitingForAdvisoryLockAsync() >= 1);
        await Task.Delay(200); // let the appenders that are still being scheduled reach the queue
        Assert.DoesNotContain(appends, a => a.IsCompleted);

        await using (var release = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", blocker))
        {
            await release.ExecuteNonQueryAsync();
        }

        var results = (await Task.WhenAll(appends)).SelectMany(r => r).ToList();
        Assert.All(results, r => Assert.Equal(AppendOutcome.Appended, r.Outcome));
        Assert.Equal(128, results.Select(r => r.Sequence).Distinct().Count());
        // One group per lane was waiting for the lock, then one more takes everything queued behind them (a straggler
        // that reached the queue after that may add one): a handful of commits, not one per call.
        Assert.InRange(log.Commits - before, 1, _options.CommitsInFlight + 2);
    }

    [Fact]
    public async Task AcknowledgedAppends_SurviveAServerCrash_AndTheLogRecoversWithoutARestart()
    {
        var log = await PostgresEventLog.OpenAsync(_dataSource, _options);
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var appenders = Enumerable.Range(0, 4).Select(a => Task.Run(async () =>
        {
            for (var batch = 0; !stop.IsCancellationRequested; batch++)
            {
                var records = Enumerable.Range(0, 50).Select(i => Record($"user{i}", $"{a}-{batch}-{i}")).ToList();
                try
                {
                    await log.AppendAsync(records, CancellationToken.None);
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                {
                    continue; // the server is down: not acknowledged, so it promises nothing
                }

                foreach (var record in records)
                {
                    acknowledged.Add(record.EventId);
                }
            }
        })).ToArray();

        await WaitForAsync(() => Task.FromResult(acknowledged.Count >= 2_000));
        await postgres.Server.CrashAsync();
        await Task.Delay(300);
        await postgres.Server.StartServerAsync();
        await stop.CancelAsync();
        await Task.WhenAll(appenders);

        // The same instance: its writer replaces the broken connection.
        var after = await log.AppendAsync([Record("later", "after-crash")], CancellationToken.None);
        Assert.Equal(AppendOutcome.Appended, after[0].Outcome);
        await log.DisposeAsync();

        // A fresh process's view: new connections, every acknowledged id present.
        NpgsqlConnection.ClearAllPools();
        await using var dataSource = postgres.NewDataSource();
        await using var reopened = await PostgresEventLog.OpenAsync(dataSource, _options);
        var ids = acknowledged.Append("after-crash").ToList();
        var stored = await reopened.ContainsAsync(ids, CancellationToken.None);
        Assert.Equal(ids.Count, stored.Count);
    }

    [Theory]
    [InlineData(PostgresBulkInsert.Unnest)]
    [InlineData(PostgresBulkInsert.Copy)]
    public async Task AFailedCommit_FailsItsCalls_AndTheNextCommitOnTheSameConnectionSucceeds(PostgresBulkInsert bulkInsert)
    {
        _options.BulkInsert = bulkInsert;
        await using var log = await PostgresEventLog.OpenAsync(_dataSource, _options);

        // PostgreSQL text cannot hold U+0000 (the edge rejects such ids); here it makes the very first transaction of the
        // writer's session fail, the one that also created the COPY staging table.
        await Assert.ThrowsAsync<PostgresException>(() => log.AppendAsync([Record("a", "bad\0id")], CancellationToken.None));
        var next = await log.AppendAsync([Record("a", "good")], CancellationToken.None);

        Assert.Equal(AppendOutcome.Appended, next[0].Outcome);
        Assert.Equal(1, await log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CommittedRecords_SurviveReopening()
    {
        await using (var log = await PostgresEventLog.OpenAsync(_dataSource, _options))
        {
            await log.AppendAsync([Record("a", "1"), Record("a", "2")], CancellationToken.None);
        }

        await using var reopened = await PostgresEventLog.OpenAsync(_dataSource, _options);
        Assert.Equal(2, await reopened.CountAsync(CancellationToken.None));
        var again = await reopened.AppendAsync([Record("a", "2"), Record("a", "3")], CancellationToken.None);
        Assert.Equal([AppendOutcome.Duplicate, AppendOutcome.Appended], again.Select(r => r.Outcome));
    }

    [Fact]
    public async Task TwoSilos_AppendingToOneLog_StoreEachIdOnce_AndKeepEachStreamsOrder()
    {
        await using var first = await PostgresEventLog.OpenAsync(_dataSource, _options);
        await using var otherDataSource = postgres.NewDataSource();
        await using var second = await PostgresEventLog.OpenAsync(otherDataSource, _options);

        // Both silos get the same retried batches (a client retrying through another gateway) and their own.
        var appends = Enumerable.Range(0, 20).SelectMany(b => new[]
        {
            first.AppendAsync(Enumerable.Range(0, 10).Select(i => Record($"s{b % 4}", $"shared-{b}-{i}")).ToList(), CancellationToken.None),
            second.AppendAsync(Enumerable.Range(0, 10).Select(i => Record($"s{b % 4}", $"shared-{b}-{i}")).ToList(), CancellationToken.None),
            second.AppendAsync(Enumerable.Range(0, 10).Select(i => Record($"t{b % 4}", $"own-{b}-{i}")).ToList(), CancellationToken.None),
        }).ToArray();
        var results = (await Task.WhenAll(appends)).SelectMany(r => r).ToList();

        Assert.Equal(400, results.Count(r => r.Outcome == AppendOutcome.Appended));
        Assert.Equal(400, await first.CountAsync(CancellationToken.None));
        var stream = new List<StoredRecord>();
        await foreach (var record in second.ReadStreamAsync("t1", 0, CancellationToken.None))
        {
            stream.Add(record);
        }

        // Batches of one stream from one appender keep their record order (the batches were issued in b order but may
        // commit in any order; inside a batch, i order).
        Assert.All(stream.GroupBy(r => r.EventId[..r.EventId.LastIndexOf('-')]), batch =>
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"{batch.Key}-{i}"), batch.Select(r => r.EventId)));
    }

    [Fact]
    public async Task Migration_IsIdempotent_AndSafeWhenManySilosStartAtOnce()
    {
        var opens = Enumerable.Range(0, 8).Select(async i =>
        {
            if (i % 2 == 0)
            {
                await using var log = await PostgresEventLog.OpenAsync(_dataSource, _options);
            }
            else
            {
                await PostgresSnapshotStore.OpenAsync(_dataSource, _options);
            }
        });
        await Task.WhenAll(opens);

        await using (var log = await PostgresEventLog.OpenAsync(_dataSource, _options))
        {
            await log.AppendAsync([Record("a", "kept")], CancellationToken.None);
        }

        await using var reopened = await PostgresEventLog.OpenAsync(_dataSource, _options);
        Assert.Equal(1, await reopened.CountAsync(CancellationToken.None));
        await using var versions = _dataSource.CreateCommand($"SELECT count(*), min(version), max(version) FROM \"{_options.Schema}\".schema_migrations");
        await using var reader = await versions.ExecuteReaderAsync();
        await reader.ReadAsync();
        // Every migration (1: event log and snapshots, 2: Orleans membership and reminders) recorded exactly once.
        Assert.Equal((2L, 1, 2), (reader.GetInt64(0), reader.GetInt32(1), reader.GetInt32(2)));
    }

    [Fact]
    public async Task Open_RejectsASchemaNameThatIsNotAPlainIdentifier()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            PostgresEventLog.OpenAsync(_dataSource, new PostgresStorageOptions { Schema = "x\"; DROP TABLE y; --" }));
        Assert.Contains("Schema", error.Message, StringComparison.Ordinal);
    }

    private async Task<long> WaitingForAdvisoryLockAsync()
    {
        await using var command = _dataSource.CreateCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for a condition");
            await Task.Delay(20);
        }
    }
}
