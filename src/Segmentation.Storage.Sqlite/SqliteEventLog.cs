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
/// The event log on SQLite (WAL), the embedded default: <c>events(seq, stream_id, event_id, payload)</c>, with two indexes
/// written in batches (<see cref="IndexTail"/>): <c>stream_index(stream_id, seq)</c> to read one stream and
/// <c>event_ids(event_id, seq)</c>, by which an event id is stored once.
/// </summary>
/// <remarks>
/// Group commit: every <see cref="AppendAsync"/> call joins a queue; one writer loop takes everything queued (up to
/// <see cref="SqliteStorageOptions.MaxRecordsPerCommit"/> records), inserts it in one transaction and commits, and only
/// then completes the callers. Throughput comes from many events per fsync, not from weaker durability. If the
/// transaction fails, it is rolled back and every caller in it gets the exception (nothing acknowledged).
/// Sequence numbers are SQLite rowids assigned by the single writer, so they increase in commit order. Readers use
/// their own pooled connections; WAL lets them read while the writer writes.
/// The indexes lag the events: the records committed since their last flush are listed in memory; a stream read takes the
/// table's part and then those, and the writer asks both for an event id before it stores one. The writer flushes them,
/// sorted, in the transaction of the commit that brings them to <see cref="SqliteStorageOptions.StreamIndexBatch"/>, with
/// the sequence number they cover through (<c>log_meta</c>); on opening, the records after it are listed again from
/// <c>events</c>. So the indexes are derived data: a crash loses none of them.
/// </remarks>
public sealed class SqliteEventLog : IEventLog, IAsyncDisposable
{
    private const string StreamQuery = """
        SELECT e.seq, e.stream_id, e.event_id, e.payload FROM stream_index i CROSS JOIN events e ON e.seq = i.seq
        WHERE i.stream_id = $stream AND i.seq > $after AND i.seq <= $through ORDER BY i.seq
        """;

    private const string RecordQuery = "SELECT seq, stream_id, event_id, payload FROM events WHERE seq = $seq";

    private readonly string _path;
    private readonly SqliteStorageOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly SqliteReaderPool _readers;
    private readonly SemaphoreSlim _erasing = new(1, 1);
    private readonly IndexTail _tail;
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
                    event_id TEXT NOT NULL,
                    payload BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS stream_index (
                    stream_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (stream_id, seq)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS event_ids (
                    event_id TEXT NOT NULL PRIMARY KEY,
                    seq INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS log_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                """;
            schema.ExecuteNonQuery();
        }

        _tail = OpenIndexes(connection, _options.StreamIndexBatch + _options.MaxRecordsPerCommit);

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
        var unindexed = _tail.Streams(out var indexedThrough);
        await using (var connection = await OpenReaderAsync(cancellationToken))
        {
            await using var command = connection.CreateCommand();
            // Walks the stream index: one step per stream.
            command.CommandText = "SELECT DISTINCT stream_id FROM stream_index WHERE seq <= $through ORDER BY stream_id";
            command.Parameters.AddWithValue("$through", indexedThrough);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var stream = reader.GetString(0);
                if (!unindexed.Contains(stream))
                {
                    yield return stream;
                }
            }
        }

        foreach (var stream in unindexed)
        {
            yield return stream;
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlySet<string>> ContainsAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        const int Chunk = 500;
        // As for stream reads: what is not in the table yet first, then the table up to what it held at that moment.
        var found = _tail.CommittedEventIds(eventIds, out var indexedThrough);
        await using var connection = await OpenReaderAsync(cancellationToken);
        foreach (var chunk in eventIds.Chunk(Chunk))
        {
            await using var command = connection.CreateCommand();
            command.Parameters.AddWithValue("$through", indexedThrough);
            var sql = new StringBuilder("SELECT event_id FROM event_ids WHERE seq <= $through AND event_id IN (");
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
    /// <remarks>A range over <c>stream_index</c> (BINARY collation: byte order of UTF-8, which is code point order).</remarks>
    public async Task<long> CountAsync(string streamPrefix, CancellationToken cancellationToken)
    {
        var unindexed = _tail.CountOf(streamPrefix, out var indexedThrough);
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        if (StreamPrefix.UpperBound(streamPrefix) is { } upper)
        {
            command.CommandText = "SELECT count(*) FROM stream_index WHERE stream_id >= $from AND stream_id < $to AND seq <= $through";
            command.Parameters.AddWithValue("$to", upper);
        }
        else
        {
            command.CommandText = "SELECT count(*) FROM stream_index WHERE stream_id >= $from AND seq <= $through";
        }

        command.Parameters.AddWithValue("$from", streamPrefix);
        command.Parameters.AddWithValue("$through", indexedThrough);
        return unindexed + Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    /// <remarks>
    /// On a connection of its own (SQLite serialises it with the group commit through the busy timeout), with
    /// <c>secure_delete</c> on, so the rows' bytes (payloads, ids and index entries) are overwritten with zeros; then the
    /// WAL is checkpointed and truncated, so no older copy of those pages stays in it.
    /// </remarks>
    public Task<long> DeleteStreamAsync(string streamId, CancellationToken cancellationToken) =>
        EraseAsync(async (connection, transaction, taken) =>
        {
            long deleted;
            await using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = """
                    DELETE FROM event_ids WHERE event_id IN
                        (SELECT e.event_id FROM stream_index i CROSS JOIN events e ON e.seq = i.seq WHERE i.stream_id = $stream)
                    """;
                command.Parameters.AddWithValue("$stream", streamId);
                await command.ExecuteNonQueryAsync(cancellationToken);
                command.CommandText = "DELETE FROM events WHERE seq IN (SELECT seq FROM stream_index WHERE stream_id = $stream)";
                deleted = await command.ExecuteNonQueryAsync(cancellationToken);
                command.CommandText = "DELETE FROM stream_index WHERE stream_id = $stream";
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            // Taken while this transaction holds the write lock, so no flush can write them to the table meanwhile.
            taken.AddRange(_tail.Remove(streamId));
            return deleted + await DeleteRecordsAsync(connection, transaction, taken.Select(r => r.Sequence).ToList(), cancellationToken);
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>As <see cref="DeleteStreamAsync"/>: zeroed pages, a truncated WAL; in chunks of 500 within one transaction.</remarks>
    public Task<long> DeleteAsync(IReadOnlyCollection<long> sequences, CancellationToken cancellationToken) =>
        EraseAsync(async (connection, transaction, taken) =>
        {
            var deleted = await DeleteRecordsAsync(connection, transaction, sequences, cancellationToken);
            taken.AddRange(_tail.Remove(sequences as IReadOnlySet<long> ?? sequences.ToHashSet()));
            return deleted;
        }, cancellationToken);

    // Deletes records and their stream index rows, in chunks of 500.
    private static async Task<long> DeleteRecordsAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyCollection<long> sequences, CancellationToken cancellationToken)
    {
        const int Chunk = 500;
        long deleted = 0;
        foreach (var chunk in sequences.Chunk(Chunk))
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            var list = string.Join(", ", Enumerable.Range(0, chunk.Length).Select(i => "$p" + i));
            for (var i = 0; i < chunk.Length; i++)
            {
                command.Parameters.AddWithValue("$p" + i, chunk[i]);
            }

            command.CommandText = $"DELETE FROM stream_index WHERE (stream_id, seq) IN (SELECT stream_id, seq FROM events WHERE seq IN ({list}))";
            await command.ExecuteNonQueryAsync(cancellationToken);
            command.CommandText = $"DELETE FROM event_ids WHERE event_id IN (SELECT event_id FROM events WHERE seq IN ({list}))";
            await command.ExecuteNonQueryAsync(cancellationToken);
            command.CommandText = $"DELETE FROM events WHERE seq IN ({list})";
            deleted += await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return deleted;
    }

    // One erasure at a time, on its own writer connection; committed, then the WAL truncated. What it took out of the
    // stream index's unflushed tail goes back there if it does not commit.
    private async Task<long> EraseAsync(Func<SqliteConnection, SqliteTransaction, List<(string Stream, long Sequence, string EventId)>, Task<long>> delete, CancellationToken cancellationToken)
    {
        await _erasing.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await _options.OpenAsync(_path, cancellationToken);
            long deleted;
            var taken = new List<(string Stream, long Sequence, string EventId)>();
            await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                try
                {
                    deleted = await delete(connection, transaction, taken);
                    await transaction.CommitAsync(cancellationToken);
                }
                catch
                {
                    _tail.Restore(taken);
                    throw;
                }
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

    // The indexes' unflushed tail, listed again from the records after what the tables cover. A log written before the
    // indexes were tables of their own (SQLite's index events_by_stream, a UNIQUE event_id column) is rebuilt once in
    // this shape, its indexes filled from its records.
    private static IndexTail OpenIndexes(SqliteConnection connection, int capacity)
    {
        using (var migrate = connection.CreateCommand())
        {
            migrate.CommandText = "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'";
            if (Convert.ToInt64(migrate.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
            {
                using var transaction = connection.BeginTransaction();
                migrate.Transaction = transaction;
                migrate.CommandText = """
                    CREATE TABLE events_rebuilt (
                        seq INTEGER PRIMARY KEY,
                        stream_id TEXT NOT NULL,
                        event_id TEXT NOT NULL,
                        payload BLOB NOT NULL);
                    INSERT INTO events_rebuilt (seq, stream_id, event_id, payload) SELECT seq, stream_id, event_id, payload FROM events;
                    DROP TABLE events;
                    ALTER TABLE events_rebuilt RENAME TO events;
                    INSERT OR IGNORE INTO stream_index (stream_id, seq) SELECT stream_id, seq FROM events;
                    INSERT OR IGNORE INTO event_ids (event_id, seq) SELECT event_id, seq FROM events;
                    INSERT OR REPLACE INTO log_meta (name, value) SELECT 'indexed_through', coalesce(max(seq), 0) FROM events;
                    """;
                migrate.ExecuteNonQuery();
                transaction.Commit();
            }
        }

        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce((SELECT value FROM log_meta WHERE name = 'indexed_through'), 0)";
        var tail = new IndexTail(Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture), capacity);
        command.CommandText = "SELECT seq, stream_id, event_id FROM events WHERE seq > $through ORDER BY seq";
        command.Parameters.AddWithValue("$through", tail.IndexedThrough);
        var records = new List<(string Stream, long Sequence, string EventId)>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                records.Add((reader.GetString(1), reader.GetInt64(0), reader.GetString(2)));
            }
        }

        tail.Restore(records);
        return tail;
    }

    // Every user grain activation reads its stream: a pooled connection with the statement prepared (see
    // SqliteReaderPool). Synchronous, as SQLite reads are under Microsoft.Data.Sqlite's async methods anyway.
    private IEnumerable<StoredRecord> ReadStream(string streamId, long afterSequence, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var connection = _readers.Rent();
        try
        {
            // The records not in the table yet are copied first: a flush that commits after the copy is then not read
            // from the table (it is above the bound copied with them), and one before it has taken them out of the copy.
            var unindexed = _tail.Read(streamId, afterSequence, out var indexedThrough);
            var command = connection.Command(StreamQuery, "$stream", "$after", "$through");
            command.Parameters[0].Value = streamId;
            command.Parameters[1].Value = afterSequence;
            command.Parameters[2].Value = indexedThrough;
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    yield return Read(reader);
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            var single = connection.Command(RecordQuery, "$seq");
            foreach (var sequence in unindexed)
            {
                single.Parameters[0].Value = sequence;
                using var reader = single.ExecuteReader();
                // None when an erasure took it since the copy.
                if (reader.Read())
                {
                    yield return Read(reader);
                }

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
                var appended = new List<(string Stream, long Sequence, string EventId)>();
                FlushGeneration? flushing = null;
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

                    appended.Clear();
                    (int Streams, int EventIds) written = default;
                    try
                    {
                        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
                        // A flush begins with records already committed only, and writes a slice per commit: sorted, a
                        // slice's rows share pages, and no one commit (whose callers wait for it) carries the whole batch.
                        if (flushing is null && _tail.Count >= _options.StreamIndexBatch)
                        {
                            flushing = _tail.Begin();
                        }

                        // Each record is listed as it is stored, before the commit: the next records of the group see its event
                        // id, and an erasure (which waits for this transaction) finds it.
                        inserts.Insert(group, appended, _tail);
                        if (flushing is not null)
                        {
                            written = inserts.IndexSlice(flushing, _tail, _options.IndexRowsPerCommit);
                        }

                        await transaction.CommitAsync();
                        if (appended.Count > 0)
                        {
                            _tail.Committed(appended[^1].Sequence);
                        }
                    }
                    catch (Exception ex)
                    {
                        _tail.Discard(appended);
                        SqliteLog.CommitFailed(_logger, group.Count, records, ex);
                        Fail(group, ex);
                        continue;
                    }

                    if (flushing is not null)
                    {
                        flushing.Advance(written);
                        if (flushing.Done)
                        {
                            _tail.Flushed(flushing);
                            flushing = null;
                        }
                    }

                    foreach (var pending in group)
                    {
                        pending.TrySetResult();
                    }

                    group.Clear();
                }

                // Closing: the tail goes to the tables (a flush under way, then the rest), so the next opening has nothing to
                // list again.
                for (var round = 0; round < 2 && (flushing is not null || _tail.Count > 0); round++)
                {
                    flushing ??= _tail.Begin();
                    await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
                    var reached = inserts.IndexSlice(flushing, _tail, int.MaxValue);
                    await transaction.CommitAsync();
                    flushing.Advance(reached);
                    _tail.Flushed(flushing);
                    flushing = null;
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
    /// nothing beyond its entry in the index tail: the strings are encoded into one reused buffer (SQLite copies what is
    /// bound), and the row's sequence is the step's answer (<c>RETURNING seq</c>). An event id stored before (by an earlier
    /// commit or an earlier row of this group) is found in the tail or by one lookup in <c>event_ids</c>, a read that
    /// dirties no page, where a UNIQUE column's index took a random insert per record.
    /// </summary>
    /// <remarks>
    /// Runs inside the writer's <c>BEGIN IMMEDIATE</c> transaction on the same connection, so its rows commit or roll back
    /// with it; the connection's busy timeout applies to these steps as to any other.
    /// </remarks>
    private sealed class RowInserter : IDisposable
    {
        private const string InsertSql = "INSERT INTO events (stream_id, event_id, payload) VALUES (?1, ?2, ?3) RETURNING seq";
        private const string StoredSql = "SELECT 1 FROM event_ids WHERE event_id = ?1";
        private const string IndexSql = "INSERT OR IGNORE INTO stream_index (stream_id, seq) VALUES (?1, ?2)";
        private const string EventIdSql = "INSERT OR IGNORE INTO event_ids (event_id, seq) VALUES (?1, ?2)";
        private const string IndexedThroughSql = "INSERT INTO log_meta (name, value) VALUES ('indexed_through', ?1) ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)";
        private readonly sqlite3 _database;
        private readonly sqlite3_stmt _insert;
        private readonly sqlite3_stmt _stored;
        private readonly sqlite3_stmt _index;
        private readonly sqlite3_stmt _eventId;
        private readonly sqlite3_stmt _indexedThrough;
        private byte[] _text = new byte[256];

        public RowInserter(SqliteConnection connection)
        {
            _database = connection.Handle ?? throw new InvalidOperationException("The writer's connection is not open.");
            _insert = Prepare(InsertSql);
            _stored = Prepare(StoredSql);
            _index = Prepare(IndexSql);
            _eventId = Prepare(EventIdSql);
            _indexedThrough = Prepare(IndexedThroughSql);
        }

        /// <summary>
        /// Inserts a group's records, each unless its event id is stored (in <paramref name="tail"/> or <c>event_ids</c>);
        /// lists each one stored in <paramref name="tail"/> and <paramref name="appended"/>.
        /// </summary>
        public void Insert(List<PendingAppend> group, List<(string Stream, long Sequence, string EventId)> appended, IndexTail tail)
        {
            foreach (var pending in group)
            {
                var records = pending.Records;
                for (var i = 0; i < records.Count; i++)
                {
                    var record = records[i];
                    if (tail.HasEventId(record.EventId) || Stored(record.EventId))
                    {
                        pending.Results[i] = new AppendResult(AppendOutcome.Duplicate, 0);
                        continue;
                    }

                    var sequence = Insert(record);
                    pending.Results[i] = new AppendResult(AppendOutcome.Appended, sequence);
                    appended.Add((record.StreamId, sequence, record.EventId));
                    tail.Add(record.StreamId, sequence, record.EventId);
                }
            }
        }

        /// <summary>
        /// Writes the next slice of a flush, at most <paramref name="rows"/> rows of each index, skipping records erased
        /// since it began; with its last slice, the sequence number the tables cover through. Returns how far it reached
        /// (the flush advances only once the commit succeeds).
        /// </summary>
        public (int Streams, int EventIds) IndexSlice(FlushGeneration flush, IndexTail tail, int rows)
        {
            // Without an erasure since the flush began (nearly always), every row is listed: no lookup per row, each of
            // which hashed the event id and missed the cache in a tail of 100,000 records, twice a record.
            var allListed = tail.NoneRemovedSince(flush);
            var streamsEnd = (int)Math.Min(flush.Streams.Count, (long)flush.StreamsDone + rows);
            for (var i = flush.StreamsDone; i < streamsEnd; i++)
            {
                var (stream, sequence, eventId) = flush.Streams[i];
                if (allListed || tail.IsListed(eventId, sequence))
                {
                    Write(_index, stream, sequence);
                }
            }

            var eventIdsEnd = (int)Math.Min(flush.EventIds.Count, (long)flush.EventIdsDone + rows);
            for (var i = flush.EventIdsDone; i < eventIdsEnd; i++)
            {
                var (eventId, sequence) = flush.EventIds[i];
                if (allListed || tail.IsListed(eventId, sequence))
                {
                    Write(_eventId, eventId, sequence);
                }
            }

            if (streamsEnd == flush.Streams.Count && eventIdsEnd == flush.EventIds.Count && flush.Through > 0)
            {
                try
                {
                    Check(raw.sqlite3_bind_int64(_indexedThrough, 1, flush.Through));
                    Step(_indexedThrough);
                }
                finally
                {
                    raw.sqlite3_reset(_indexedThrough);
                }
            }

            return (streamsEnd, eventIdsEnd);
        }

        public void Dispose()
        {
            _insert.Dispose();
            _stored.Dispose();
            _index.Dispose();
            _eventId.Dispose();
            _indexedThrough.Dispose();
        }

        private void Write(sqlite3_stmt statement, string text, long sequence)
        {
            try
            {
                Check(BindText(statement, 1, text));
                Check(raw.sqlite3_bind_int64(statement, 2, sequence));
                Step(statement);
            }
            finally
            {
                raw.sqlite3_reset(statement);
            }
        }

        private bool Stored(string eventId)
        {
            try
            {
                Check(BindText(_stored, 1, eventId));
                var rc = raw.sqlite3_step(_stored);
                if (rc is not raw.SQLITE_ROW and not raw.SQLITE_DONE)
                {
                    Check(rc);
                }

                return rc == raw.SQLITE_ROW;
            }
            finally
            {
                raw.sqlite3_reset(_stored);
            }
        }

        private sqlite3_stmt Prepare(string sql)
        {
            var rc = raw.sqlite3_prepare_v3(_database, sql, raw.SQLITE_PREPARE_PERSISTENT, out var statement);
            SqliteException.ThrowExceptionForRC(rc, _database);
            return statement;
        }

        private void Step(sqlite3_stmt statement)
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }
        }

        private long Insert(LogRecord record)
        {
            try
            {
                Check(BindText(_insert, 1, record.StreamId));
                Check(BindText(_insert, 2, record.EventId));
                // An empty span would bind NULL (no pointer to pass), which the NOT NULL column refuses: an empty blob instead.
                Check(record.Payload.IsEmpty ? raw.sqlite3_bind_zeroblob(_insert, 3, 0) : raw.sqlite3_bind_blob(_insert, 3, record.Payload.Span));
                var rc = raw.sqlite3_step(_insert);
                if (rc != raw.SQLITE_ROW)
                {
                    Check(rc);
                    throw new InvalidOperationException($"Inserting a record returned no sequence number (SQLite {rc}).");
                }

                var sequence = raw.sqlite3_column_int64(_insert, 0);
                rc = raw.sqlite3_step(_insert);
                if (rc != raw.SQLITE_DONE)
                {
                    Check(rc);
                }

                return sequence;
            }
            finally
            {
                // Ready for the next row; after a failed step this returns the same error, already thrown above.
                raw.sqlite3_reset(_insert);
            }
        }

        private int BindText(sqlite3_stmt statement, int index, string text)
        {
            if (text.Length == 0)
            {
                // As for blobs: an empty span has no pointer and would bind NULL.
                return raw.sqlite3_bind_text(statement, index, "");
            }

            var most = Encoding.UTF8.GetMaxByteCount(text.Length);
            if (most > _text.Length)
            {
                _text = new byte[Math.Max(most, _text.Length * 2)];
            }

            var length = Encoding.UTF8.GetBytes(text, _text);
            return raw.sqlite3_bind_text(statement, index, _text.AsSpan(0, length));
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
