using Segmentation.Storage;
using Segmentation.Storage.Tests;

namespace Segmentation.Storage.Sqlite.Tests;

internal static class TempFiles
{
    public static string NewPath() => Path.Combine(Path.GetTempPath(), "seg-sqlite-" + Guid.NewGuid().ToString("N") + ".db");
}

/// <summary>The conformance suite and the SQLite log's own tests, with the stream index as configured by default.</summary>
public sealed class SqliteEventLogTests : SqliteEventLogTestsBase
{
    protected override SqliteStorageOptions Options => new();
}

/// <summary>
/// The same with indexes that begin a flush every 7 records and write it 3 rows a commit, so each test's reads cross the
/// line between the tables and the records listed in memory, often while a flush is under way, and erasures take from
/// both.
/// </summary>
public sealed class SqliteEventLogSmallStreamIndexBatchTests : SqliteEventLogTestsBase
{
    protected override SqliteStorageOptions Options => new() { StreamIndexBatch = 7, IndexRowsPerCommit = 3 };
}

public abstract class SqliteEventLogTestsBase : EventLogConformanceTests
{
    private readonly string _path = TempFiles.NewPath();

    protected abstract SqliteStorageOptions Options { get; }

    protected override Task<IEventLog> CreateAsync() => Task.FromResult<IEventLog>(new SqliteEventLog(_path, Options));

    [Fact]
    public async Task CommittedRecords_SurviveReopening()
    {
        await Log.AppendAsync([Record("a", "1"), Record("a", "2")], CancellationToken.None);
        await ((SqliteEventLog)Log).DisposeAsync();

        await using var reopened = new SqliteEventLog(_path, Options);
        Assert.Equal(2, await reopened.CountAsync(CancellationToken.None));
        var again = await reopened.AppendAsync([Record("a", "2"), Record("a", "3")], CancellationToken.None);
        Assert.Equal([AppendOutcome.Duplicate, AppendOutcome.Appended], again.Select(r => r.Outcome));
    }

    [Fact]
    public async Task NonAsciiAndLongIds_AndAnEmptyPayload_AreStoredAsGiven()
    {
        // The writer encodes ids into a buffer of its own (256 bytes at first): longer ones, and ones of several bytes a
        // character, must come back unchanged; an empty payload is an empty blob, not a missing one.
        var longId = string.Concat(Enumerable.Repeat("é-日本-", 200));
        var records = new[] { new LogRecord("tenant/ünïcødé", "évènement-1", new byte[] { 1, 2 }), new LogRecord("s", longId, Array.Empty<byte>()), new LogRecord(longId, "x", new byte[] { 3 }) };

        var results = await Log.AppendAsync(records, CancellationToken.None);

        Assert.All(results, r => Assert.Equal(AppendOutcome.Appended, r.Outcome));
        var stored = new List<StoredRecord>();
        await foreach (var record in Log.ReadAllAsync(0, CancellationToken.None))
        {
            stored.Add(record);
        }

        Assert.Equal(records.Select(r => (r.StreamId, r.EventId, Convert.ToHexString(r.Payload.Span))), stored.Select(r => (r.StreamId, r.EventId, Convert.ToHexString(r.Payload.Span))));
        Assert.Equal(AppendOutcome.Duplicate, (await Log.AppendAsync([new LogRecord("other", longId, new byte[] { 9 })], CancellationToken.None))[0].Outcome);
    }

    [Fact]
    public async Task ReadersSeeCommittedData_WhileTheWriterWrites()
    {
        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                await Log.AppendAsync(Enumerable.Range(0, 20).Select(j => Record("w", $"{i}-{j}")).ToList(), CancellationToken.None);
            }
        });
        long last = 0;
        while (!writing.IsCompleted)
        {
            var count = await Log.CountAsync(CancellationToken.None);
            Assert.True(count >= last && count % 20 == 0, $"a reader saw {count} records: commits must be whole");
            last = count;
        }

        await writing;
        Assert.Equal(1000, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task DeleteStream_LeavesNoneOfItsBytes_InTheDatabaseOrTheWal()
    {
        const string Marker = "erase-me-7f3a9c";
        await Log.AppendAsync([.. Enumerable.Range(0, 200).Select(i => Record("kept", $"k{i}", new string('k', 300)))], CancellationToken.None);
        await Log.AppendAsync([.. Enumerable.Range(0, 50).Select(i => Record(Marker, $"{Marker}-{i}", $"payload of {Marker} {i}"))], CancellationToken.None);
        await Log.AppendAsync([.. Enumerable.Range(200, 200).Select(i => Record("kept", $"k{i}", new string('k', 300)))], CancellationToken.None);
        Assert.True(FilesContain(Marker), "the marker must be in the files before the erasure, or the check below proves nothing");

        Assert.Equal(50, await Log.DeleteStreamAsync(Marker, CancellationToken.None));

        Assert.False(FilesContain(Marker), "the erased stream's bytes are still in the database file or its WAL");
        Assert.Equal(400, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AfterACrash_TheRecordsTheIndexTableLacks_AreReadFromTheLog()
    {
        // A crash leaves the index table behind the log (nothing flushes at close): a copy of the files taken while the log
        // is open and idle is what a crash leaves. Reopened, every stream reads whole and in order.
        var expected = new Dictionary<string, List<string>>();
        for (var i = 0; i < 40; i++)
        {
            var stream = $"s{i % 6}";
            await Log.AppendAsync([Record(stream, $"e{i}")], CancellationToken.None);
            (expected.TryGetValue(stream, out var ids) ? ids : expected[stream] = []).Add($"e{i}");
        }

        var copy = TempFiles.NewPath();
        try
        {
            foreach (var suffix in new[] { "", "-wal" })
            {
                File.Copy(_path + suffix, copy + suffix);
            }

            await using var reopened = new SqliteEventLog(copy, Options);
            foreach (var (stream, ids) in expected)
            {
                Assert.Equal(ids, await EventIdsAsync(reopened, stream, 0));
            }

            Assert.Equal(expected.Keys.Order(), (await StreamIdsAsync(reopened)).Order());
            Assert.Equal(40, await reopened.CountAsync("s", CancellationToken.None));
            await reopened.AppendAsync([Record("s1", "e40")], CancellationToken.None);
            Assert.Equal([.. expected["s1"], "e40"], await EventIdsAsync(reopened, "s1", 0));
        }
        finally
        {
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(copy + suffix);
            }
        }
    }

    [Fact]
    public async Task ALogWrittenWithTheOldIndexes_IsReadWhole_AndRebuiltWithout()
    {
        // Logs written before the indexes had tables of their own carry SQLite's index events_by_stream and a UNIQUE
        // event_id column instead.
        var old = TempFiles.NewPath();
        try
        {
            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={old};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = """
                    PRAGMA journal_mode=WAL;
                    CREATE TABLE events (seq INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, payload BLOB NOT NULL);
                    CREATE INDEX events_by_stream ON events (stream_id, seq);
                    INSERT INTO events (stream_id, event_id, payload) VALUES ('a', 'a1', x'01'), ('b', 'b1', x'02'), ('a', 'a2', x'03');
                    """;
                command.ExecuteNonQuery();
            }

            await using (var log = new SqliteEventLog(old, Options))
            {
                Assert.Equal(["a1", "a2"], await EventIdsAsync(log, "a", 0));
                Assert.Equal(["a2"], await EventIdsAsync(log, "a", 1));
                var appended = await log.AppendAsync([Record("a", "a3"), Record("b", "b1")], CancellationToken.None);
                Assert.Equal([AppendOutcome.Appended, AppendOutcome.Duplicate], appended.Select(r => r.Outcome));
                Assert.Equal(["a1", "a2", "a3"], await EventIdsAsync(log, "a", 0));
                Assert.Equal(["a", "b"], (await StreamIdsAsync(log)).Order());
                Assert.Equal(1, await log.DeleteStreamAsync("b", CancellationToken.None));
                Assert.Equal(3, await log.CountAsync(CancellationToken.None));
            }

            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={old};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'";
                Assert.Equal(0L, command.ExecuteScalar());
            }
        }
        finally
        {
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(old + suffix);
            }
        }
    }

    [Fact]
    public async Task ReadsWhileTheIndexFlushes_SeeEveryRecordOnce()
    {
        // Readers run beside a writer whose commits move records from memory to the index table: a stream read must
        // neither miss a record nor return one twice, whichever side of a flush it reads.
        const int Appends = 300;
        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < Appends; i++)
            {
                await Log.AppendAsync([Record("r", $"r{i}"), Record($"other{i % 13}", $"o{i}")], CancellationToken.None);
            }
        });
        var reads = 0;
        while (!writing.IsCompleted || reads == 0)
        {
            var ids = await EventIdsAsync(Log, "r", 0);
            Assert.Equal(Enumerable.Range(0, ids.Count).Select(i => $"r{i}"), ids);
            reads++;
        }

        await writing;
        Assert.Equal(Appends, (await EventIdsAsync(Log, "r", 0)).Count);
        Assert.Equal(Appends * 2, await Log.CountAsync("", CancellationToken.None));
    }

    [Fact]
    public async Task AnErasureWhileAFlushIsUnderWay_LeavesNoneOfItsRowsOrBytes()
    {
        // With the small batch, the marker's records are taken by a flush that writes 3 rows a commit; the erasure comes
        // while that flush is under way, and the commits after it finish the flush: none may write the erased records'
        // rows back, and the reads stay whole.
        const string Marker = "flush-erase-5b1d";
        await Log.AppendAsync([.. Enumerable.Range(0, 12).Select(i => Record(Marker, $"{Marker}-{i}", $"payload of {Marker} {i}"))], CancellationToken.None);
        await Log.AppendAsync([Record("kept", "k-first")], CancellationToken.None);
        await Log.AppendAsync([Record("kept", "k-second")], CancellationToken.None);

        Assert.Equal(12, await Log.DeleteStreamAsync(Marker, CancellationToken.None));
        for (var i = 0; i < 40; i++)
        {
            await Log.AppendAsync([Record("kept", $"k{i}")], CancellationToken.None);
        }

        Assert.Empty(await EventIdsAsync(Log, Marker, 0));
        Assert.Equal(42, (await EventIdsAsync(Log, "kept", 0)).Count);
        Assert.DoesNotContain(Marker, await StreamIdsAsync(Log));
        Assert.Empty(await Log.ContainsAsync([$"{Marker}-0", $"{Marker}-11"], CancellationToken.None));
        Assert.Equal(AppendOutcome.Appended, (await Log.AppendAsync([Record("other", $"{Marker}-3")], CancellationToken.None))[0].Outcome);
        Assert.Equal(1, await Log.DeleteStreamAsync("other", CancellationToken.None));
        Assert.False(FilesContain(Marker), "an erased record's rows or bytes are back in the database file or its WAL");
    }

    private static async Task<List<string>> EventIdsAsync(IEventLog log, string stream, long after)
    {
        var ids = new List<string>();
        await foreach (var record in log.ReadStreamAsync(stream, after, CancellationToken.None))
        {
            ids.Add(record.EventId);
        }

        return ids;
    }

    private static async Task<List<string>> StreamIdsAsync(IEventLog log)
    {
        var ids = new List<string>();
        await foreach (var stream in log.ReadStreamIdsAsync(CancellationToken.None))
        {
            ids.Add(stream);
        }

        return ids;
    }

    private bool FilesContain(string text)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(text);
        return new[] { "", "-wal" }.Select(suffix => _path + suffix).Where(File.Exists).Any(file =>
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.GetBuffer().AsSpan(0, (int)copy.Length).IndexOf(needle) >= 0;
        });
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_path + suffix);
        }
    }
}

public sealed class SqliteSnapshotStoreTests : SnapshotStoreConformanceTests
{
    private readonly string _path = TempFiles.NewPath();

    protected override Task<ISnapshotStore> CreateAsync() => Task.FromResult<ISnapshotStore>(new SqliteSnapshotStore(_path));

    [Fact]
    public async Task Snapshots_SurviveReopening_WithTheirETags()
    {
        var etag = await Store.WriteAsync("k", new byte[] { 9 }, 7, null, CancellationToken.None);
        await ((SqliteSnapshotStore)Store).DisposeAsync();

        await using var reopened = new SqliteSnapshotStore(_path);
        var snapshot = await reopened.ReadAsync("k", CancellationToken.None);
        Assert.Equal((7L, etag), (snapshot!.Sequence, snapshot.ETag));
        await reopened.WriteAsync("k", new byte[] { 10 }, 8, etag, CancellationToken.None);
    }

    [Fact]
    public async Task ConcurrentWrites_CommitTogether_AndAStaleOneAmongThemFailsAlone()
    {
        // What a silo's shutdown does: every activation writes its snapshot at once. Each write waiting when the writer
        // is free joins one transaction (one fsync), and a write with a stale ETag is refused without taking the others
        // of its transaction with it.
        var store = (SqliteSnapshotStore)Store;
        const int keys = 2_000;
        var etags = await Task.WhenAll(Enumerable.Range(0, keys).Select(i => store.WriteAsync($"u{i}", new byte[] { 1 }, 1, null, CancellationToken.None)));
        var before = store.Commits;

        var writes = Enumerable.Range(0, keys)
            .Select(i => store.WriteAsync($"u{i}", new byte[] { 2, (byte)i }, 2, i % 100 == 7 ? "stale" : etags[i], CancellationToken.None))
            .ToArray();
        var outcomes = await Task.WhenAll(writes.Select(async write =>
        {
            try
            {
                return (ETag: await write, Refused: (InconsistentStateException?)null);
            }
            catch (InconsistentStateException ex)
            {
                return (ETag: (string?)null, Refused: ex);
            }
        }));

        var commits = store.Commits - before;
        Assert.InRange(commits, 1, keys / 10);
        for (var i = 0; i < keys; i++)
        {
            var stored = await store.ReadAsync($"u{i}", CancellationToken.None);
            if (i % 100 == 7)
            {
                Assert.Equal(etags[i], outcomes[i].Refused!.ActualETag);
                Assert.Equal((1L, etags[i]), (stored!.Sequence, stored.ETag));
            }
            else
            {
                Assert.Null(outcomes[i].Refused);
                Assert.Equal((2L, outcomes[i].ETag), (stored!.Sequence, stored.ETag));
                Assert.Equal(new byte[] { 2, (byte)i }, stored.Data.ToArray());
            }
        }
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
            // Already closed by a test that reopened the file.
        }

        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_path + suffix);
        }
    }
}
