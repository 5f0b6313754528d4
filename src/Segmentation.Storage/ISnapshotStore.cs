namespace Segmentation.Storage;

/// <summary>
/// Stores one snapshot per key (a grain's state up to an event-log sequence number), fenced by ETags.
/// </summary>
/// <remarks>
/// ETag rules (checked by the storage conformance suite):
/// <list type="bullet">
/// <item>A key with no snapshot has no ETag; the first write must pass <c>null</c> as the expected ETag.</item>
/// <item>A write succeeds only when the expected ETag equals the stored one; it then returns a new,
/// different ETag. Otherwise it throws <see cref="InconsistentStateException"/> and changes nothing.
/// This is what stops a stale owner (one that lost ownership during a membership change) from
/// overwriting the state of the current owner.</item>
/// <item>Writes are durable when the task completes and atomic per key.</item>
/// <item>Thread-safety: all members may be called concurrently.</item>
/// </list>
/// </remarks>
public interface ISnapshotStore
{
    /// <summary>Reads the snapshot of a key, or null when there is none.</summary>
    Task<Snapshot?> ReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Writes a snapshot if <paramref name="expectedETag"/> matches; returns the new ETag.</summary>
    /// <exception cref="InconsistentStateException">The stored ETag is not the expected one.</exception>
    Task<string> WriteAsync(string key, ReadOnlyMemory<byte> data, long sequence, string? expectedETag, CancellationToken cancellationToken);

    /// <summary>Deletes a snapshot if <paramref name="expectedETag"/> matches.</summary>
    /// <exception cref="InconsistentStateException">The stored ETag is not the expected one.</exception>
    Task DeleteAsync(string key, string expectedETag, CancellationToken cancellationToken);
}

/// <summary>A stored snapshot.</summary>
/// <param name="Data">Opaque state bytes.</param>
/// <param name="Sequence">The last event-log sequence number folded into <paramref name="Data"/>.</param>
/// <param name="ETag">The version tag to pass to the next write.</param>
public sealed record Snapshot(ReadOnlyMemory<byte> Data, long Sequence, string ETag);

/// <summary>
/// A storage write found a different version than the writer expected: another activation
/// wrote the same key. The writer's in-memory state is stale and must be reloaded.
/// </summary>
public sealed class InconsistentStateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InconsistentStateException(string key, string? expectedETag, string? actualETag)
        : base($"Snapshot of '{key}' has ETag '{actualETag ?? "(none)"}', the writer expected '{expectedETag ?? "(none)"}'.")
    {
        Key = key;
        ExpectedETag = expectedETag;
        ActualETag = actualETag;
    }

    /// <summary>The key whose write failed.</summary>
    public string Key { get; }

    /// <summary>The ETag the writer passed.</summary>
    public string? ExpectedETag { get; }

    /// <summary>The ETag found in the store, or null when there was no snapshot.</summary>
    public string? ActualETag { get; }
}
