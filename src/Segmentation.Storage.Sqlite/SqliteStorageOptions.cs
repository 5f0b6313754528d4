using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Segmentation.Storage.Sqlite;

/// <summary>Settings of the SQLite stores.</summary>
public sealed class SqliteStorageOptions
{
    /// <summary>
    /// SQLite <c>synchronous</c>: <c>FULL</c> (default) fsyncs the WAL on every commit, so an acknowledged event survives
    /// power loss; <c>NORMAL</c> survives a process crash but may lose the last commits on power loss.
    /// </summary>
    public string Synchronous { get; set; } = "FULL";

    /// <summary>
    /// How much of the database file a writer connection reads through a memory map (SQLite <c>mmap_size</c>; 0 turns it
    /// off). Address space, not memory: the pages are the kernel's page cache, mapped rather than copied. The log's writer
    /// looks up every new event id in <c>event_ids</c>; with random ids each lookup reads a page SQLite's own 2 MB cache
    /// lacks, and a map turns that read from a system call and a copy into a memory access (at 1.6 million records:
    /// 9.9 → 5.3 µs of kernel time and 8.4 → 2.0 KB read per event).
    /// </summary>
    public long WriterMapBytes { get; set; } = 1L << 30;

    /// <summary>Most records one group-commit transaction takes.</summary>
    public int MaxRecordsPerCommit { get; set; } = 20_000;

    /// <summary>
    /// Records the event log's indexes (by stream, by event id) gather in memory before writing them, sorted, to their tables
    /// in one commit. The larger, the fewer pages each record dirties (one each when written record by record into a large
    /// index), and the more memory (about 90 bytes a record, held from opening) and records listed again from the log on
    /// opening after a crash.
    /// </summary>
    public int StreamIndexBatch { get; set; } = 100_000;

    /// <summary>
    /// Rows of each index a commit writes of a flush under way: a flush of <see cref="StreamIndexBatch"/> records is
    /// spread over the commits that follow it, so no commit's callers wait for all of it (written whole, 100,000 records
    /// held an append's acknowledgement up to 0.8 s at a load average of 7).
    /// </summary>
    public int IndexRowsPerCommit { get; set; } = 5_000;

    internal string SynchronousPragma => Synchronous.ToUpperInvariant() switch
    {
        "FULL" => "FULL",
        "NORMAL" => "NORMAL",
        "EXTRA" => "EXTRA",
        _ => throw new ArgumentException($"Synchronous must be FULL, NORMAL or EXTRA; got '{Synchronous}'."),
    };

    // Built once per file: readers open a pooled connection per read (two per user grain activation), and building the
    // string through SqliteConnectionStringBuilder each time was a good part of the activation's allocations.
    private static readonly ConcurrentDictionary<string, string> s_connectionStrings = new(StringComparer.Ordinal);

    internal static string ConnectionString(string path) => s_connectionStrings.GetOrAdd(path, static p => new SqliteConnectionStringBuilder
    {
        DataSource = p,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString());

    /// <summary>A pooled connection for reads (WAL mode is a property of the file, set by the writer).</summary>
    internal static async Task<SqliteConnection> OpenReaderAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// A writer connection: WAL, the configured synchronous level, a busy timeout, <c>secure_delete</c>, so whatever a
    /// write frees (a snapshot replaced, an erased user's records) is overwritten with zeros rather than left in free
    /// pages where it could be read back from the file, and reads through a memory map (<see cref="WriterMapBytes"/>).
    /// </summary>
    internal async Task<SqliteConnection> OpenAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={SynchronousPragma}; PRAGMA busy_timeout=30000; PRAGMA secure_delete=ON; PRAGMA mmap_size={WriterMapBytes};";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// Copies every page of the WAL into the database file and truncates the WAL to zero bytes, so pages that held deleted
    /// data (older versions of zeroed pages) are gone from both files. Waits (busy timeout) for writers and for readers of
    /// older snapshots; tries again a few times when it could not finish.
    /// </summary>
    internal static async Task TruncateWalAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            await using var reader = await checkpoint.ExecuteReaderAsync(cancellationToken);
            // One row: busy (1 when it could not finish), frames in the WAL, frames checkpointed.
            if (!await reader.ReadAsync(cancellationToken) || reader.GetInt32(0) == 0)
            {
                return;
            }

            if (attempt == 20)
            {
                throw new InvalidOperationException("The WAL could not be checkpointed and truncated: readers or a writer held it for too long.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}
