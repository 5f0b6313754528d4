namespace Segmentation.Storage;

/// <summary>
/// An append-only, durable log of events, partitioned into streams (one stream per grain key) and
/// deduplicated by a client-supplied event id. The log is the source of truth: everything a grain
/// holds can be rebuilt by replaying its stream.
/// </summary>
/// <remarks>
/// Contract for every implementation (checked by the storage conformance suite):
/// <list type="bullet">
/// <item>Durability: when <see cref="AppendAsync"/> completes, every record it reports as
/// <see cref="AppendOutcome.Appended"/> survives a process crash. Implementations may merge
/// concurrent calls into one transaction (group commit), but never acknowledge before commit.</item>
/// <item>Atomicity: the records of one call are committed together or not at all.</item>
/// <item>Idempotency: event ids are unique across the whole log. A record whose event id is already
/// stored (by an earlier call, or earlier in the same call) is reported as
/// <see cref="AppendOutcome.Duplicate"/> and nothing is written for it.</item>
/// <item>Order: sequence numbers are positive, unique across the log and increase in commit order;
/// within one call they follow the order of the records. A stream read returns its records in
/// sequence order.</item>
/// <item>Erasure: <see cref="DeleteStreamAsync"/> and <see cref="DeleteAsync"/> are the only ways a record leaves the log
/// (a user's right to be forgotten, retention). Once they complete, no read returns the deleted records, their event
/// ids are free again (an append of the same id is a new record), and the store has done what it can to remove their
/// bytes from its files (SQLite: zeroed pages and a truncated WAL; PostgreSQL: the dead rows vacuumed). Sequence
/// numbers are never reused.</item>
/// <item>Thread-safety: all members may be called concurrently.</item>
/// </list>
/// </remarks>
public interface IEventLog
{
    /// <summary>Appends records durably; returns one result per record, in the same order.</summary>
    Task<AppendResult[]> AppendAsync(IReadOnlyList<LogRecord> records, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="AppendAsync"/> as a <see cref="ValueTask{TResult}"/>, with the same contract; await it once, as any
    /// ValueTask. A log may complete it without a <see cref="Task"/> of its own (the SQLite log does): a caller that
    /// awaits it inside a grain turn then resumes without the continuation, delegate and task an awaited Task costs
    /// there. By default, <see cref="AppendAsync"/>'s task.
    /// </summary>
    ValueTask<AppendResult[]> AppendValueAsync(IReadOnlyList<LogRecord> records, CancellationToken cancellationToken) =>
        new(AppendAsync(records, cancellationToken));

    /// <summary>Reads the records of one stream with a sequence number greater than <paramref name="afterSequence"/>, in sequence order.</summary>
    IAsyncEnumerable<StoredRecord> ReadStreamAsync(string streamId, long afterSequence, CancellationToken cancellationToken);

    /// <summary>Reads every record with a sequence number greater than <paramref name="afterSequence"/>, in sequence order (audits, rebuilds).</summary>
    IAsyncEnumerable<StoredRecord> ReadAllAsync(long afterSequence, CancellationToken cancellationToken);

    /// <summary>Every stream id that has at least one record, each once, in no specified order (sweeps over all grains).</summary>
    IAsyncEnumerable<string> ReadStreamIdsAsync(CancellationToken cancellationToken);

    /// <summary>Which of the given event ids are stored.</summary>
    Task<IReadOnlySet<string>> ContainsAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken);

    /// <summary>The number of records in the log.</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The number of records whose stream id starts with <paramref name="streamPrefix"/> (ordinal), e.g. one tenant's
    /// users, <c>tenant/</c>. An index range scan in the stores, not a scan of the whole log.
    /// </summary>
    Task<long> CountAsync(string streamPrefix, CancellationToken cancellationToken);

    /// <summary>Deletes every record of one stream durably (erasure of a user); returns how many there were.</summary>
    Task<long> DeleteStreamAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>Deletes the records with these sequence numbers durably (retention); unknown ones are skipped. Returns how many were deleted.</summary>
    Task<long> DeleteAsync(IReadOnlyCollection<long> sequences, CancellationToken cancellationToken);
}

/// <summary>A record to append.</summary>
/// <param name="StreamId">The stream (grain key) the record belongs to.</param>
/// <param name="EventId">The idempotency key, unique across the log.</param>
/// <param name="Payload">Opaque bytes (the serialized event).</param>
public readonly record struct LogRecord(string StreamId, string EventId, ReadOnlyMemory<byte> Payload);

/// <summary>What happened to one appended record.</summary>
public enum AppendOutcome
{
    /// <summary>Stored now, durably.</summary>
    Appended,

    /// <summary>A record with the same event id was stored before; nothing was written.</summary>
    Duplicate,
}

/// <summary>The result for one record.</summary>
/// <param name="Outcome">Appended or duplicate.</param>
/// <param name="Sequence">The record's sequence number when appended; 0 for a duplicate.</param>
public readonly record struct AppendResult(AppendOutcome Outcome, long Sequence);

/// <summary>A record as stored.</summary>
public sealed record StoredRecord(long Sequence, string StreamId, string EventId, ReadOnlyMemory<byte> Payload);
