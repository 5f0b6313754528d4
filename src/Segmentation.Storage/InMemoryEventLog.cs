using System.Runtime.CompilerServices;

namespace Segmentation.Storage;

/// <summary>
/// An <see cref="IEventLog"/> in memory, for tests and benchmarks: the full contract except that "durable" means
/// "until the process ends". Thread-safe (one lock).
/// </summary>
public sealed class InMemoryEventLog : IEventLog
{
    private readonly object _gate = new();
    private readonly List<StoredRecord> _records = [];
    private readonly HashSet<string> _eventIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<StoredRecord>> _streams = new(StringComparer.Ordinal);
    private long _lastSequence;

    /// <inheritdoc />
    public Task<AppendResult[]> AppendAsync(IReadOnlyList<LogRecord> records, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var results = new AppendResult[records.Count];
        lock (_gate)
        {
            for (var i = 0; i < records.Count; i++)
            {
                var record = records[i];
                if (!_eventIds.Add(record.EventId))
                {
                    results[i] = new AppendResult(AppendOutcome.Duplicate, 0);
                    continue;
                }

                var stored = new StoredRecord(++_lastSequence, record.StreamId, record.EventId, record.Payload.ToArray());
                _records.Add(stored);
                if (!_streams.TryGetValue(record.StreamId, out var stream))
                {
                    _streams[record.StreamId] = stream = [];
                }

                stream.Add(stored);
                results[i] = new AppendResult(AppendOutcome.Appended, stored.Sequence);
            }
        }

        return Task.FromResult(results);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredRecord> ReadStreamAsync(string streamId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        StoredRecord[] records;
        lock (_gate)
        {
            records = _streams.TryGetValue(streamId, out var stream) ? stream.Where(r => r.Sequence > afterSequence).ToArray() : [];
        }

        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return record;
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ReadStreamIdsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string[] ids;
        lock (_gate)
        {
            ids = [.. _streams.Keys];
        }

        foreach (var id in ids)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return id;
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredRecord> ReadAllAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        StoredRecord[] records;
        lock (_gate)
        {
            records = _records.Where(r => r.Sequence > afterSequence).ToArray();
        }

        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return record;
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlySet<string>> ContainsAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlySet<string>>(eventIds.Where(_eventIds.Contains).ToHashSet(StringComparer.Ordinal));
        }
    }

    /// <inheritdoc />
    public Task<long> CountAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult((long)_records.Count);
        }
    }

    /// <inheritdoc />
    public Task<long> CountAsync(string streamPrefix, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult((long)_records.Count(r => r.StreamId.StartsWith(streamPrefix, StringComparison.Ordinal)));
        }
    }

    /// <inheritdoc />
    public Task<long> DeleteStreamAsync(string streamId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_streams.Remove(streamId, out var stream))
            {
                return Task.FromResult(0L);
            }

            var gone = stream.Select(r => r.Sequence).ToHashSet();
            return Task.FromResult(Remove(gone));
        }
    }

    /// <inheritdoc />
    public Task<long> DeleteAsync(IReadOnlyCollection<long> sequences, CancellationToken cancellationToken)
    {
        var gone = sequences.ToHashSet();
        lock (_gate)
        {
            foreach (var (id, stream) in _streams.ToList())
            {
                stream.RemoveAll(r => gone.Contains(r.Sequence));
                if (stream.Count == 0)
                {
                    _streams.Remove(id);
                }
            }

            return Task.FromResult(Remove(gone));
        }
    }

    // Under the lock: drops the records and frees their event ids.
    private long Remove(HashSet<long> sequences)
    {
        var removed = 0L;
        _records.RemoveAll(r =>
        {
            if (!sequences.Contains(r.Sequence))
            {
                return false;
            }

            _eventIds.Remove(r.EventId);
            removed++;
            return true;
        });
        return removed;
    }
}
