using System.Runtime.InteropServices;
using Npgsql;
using NpgsqlTypes;

namespace Segmentation.Storage.Postgres.Internal;

/// <summary>
/// Writes one commit group on the writer connection, inside the caller's transaction: takes the schema's commit lock,
/// inserts every record (in group order) with <c>ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq</c>, and fills
/// each call's results. A record the statement does not return is a duplicate — of an earlier commit, or of an earlier
/// record of the same group (PostgreSQL's DO NOTHING also skips a row that conflicts with one the statement inserted).
/// </summary>
/// <remarks>
/// Why the lock: identity values are handed out when rows are inserted, not when transactions commit, so two writers
/// (two silos) committing at once could make seq 11 visible before seq 10; a reader tailing the log from 10 would then
/// skip 11's neighbour for ever. Holding a transaction-scoped advisory lock from the first sequence drawn until the
/// commit is durable (PostgreSQL releases it after the commit record is flushed and visible) makes sequence order
/// commit order across every process. Each holder writes a whole group, so the lock costs one turn per fsync, not per
/// event. Not thread-safe: each <see cref="CommitLane"/> has its own.
/// </remarks>
internal sealed class GroupInsert(PostgresStorageOptions options, uint schemaOid)
{
    private readonly string _lock = $"SELECT pg_advisory_xact_lock({PostgresSchema.CommitLockClass}, {unchecked((int)schemaOid)})";
    private readonly string _schema = options.QuotedSchema;
    private readonly Dictionary<string, (PendingAppend Pending, int Index)> _rows = new(StringComparer.Ordinal);
    private NpgsqlConnection? _stagingCreatedOn;
    private string[] _streams = [];
    private string[] _eventIds = [];
    private byte[][] _payloads = [];

    /// <summary>
    /// Forgets what this session was known to hold: after a failed transaction the staging table's creation may have
    /// been rolled back with it, and after a reconnect it belongs to a session that is gone.
    /// </summary>
    public void Reset() => _stagingCreatedOn = null;

    /// <summary>Inserts the group; the caller commits (or rolls back) the transaction and only then completes the calls.</summary>
    public async Task InsertAsync(NpgsqlConnection connection, IReadOnlyList<PendingAppend> group, int records, CancellationToken cancellationToken)
    {
        _rows.Clear();
        Gather(group, records);
        if (options.BulkInsert == PostgresBulkInsert.Copy)
        {
            await CopyAsync(connection, records, cancellationToken);
        }
        else
        {
            await UnnestAsync(connection, records, cancellationToken);
        }
    }

    private void Gather(IReadOnlyList<PendingAppend> group, int records)
    {
        if (_streams.Length < records)
        {
            _streams = new string[records];
            _eventIds = new string[records];
            _payloads = new byte[records][];
        }

        var row = 0;
        foreach (var pending in group)
        {
            for (var i = 0; i < pending.Records.Count; i++, row++)
            {
                var record = pending.Records[i];
                pending.Results[i] = new AppendResult(AppendOutcome.Duplicate, 0);
                _streams[row] = record.StreamId;
                _eventIds[row] = record.EventId;
                _payloads[row] = WholeArray(record.Payload);
                _rows.TryAdd(record.EventId, (pending, i)); // The first row with an id is the one that can be stored.
            }
        }
    }

    /// <summary>The multi-row statement: three binary array parameters, one round trip with the lock.</summary>
    private async Task UnnestAsync(NpgsqlConnection connection, int records, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_lock));
        var insert = new NpgsqlBatchCommand($"""
            INSERT INTO {_schema}.events (stream_id, event_id, payload)
            SELECT s, e, p FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS r (s, e, p, n) ORDER BY n
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq
            """);
        // Arrays longer than the group (kept from a bigger one) are cut by ArraySegment, so nothing is copied.
        insert.Parameters.Add(new NpgsqlParameter<ArraySegment<string>> { TypedValue = new(_streams, 0, records), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<ArraySegment<string>> { TypedValue = new(_eventIds, 0, records), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<ArraySegment<byte[]>> { TypedValue = new(_payloads, 0, records), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        batch.BatchCommands.Add(insert);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken); // past the lock's row
        await ReadReturnedAsync(reader, cancellationToken);
    }

    /// <summary>Binary COPY into the session's staging table, then one INSERT ... SELECT from it.</summary>
    private async Task CopyAsync(NpgsqlConnection connection, int records, CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(_stagingCreatedOn, connection))
        {
            // Temporary: private to the session, never WAL-logged; emptied by every commit.
            await using var create = new NpgsqlCommand(
                "CREATE TEMP TABLE IF NOT EXISTS event_staging (n int, stream_id text, event_id text, payload bytea) ON COMMIT DELETE ROWS", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
            _stagingCreatedOn = connection;
        }

        // The copy happens before the lock: only the INSERT needs to run in commit order.
        await using (var copy = await connection.BeginBinaryImportAsync("COPY pg_temp.event_staging (n, stream_id, event_id, payload) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var row = 0; row < records; row++)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(row, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(_streams[row], NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(_eventIds[row], NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(_payloads[row], NpgsqlDbType.Bytea, cancellationToken);
            }

            await copy.CompleteAsync(cancellationToken);
        }

        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_lock));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            INSERT INTO {_schema}.events (stream_id, event_id, payload)
            SELECT stream_id, event_id, payload FROM pg_temp.event_staging ORDER BY n
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq
            """));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await ReadReturnedAsync(reader, cancellationToken);
    }

    private async Task ReadReturnedAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken))
        {
            var (pending, index) = _rows[reader.GetString(0)];
            pending.Results[index] = new AppendResult(AppendOutcome.Appended, reader.GetInt64(1));
        }
    }

    private static byte[] WholeArray(ReadOnlyMemory<byte> payload) =>
        MemoryMarshal.TryGetArray(payload, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : payload.ToArray();
}
