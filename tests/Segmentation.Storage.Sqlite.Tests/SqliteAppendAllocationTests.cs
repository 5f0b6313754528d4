using System.Text;
using Segmentation.Storage;

namespace Segmentation.Storage.Sqlite.Tests;

/// <summary>Tests that count the bytes this process allocates: they run alone, so no other test's allocations count.</summary>
[CollectionDefinition(nameof(AllocationMeasurements), DisableParallelization = true)]
public sealed class AllocationMeasurements;

[Collection(nameof(AllocationMeasurements))]
public sealed class SqliteAppendAllocationTests : IAsyncLifetime
{
    private const int Batches = 20;
    private const int BatchSize = 1_000;

    // What an append must allocate per record: its slot in the results array (an AppendResult, 16 bytes). Everything else
    // is per call or per commit (the pending append, its task, the transaction), a few bytes per record at 1,000 records
    // a call. Binding a row through SqliteCommand allocated about 350 bytes per record (a binder per parameter, a UTF-8
    // copy of each string, the event id read back to match the returned row).
    private const long MostBytesPerRecord = 64;

    private readonly string _path = TempFiles.NewPath();
    private SqliteEventLog _log = null!;

    public Task InitializeAsync()
    {
        _log = new SqliteEventLog(_path);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _log.DisposeAsync();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_path + suffix);
        }
    }

    [Fact]
    public async Task Appending_AllocatesNoGarbagePerRecord_BeyondItsResult()
    {
        var batches = Enumerable.Range(0, Batches + 1).Select(b => Enumerable.Range(0, BatchSize).Select(i =>
        {
            var n = (b * BatchSize) + i;
            // Every other record repeats an id the batch before stored (its record just before this one's place):
            // duplicates are counted too.
            var id = i % 2 == 0 || b == 0 ? $"event-{n}" : $"event-{n - BatchSize - 1}";
            return new LogRecord($"default/user-{n % 997}", id, Encoding.UTF8.GetBytes($"payload of {id}"));
        }).ToArray()).ToArray();
        // The first batch prepares the statement and compiles the path; it is not counted.
        await _log.AppendAsync(batches[0], CancellationToken.None);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var appended = 0;
        for (var b = 1; b <= Batches; b++)
        {
            appended += (await _log.AppendAsync(batches[b], CancellationToken.None)).Count(r => r.Outcome == AppendOutcome.Appended);
        }

        var perRecord = (GC.GetTotalAllocatedBytes(precise: true) - before) / (Batches * BatchSize);

        Assert.Equal(Batches * BatchSize / 2, appended);
        Assert.True(perRecord <= MostBytesPerRecord, $"{perRecord} bytes allocated per record appended");
    }

    [Fact]
    public async Task FlushingTheIndexTail_ReusesItsSortedRows_AllocatingNothingPerRecord()
    {
        // A flush every 2,000 records (a commit each, all rows in one slice): its sorted rows (a stream row and an event id
        // row per record, about 40 bytes) were new lists every flush; now the lists of the flush before are refilled.
        // Measured against the same appends to a log that does not flush, so only what flushing adds counts.
        var flushing = TempFiles.NewPath();
        try
        {
            await using var log = new SqliteEventLog(flushing, new SqliteStorageOptions { StreamIndexBatch = 2 * BatchSize });
            var withFlushes = await BytesPerRecordAsync(log, "flushing");
            var withoutFlushes = await BytesPerRecordAsync(_log, "not flushing");
            Assert.True(withFlushes - withoutFlushes <= 8, $"{withFlushes} bytes per record with flushes against {withoutFlushes} without");
        }
        finally
        {
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(flushing + suffix);
            }
        }
    }

    // Appends Batches batches of new records, after a few that warm the path and take the flushing log through two
    // flushes (its tail and lists at their size), and returns the bytes allocated per record.
    private static async Task<long> BytesPerRecordAsync(SqliteEventLog log, string prefix)
    {
        const int warmUp = 6;
        var batches = Enumerable.Range(0, Batches + warmUp).Select(b => Enumerable.Range(0, BatchSize).Select(i =>
        {
            var id = $"{prefix}-{(b * BatchSize) + i}";
            return new LogRecord($"default/user-{i % 997}", id, Encoding.UTF8.GetBytes(id));
        }).ToArray()).ToArray();
        for (var b = 0; b < warmUp; b++)
        {
            await log.AppendAsync(batches[b], CancellationToken.None);
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var b = warmUp; b < batches.Length; b++)
        {
            await log.AppendAsync(batches[b], CancellationToken.None);
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (Batches * BatchSize);
    }
}
