using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Segmentation.Storage.Postgres.Internal;

namespace Segmentation.Storage.Postgres;

/// <summary>
/// The event log on PostgreSQL, the cluster store: table <c>events</c> of <see cref="PostgresSchema"/>. Every silo of a
/// cluster may append to the same log.
/// </summary>
/// <remarks>
/// <para>Group commit: every <see cref="AppendAsync"/> call joins a queue; one writer loop per instance takes everything
/// queued (up to <see cref="PostgresStorageOptions.MaxRecordsPerCommit"/> records), inserts it in one transaction (one
/// multi-row statement or a binary COPY, <see cref="PostgresStorageOptions.BulkInsert"/>) and commits, and only then
/// completes the callers; while a commit waits for its fsync, the next group gathers. With
/// <see cref="PostgresStorageOptions.CommitsInFlight"/> above 1, several groups are in flight, each on its own
/// connection, the next one copied while the last one commits. Durable at commit: the writer
/// session never runs with <c>synchronous_commit = off</c> (it turns a server default of off back on), so a completed
/// call survives a crash of the server or its machine.</para>
/// <para>Failures: a failed commit fails every call in it (nothing acknowledged). A commit whose outcome is unknown
/// (the connection broke during COMMIT) is reported as failed too; a retry is safe because appends are idempotent by
/// event id — records that did commit come back <see cref="AppendOutcome.Duplicate"/>. A broken writer connection is
/// replaced at the next commit, so the log recovers from a database restart without a process restart.</para>
/// <para>Order: sequence numbers are identity values drawn under a per-schema commit lock (see
/// <c>GroupInsert</c>), so they increase in commit order across all processes; within a call they follow the records,
/// hence one user's events keep their order. Reads use pooled connections of the data source.</para>
/// </remarks>
public sealed class PostgresEventLog : IEventLog, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresStorageOptions _options;
    private readonly ILogger _logger;
    private readonly string _schema;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly uint _schemaOid;
    private readonly Task _writer;
    private long _commits;

    private PostgresEventLog(NpgsqlDataSource dataSource, PostgresStorageOptions options, uint schemaOid, ILogger logger)
    {
        _dataSource = dataSource;
        _options = options;
        _logger = logger;
        _schema = options.QuotedSchema;
        _schemaOid = schemaOid;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The number of group commits so far (each is one transaction and one fsync).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>
    /// Opens the log in <paramref name="dataSource"/>'s database (creating or migrating its tables, see
    /// <see cref="PostgresSchema"/>) and starts the writer. The data source stays the caller's to dispose, after the log.
    /// </summary>
    /// <exception cref="NpgsqlException">PostgreSQL cannot be reached, or refused the schema.</exception>
    public static async Task<PostgresEventLog> OpenAsync(
        NpgsqlDataSource dataSource, PostgresStorageOptions? options = null, ILogger<PostgresEventLog>? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        options ??= new PostgresStorageOptions();
        var oid = await PostgresSchema.EnsureCreatedAsync(dataSource, options, logger, cancellationToken);
        return new PostgresEventLog(dataSource, options, oid, (ILogger?)logger ?? NullLogger.Instance);
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
            throw new InvalidOperationException("The event log is closed; nothing was appended.");
        }

        return pending.Completion.Task;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredRecord> ReadStreamAsync(string streamId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT seq, stream_id, event_id, payload FROM {_schema}.events WHERE stream_id = $1 AND seq > $2 ORDER BY seq");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterSequence });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return Read(reader);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredRecord> ReadAllAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT seq, stream_id, event_id, payload FROM {_schema}.events WHERE seq > $1 ORDER BY seq");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterSequence });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return Read(reader);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ReadStreamIdsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // PostgreSQL has no skip scan for DISTINCT: this walks the (stream_id, seq) index one stream at a time (a "loose
        // index scan"), one index descent per stream instead of a pass over every event.
        await using var command = _dataSource.CreateCommand($"""
            WITH RECURSIVE streams (id) AS (
                (SELECT stream_id FROM {_schema}.events ORDER BY stream_id LIMIT 1)
                UNION ALL
                SELECT (SELECT e.stream_id FROM {_schema}.events e WHERE e.stream_id > s.id ORDER BY e.stream_id LIMIT 1)
                FROM streams s WHERE s.id IS NOT NULL)
            SELECT id FROM streams WHERE id IS NOT NULL
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader.GetString(0);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlySet<string>> ContainsAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var command = _dataSource.CreateCommand($"SELECT event_id FROM {_schema}.events WHERE event_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. eventIds] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(reader.GetString(0));
        }

        return found;
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT count(*) FROM {_schema}.events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <inheritdoc />
    /// <remarks>A range over <c>events_by_stream</c> (stream ids are <c>COLLATE "C"</c>: code point order).</remarks>
    public async Task<long> CountAsync(string streamPrefix, CancellationToken cancellationToken)
    {
        var upper = StreamPrefix.UpperBound(streamPrefix);
        await using var command = _dataSource.CreateCommand(upper is null
            ? $"SELECT count(*) FROM {_schema}.events WHERE stream_id >= $1"
            : $"SELECT count(*) FROM {_schema}.events WHERE stream_id >= $1 AND stream_id < $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamPrefix });
        if (upper is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = upper });
        }

        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <inheritdoc />
    /// <remarks>One statement, then a <c>VACUUM</c> of the table, so the rows do not stay behind as dead tuples.</remarks>
    public async Task<long> DeleteStreamAsync(string streamId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"DELETE FROM {_schema}.events WHERE stream_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        return await VacuumAfterAsync(await command.ExecuteNonQueryAsync(cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One statement, then a <c>VACUUM</c> of the table, as <see cref="DeleteStreamAsync"/>.</remarks>
    public async Task<long> DeleteAsync(IReadOnlyCollection<long> sequences, CancellationToken cancellationToken)
    {
        if (sequences.Count == 0)
        {
            return 0;
        }

        await using var command = _dataSource.CreateCommand($"DELETE FROM {_schema}.events WHERE seq = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. sequences] });
        return await VacuumAfterAsync(await command.ExecuteNonQueryAsync(cancellationToken), cancellationToken);
    }

    // VACUUM cannot run inside a transaction: its own statement, after the delete committed.
    private async Task<long> VacuumAfterAsync(long deleted, CancellationToken cancellationToken)
    {
        if (deleted > 0)
        {
            await using var vacuum = _dataSource.CreateCommand($"VACUUM {_schema}.events");
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        return deleted;
    }

    /// <summary>Stops taking appends, commits what is queued, and closes the writer connection (not the data source).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    private static StoredRecord Read(NpgsqlDataReader reader) =>
        new(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<byte[]>(3));

    private async Task WriteLoopAsync()
    {
        // Lanes take turns: while one commit waits for the commit lock or its fsync, the next group is copied on another
        // connection. The channel holds the idle ones.
        var idle = Channel.CreateUnbounded<CommitLane>();
        var lanes = Enumerable.Range(0, Math.Max(1, _options.CommitsInFlight))
            .Select(_ => new CommitLane(_dataSource, new GroupInsert(_options, _schemaOid), _logger))
            .ToList();
        lanes.ForEach(lane => idle.Writer.TryWrite(lane));
        try
        {
            while (await _queue.Reader.WaitToReadAsync())
            {
                // Take a lane first, then the group: while every lane is busy, appends gather into a bigger group.
                var lane = await idle.Reader.ReadAsync();
                var group = new List<PendingAppend>();
                var records = 0;
                while (records < _options.MaxRecordsPerCommit && _queue.Reader.TryRead(out var pending))
                {
                    group.Add(pending);
                    records += pending.Records.Count;
                }

                _ = CommitAsync(lane, group, records);
            }
        }
        finally
        {
            for (var i = 0; i < lanes.Count; i++)
            {
                await (await idle.Reader.ReadAsync()).DisposeAsync();
            }
        }

        async Task CommitAsync(CommitLane lane, List<PendingAppend> group, int records)
        {
            try
            {
                if (await lane.CommitAsync(group, records))
                {
                    Interlocked.Increment(ref _commits);
                }
            }
            finally
            {
                // Always back to idle, or disposal would wait for it for ever.
                idle.Writer.TryWrite(lane);
            }
        }
    }
}
