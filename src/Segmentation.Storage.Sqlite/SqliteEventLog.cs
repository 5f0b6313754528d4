using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Grains.Storage;

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
    private readonly string _path;
    private readonly SqliteStorageOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

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

        _writer = Task.Run(() => WriteLoopAsync(connection));
    }

    /// <inheritdoc />
    public Task<AppendResult[]> AppendAsync(IReadOnlyList<LogRecord> records, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (records.Count == 0)
        {
            return Task.FromResult(Array.Empty<AppendResult>());
        }

        var pending = new PendingAppend(records);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(SqliteEventLog));
        }

        return pending.Completion.Task;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredRecord> ReadStreamAsync(string streamId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, stream_id, event_id, payload FROM events WHERE stream_id = $stream AND seq > $after ORDER BY seq";
        command.Parameters.AddWithValue("$stream", streamId);
        command.Parameters.AddWithValue("$after", afterSequence);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return Read(reader);
        }
    }

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

    /// <summary>Stops taking appends, commits what is queued, and closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
        SqliteConnection.ClearAllPools();
    }

    private Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken) => _options.OpenAsync(_path, cancellationToken);

    private static StoredRecord Read(SqliteDataReader reader) =>
        new(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), (byte[])reader.GetValue(3));

    private async Task WriteLoopAsync(SqliteConnection connection)
    {
        await using (connection)
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO events (stream_id, event_id, payload) VALUES ($stream, $event, $payload) ON CONFLICT (event_id) DO NOTHING RETURNING seq";
            var stream = insert.Parameters.Add("$stream", SqliteType.Text);
            var eventId = insert.Parameters.Add("$event", SqliteType.Text);
            var payload = insert.Parameters.Add("$payload", SqliteType.Blob);
            insert.Prepare();

            var group = new List<PendingAppend>();
            while (await _queue.Reader.WaitToReadAsync())
            {
                group.Clear();
                var records = 0;
                while (records < _options.MaxRecordsPerCommit && _queue.Reader.TryRead(out var pending))
                {
                    group.Add(pending);
                    records += pending.Records.Count;
                }

                try
                {
                    await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
                    insert.Transaction = transaction;
                    foreach (var pending in group)
                    {
                        for (var i = 0; i < pending.Records.Count; i++)
                        {
                            var record = pending.Records[i];
                            stream.Value = record.StreamId;
                            eventId.Value = record.EventId;
                            payload.Value = record.Payload.ToArray();
                            pending.Results[i] = insert.ExecuteScalar() is long sequence
                                ? new AppendResult(AppendOutcome.Appended, sequence)
                                : new AppendResult(AppendOutcome.Duplicate, 0);
                        }
                    }

                    await transaction.CommitAsync();
                }
                catch (Exception ex)
                {
                    SqliteLog.CommitFailed(_logger, group.Count, records, ex);
                    foreach (var pending in group)
                    {
                        pending.Completion.TrySetException(ex);
                    }

                    continue;
                }

                foreach (var pending in group)
                {
                    pending.Completion.TrySetResult(pending.Results);
                }
            }
        }
    }

    private sealed class PendingAppend(IReadOnlyList<LogRecord> records)
    {
        public IReadOnlyList<LogRecord> Records { get; } = records;

        public AppendResult[] Results { get; } = new AppendResult[records.Count];

        public TaskCompletionSource<AppendResult[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

internal static partial class SqliteLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Group commit of {Calls} appends ({Records} records) failed and was rolled back")]
    public static partial void CommitFailed(ILogger logger, int calls, int records, Exception exception);
}
