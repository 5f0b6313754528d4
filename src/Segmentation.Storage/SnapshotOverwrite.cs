namespace Segmentation.Storage;

/// <summary>Writes that replace whatever a key holds, for documents where the newest write wins (a model just trained).</summary>
public static class SnapshotOverwrite
{
    /// <summary>
    /// Writes <paramref name="data"/> under <paramref name="key"/> over whatever is stored: reads the ETag and writes with
    /// it, and when another writer got in between, tries again (three times in all, then the
    /// <see cref="InconsistentStateException"/> stands).
    /// </summary>
    public static Task OverwriteAsync(this ISnapshotStore store, string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        OverwriteAsync(store, key, data, 0, cancellationToken);

    /// <summary>
    /// <see cref="OverwriteAsync(ISnapshotStore, string, ReadOnlyMemory{byte}, CancellationToken)"/> with the value's
    /// <paramref name="sequence"/> (a model's version, so readers can tell versions apart).
    /// </summary>
    public static async Task OverwriteAsync(this ISnapshotStore store, string key, ReadOnlyMemory<byte> data, long sequence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        for (var attempt = 1; ; attempt++)
        {
            var etag = (await store.ReadAsync(key, cancellationToken))?.ETag;
            try
            {
                await store.WriteAsync(key, data, sequence, etag, cancellationToken);
                return;
            }
            catch (InconsistentStateException) when (attempt < 3)
            {
            }
        }
    }
}
