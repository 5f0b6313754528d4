namespace Segmentation.Storage;

/// <summary>An <see cref="ISnapshotStore"/> in memory, for tests and benchmarks. Thread-safe (one lock).</summary>
public sealed class InMemorySnapshotStore : ISnapshotStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Snapshot> _snapshots = new(StringComparer.Ordinal);
    private long _version;

    /// <inheritdoc />
    public Task<Snapshot?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_snapshots.GetValueOrDefault(key));
        }
    }

    /// <inheritdoc />
    public Task<string> WriteAsync(string key, ReadOnlyMemory<byte> data, long sequence, string? expectedETag, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var actual = _snapshots.GetValueOrDefault(key)?.ETag;
            if (actual != expectedETag)
            {
                throw new InconsistentStateException(key, expectedETag, actual);
            }

            var etag = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _snapshots[key] = new Snapshot(data.ToArray(), sequence, etag);
            return Task.FromResult(etag);
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, string expectedETag, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var actual = _snapshots.GetValueOrDefault(key)?.ETag;
            if (actual != expectedETag)
            {
                throw new InconsistentStateException(key, expectedETag, actual);
            }

            _snapshots.Remove(key);
            return Task.CompletedTask;
        }
    }
}
