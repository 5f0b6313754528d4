using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SQLitePCL;

namespace Segmentation.Storage.Sqlite;

/// <summary>
/// The event log on SQLite (WAL), the embedded default. One table, <c>events(seq, stream_id, event_id UNIQUE, payload)</c>.
/// </summary>
/// <remarks>
/// Group commit: every <see cref="AppendAsync"/> call joins a queue; one writer loop takes everything queued (up to
/// <see cref="SqliteStorageOptions.MaxRecordsPerCommit"/> records), inserts it in one transaction and commits, and only
/// then completes the callers. Throughput comes from many events per fsync, not from weaker durability. If the
/// transaction fails, it is rolled back and every caller in it gets the exception (nothing acknowledged).
/// Sequence numbers are SQLite rowids assigned by the single writer, so they increase in commit order. Readers use
/// their own pooled connections; WAL lets them read while the writer writes.
/// </remarks>
public sealed class SqliteEventLog : IEventLog, IAsyncDisposable
{
    private const string StreamQuery = "SELECT seq, stream_id, event_id, payload FROM events WHERE stream_id = $stream AND seq > $after ORDER BY seq";

    private readonly string _path;
    private readonly SqliteStorageOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly SqliteReaderPool _readers;
    private readonly SemaphoreSlim _erasing = new(1, 1);
    private int _queued;

    /// <summary>Opens (creating if needed) the log at <paramref name="path"/> and starts the writer.</summary>
    public SqliteEventLog(string path, SqliteStorageOptions? options = null, ILogger<SqliteEventLog>? logger = null)
    {
        _path = path;
        _options = options ?? new SqliteStorageOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var connection = _options.OpenAsync(path, CancellationToken.None).GetAwaiter().GetResult();
        using (var schema = connection.CreateCommand())
        {
            schema.CommandText = """
                CREATE TABLE IF NOT EXISTS events (
                    seq INTEGER PRIMARY KEY,
                    stream_id TEXT NOT NULL,
                    event_id TEXT NOT NULL UNIQUE,
                    payload BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream_id, seq);
                """;
            schema.ExecuteNonQuery();
        }

        _readers = new SqliteReaderPool(path, Environment.ProcessorCount * 4);
        _writer = Task.Run(() => WriteLoopAsync(connection));
    }

    /// <inheritdoc />
    public Task<AppendResult[]> AppendAsync(IReadOnlyList<LogRecord> records, CancellationToken cancellationToken) =>
        AppendValueAsync(records, cancellationToken).AsTask();

    /// <inheritdoc />
    /// <remarks>Completed without a task: the pending append is the source of the ValueTask it returns.</remarks>
    public ValueTask<AppendResult[]> AppendValueAsync(IReadOnlyList<LogRecord> records, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (records.Count == 0)
        {
            return ValueTask.FromResult(Array.Empty<AppendResult>());
        }

        var pending = new PendingAppend(records);
        Interlocked.Increment(ref _queued);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The event log is closed or its writer failed; nothing was appended.");
        }

        return pending.Task;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<StoredRecord> ReadStreamAsync(string streamId, long afterSequence, CancellationToken cancellationToken) =>
        ReadStream(streamId, afterSequence, cancellationToken).ToAsyncEnumerable();

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredRecord> ReadAllAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, stream_id, event_id, payload FROM events WHERE seq > $after ORDER BY seq";
        command.Parameters.AddWithValue("$after", afterSequence);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return Read(reader);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ReadStreamIdsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // Walks the (stream_id, seq) index: one step per stream.
        command.CommandText = "SELECT DISTINCT stream_id FROM events ORDER BY stream_id";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader.GetString(0);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlySet<string>> ContainsAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        const int Chunk = 500;
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = await OpenReaderAsync(cancellationToken);
        foreach (var chunk in eventIds.Chunk(Chunk))
        {
            await using var command = connection.CreateCommand();
            var sql = new StringBuilder("SELECT event_id FROM events WHERE event_id IN (");
            for (var i = 0; i < chunk.Length; i++)
            {
                sql.Append(i == 0 ? "$p" : ", $p").Append(i);
                command.Parameters.AddWithValue("$p" + i, chunk[i]);
            }

            command.CommandText = sql.Append(')').ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                found.Add(reader.GetString(0));
            }
        }

        return found;
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM events";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    /// <remarks>A range over <c>events_by_stream</c> (BINARY collation: byte order of UTF-8, which is code point order).</remarks>
    public async Task<long> CountAsync(string streamPrefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        if (StreamPrefix.UpperBound(streamPrefix) is { } upper)
        {
            command.CommandText = "SELECT count(*) FROM events WHERE stream_id >= $from AND stream_id < $to";
            command.Parameters.AddWithValue("$to", upper);
        }
        else
        {
            command.CommandText = "SELECT count(*) FROM events WHERE stream_id >= $from";
        }

        command.Parameters.AddWithValue("$from", streamPrefix);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    /// <remarks>
    /// On a connection of its own (SQLite serialises it with the group commit through the busy timeout), with
    /// <c>secure_delete</c> on, so the rows' bytes (payloads, ids and index entries) are overwritten with zeros; then the
    /// WAL is checkpointed and truncated, so no older copy of those pages stays in it.
    /// </remarks>
    public Task<long> DeleteStreamAsync(string streamId, CancellationToken cancellationToken) =>
        EraseAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM events WHERE stream_id = $stream";
            command.Parameters.AddWithValue("$stream", streamId);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>As <see cref="DeleteStreamAsync"/>: zeroed pages, a truncated WAL; in chunks of 500 within one transaction.</remarks>
    public Task<long> DeleteAsync(IReadOnlyCollection<long> sequences, CancellationToken cancellationToken) =>
        EraseAsync(async (connection, transaction) =>
        {
            const int Chunk = 500;
            long deleted = 0;
            foreach (var chunk in sequences.Chunk(Chunk))
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "DELETE FROM events WHERE seq IN (" + string.Join(", ", Enumerable.Range(0, chunk.Length).Select(i => "$p" + i)) + ")";
                for (var i = 0; i < chunk.Length; i++)
                {
                    command.Parameters.AddWithValue("$p" + i, chunk[i]);
                }

                deleted += await command.ExecuteNonQueryAsync(cancellationToken);
            }

            return deleted;
        }, cancellationToken);

    // One erasure at a time, on its own writer connection; committed, then the WAL truncated.
    private async Task<long> EraseAsync(Func<SqliteConnection, SqliteTransaction, Task<long>> delete, CancellationToken cancellationToken)
    {
        await _erasing.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await _options.OpenAsync(_path, cancellationToken);
            long deleted;
            await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                deleted = await delete(connection, transaction);
                await transaction.CommitAsync(cancellationToken);
            }

            if (deleted > 0)
            {
                await SqliteStorageOptions.TruncateWalAsync(connection, cancellationToken);
            }

            return deleted;
        }
        finally
        {
            _erasing.Release();
        }
    }

    /// <summary>Stops taking appends, commits what is queued, and closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
        _readers.Dispose();
        SqliteConnection.ClearAllPools();
    }

    private Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken) => SqliteStorageOptions.OpenReaderAsync(_path, cancellationToken);

    // Every user grain activation reads its stream: a pooled connection with the statement prepared (see
    // SqliteReaderPool). Synchronous, as SQLite reads are under Microsoft.Data.Sqlite's async methods anyway.
    private IEnumerable<StoredRecord> ReadStream(string streamId, long afterSequence, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var connection = _readers.Rent();
        try
        {
            var command = connection.Command(StreamQuery, "$stream", "$after");
            command.Parameters[0].Value = streamId;
            command.Parameters[1].Value = afterSequence;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                yield return Read(reader);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            _readers.Return(connection);
        }
    }

    private static StoredRecord Read(SqliteDataReader reader) =>
        new(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), (byte[])reader.GetValue(3));

    private async Task WriteLoopAsync(SqliteConnection connection)
    {
        var group = new List<PendingAppend>();
        try
        {
            await using (connection)
            {
                using var inserts = new RowInserter(connection);
                while (await _queue.Reader.WaitToReadAsync())
                {
                    // Group-commit window: while appends keep arriving (the grains of one request finishing their
                    // turns), let them join this commit instead of each paying its own fsync.
                    for (var (seen, rounds) = (-1, 0); Volatile.Read(ref _queued) != seen && rounds < 8; rounds++)
                    {
                        seen = Volatile.Read(ref _queued);
                        Thread.Yield();
                    }

                    group.Clear();
                    var records = 0;
                    while (records < _options.MaxRecordsPerCommit && _queue.Reader.TryRead(out var pending))
                    {
                        Interlocked.Decrement(ref _queued);
                        group.Add(pending);
                        records += pending.Records.Count;
                    }

                    try
                    {
                        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
                        inserts.Insert(group);
                        await transaction.CommitAsync();
                    }
                    catch (Exception ex)
                    {
                        SqliteLog.CommitFailed(_logger, group.Count, records, ex);
                        Fail(group, ex);
                        continue;
                    }

                    foreach (var pending in group)
                    {
                        pending.TrySetResult();
                    }

                    group.Clear();
                }
            }
        }
        catch (Exception ex)
        {
            // The writer itself broke (not one commit): refuse new appends and fail every waiting caller, so no
            // caller hangs and none is acknowledged.
            SqliteLog.WriterFailed(_logger, ex);
            _queue.Writer.TryComplete(ex);
            Fail(group, ex);
            while (_queue.Reader.TryRead(out var pending))
            {
                pending.TrySetException(ex);
            }
        }
    }

    private static void Fail(List<PendingAppend> group, Exception exception)
    {
        foreach (var pending in group)
        {
            pending.TrySetException(exception);
        }
    }

    /// <summary>
    /// Inserts a commit group a row at a time through one statement prepared for the writer's life, bound and stepped with
    /// SQLitePCL's calls rather than through a <see cref="SqliteCommand"/>. The command path cost more than SQLite's own
    /// work: per row a parameter binder object, a UTF-8 copy of each string, and the event id read back as a new string to
    /// match the returned rows to the records; per statement its statement list and data reader. Here a row allocates
    /// nothing: the strings are encoded into one reused buffer (SQLite copies what is bound), and whether the row was
    /// stored is the step's answer itself: <c>ON CONFLICT DO NOTHING RETURNING seq</c> returns the row's sequence when it
    /// was stored and no row when its event id was stored before (by an earlier commit or an earlier row of this group).
    /// </summary>
    /// <remarks>
    /// Runs inside the writer's <c>BEGIN IMMEDIATE</c> transaction on the same connection, so its rows commit or roll back
    /// with it; the connection's busy timeout applies to these steps as to any other.
    /// </remarks>
    private sealed class RowInserter : IDisposable
    {
        private const string InsertSql = "INSERT INTO events (stream_id, event_id, payload) VALUES (?1, ?2, ?3) ON CONFLICT (event_id) DO NOTHING RETURNING seq";
        private readonly sqlite3 _database;
        private readonly sqlite3_stmt _insert;
        private byte[] _text = new byte[256];

        public RowInserter(SqliteConnection connection)
        {
            _database = connection.Handle ?? throw new InvalidOperationException("The writer's connection is not open.");
            var rc = raw.sqlite3_prepare_v3(_database, InsertSql, raw.SQLITE_PREPARE_PERSISTENT, out var insert);
            SqliteException.ThrowExceptionForRC(rc, _database);
            _insert = insert;
        }

        public void Insert(List<PendingAppend> group)
        {
            foreach (var pending in group)
            {
                var records = pending.Records;
                for (var i = 0; i < records.Count; i++)
                {
                    pending.Results[i] = Insert(records[i]);
                }
            }
        }

        public void Dispose() => _insert.Dispose();

        private AppendResult Insert(LogRecord record)
        {
            try
            {
                Check(BindText(1, record.StreamId));
                Check(BindText(2, record.EventId));
                // An empty span would bind NULL (no pointer to pass), which the NOT NULL column refuses: an empty blob instead.
                Check(record.Payload.IsEmpty ? raw.sqlite3_bind_zeroblob(_insert, 3, 0) : raw.sqlite3_bind_blob(_insert, 3, record.Payload.Span));
                var rc = raw.sqlite3_step(_insert);
                if (rc == raw.SQLITE_DONE)
                {
                    return new AppendResult(AppendOutcome.Duplicate, 0);
                }

                if (rc != raw.SQLITE_ROW)
                {
                    Check(rc);
                }

                var sequence = raw.sqlite3_column_int64(_insert, 0);
                rc = raw.sqlite3_step(_insert);
                if (rc != raw.SQLITE_DONE)
                {
                    Check(rc);
                }

                return new AppendResult(AppendOutcome.Appended, sequence);
            }
            finally
            {
                // Ready for the next row; after a failed step this returns the same error, already thrown above.
                raw.sqlite3_reset(_insert);
            }
        }

        private int BindText(int index, string text)
        {
            if (text.Length == 0)
            {
                // As for blobs: an empty span has no pointer and would bind NULL.
                return raw.sqlite3_bind_text(_insert, index, "");
            }

            var most = Encoding.UTF8.GetMaxByteCount(text.Length);
            if (most > _text.Length)
            {
                _text = new byte[Math.Max(most, _text.Length * 2)];
            }

            var length = Encoding.UTF8.GetBytes(text, _text);
            return raw.sqlite3_bind_text(_insert, index, _text.AsSpan(0, length));
        }

        private void Check(int rc)
        {
            if (rc != raw.SQLITE_OK)
            {
                SqliteException.ThrowExceptionForRC(rc, _database);
            }
        }
    }

    // One append call waiting for its commit, and the source of the ValueTask its caller awaits: every ingest call to a
    // user grain makes one, and a Task awaited in a grain turn costs a continuation object, a delegate and a task to
    // resume on the activation, where this source's completion costs the task alone. Used once, never reset or pooled, so
    // a completion can only ever reach the caller whose records these are.
    private sealed class PendingAppend(IReadOnlyList<LogRecord> records) : IValueTaskSource<AppendResult[]>
    {
        // RunContinuationsAsynchronously: the writer completes a whole group and goes on to the next commit; no caller's
        // continuation runs on it (it is queued to the scheduler the caller awaited on, else the thread pool).
        private ManualResetValueTaskSourceCore<AppendResult[]> _completion = new() { RunContinuationsAsynchronously = true };

        // 1 once completed: the first of a commit's result and the writer's failure wins, as with TrySet on a task.
        private int _completed;

        public IReadOnlyList<LogRecord> Records { get; } = records;

        public AppendResult[] Results { get; } = new AppendResult[records.Count];

        public ValueTask<AppendResult[]> Task => new(this, _completion.Version);

        public void TrySetResult()
        {
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                _completion.SetResult(Results);
            }
        }

        public void TrySetException(Exception exception)
        {
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                _completion.SetException(exception);
            }
        }

        public AppendResult[] GetResult(short token) => _completion.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }
}

internal static partial class SqliteLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Group commit of {Calls} appends ({Records} records) failed and was rolled back")]
    public static partial void CommitFailed(ILogger logger, int calls, int records, Exception exception);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Critical, Message = "The event log writer stopped; appends fail until the process restarts")]
    public static partial void WriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Group commit of {Changes} snapshot changes failed and was rolled back")]
    public static partial void SnapshotCommitFailed(ILogger logger, int changes, Exception exception);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Critical, Message = "The snapshot store's writer stopped; snapshot writes fail until the process restarts")]
    public static partial void SnapshotWriterFailed(ILogger logger, Exception exception);
}
