using System.Globalization;
using System.IO.Compression;
using System.Text;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Inference.Models;
using Segmentation.Storage;

namespace Segmentation.Host.Embeddings;

/// <summary>
/// The user-encoder versions of a cluster kept in its shared store (<c>Storage:Provider=postgres</c>), so that they
/// outlive the pod that trained them and every process can read the one served, whatever its local disk holds:
/// <list type="bullet">
/// <item>each version folder is stored once, zipped, under <c>models/encoder/vNNNNNN</c> (written only if absent: a
/// version number is never reused);</item>
/// <item><c>models/encoder/index</c> lists the versions stored, <c>models/encoder/active</c> the one to serve
/// (ETag-fenced like every snapshot);</item>
/// <item>the local models folder (<c>Embeddings:ModelsDirectory</c>) is a cache: a version missing there is unpacked
/// from the store before it is read.</item>
/// </list>
/// With SQLite (one process) the models folder alone is the store, and this is not used. Thread-safe.
/// </summary>
internal sealed class StoredModels(ISnapshotStore store, string root, ILogger logger)
{
    private static readonly string s_index = TenantKeys.Storage("models/encoder/index");
    private static readonly string s_active = TenantKeys.Storage("models/encoder/active");
    private readonly SemaphoreSlim _unpacking = new(1, 1);

    /// <summary>Stores the version folder <paramref name="version"/> of the models folder and adds it to the index.</summary>
    /// <exception cref="InvalidOperationException">The store already holds another model under that version.</exception>
    public async Task StoreAsync(long version, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(root, ModelFolder.FolderName(version));
        using var zipped = new MemoryStream();
        await ZipFile.CreateFromDirectoryAsync(folder, zipped, CompressionLevel.Fastest, includeBaseDirectory: false, cancellationToken);
        try
        {
            await store.WriteAsync(KeyOf(version), zipped.ToArray(), version, expectedETag: null, cancellationToken);
        }
        catch (InconsistentStateException ex)
        {
            throw new InvalidOperationException(
                $"model version {version} is already stored by another process; train again (the next version is taken from the store)", ex);
        }

        await UpdateAsync(s_index, versions => [.. versions.Append(version).Distinct().Order()], cancellationToken);
    }

    /// <summary>Records <paramref name="version"/> as the one to serve.</summary>
    public Task SetActiveAsync(long version, CancellationToken cancellationToken) =>
        UpdateAsync(s_active, _ => [version], cancellationToken);

    /// <summary>The version to serve, or null when none was activated.</summary>
    public async Task<long?> ActiveAsync(CancellationToken cancellationToken) =>
        (await ReadAsync(s_active, cancellationToken)).Versions is [var version] ? version : null;

    /// <summary>
    /// Unpacks every stored version the models folder lacks (so that listing it, and numbering the next trained version,
    /// see the cluster's), and marks the stored active version as the local one; returns that version, or null.
    /// </summary>
    public async Task<long?> SyncAsync(CancellationToken cancellationToken)
    {
        foreach (var version in (await ReadAsync(s_index, cancellationToken)).Versions)
        {
            await EnsureLocalAsync(version, cancellationToken);
        }

        if (await ActiveAsync(cancellationToken) is not { } active || !await EnsureLocalAsync(active, cancellationToken))
        {
            return null;
        }

        ModelFolder.Activate(root, active);
        return active;
    }

    /// <summary>
    /// Makes sure version <paramref name="version"/> is in the models folder, unpacking it from the store if it is not;
    /// false when neither has it.
    /// </summary>
    public async Task<bool> EnsureLocalAsync(long version, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(root, ModelFolder.FolderName(version));
        if (File.Exists(Path.Combine(folder, ModelFolder.ManifestFile)))
        {
            return true;
        }

        await _unpacking.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(Path.Combine(folder, ModelFolder.ManifestFile)))
            {
                return true;
            }

            if (await store.ReadAsync(KeyOf(version), cancellationToken) is not { } stored)
            {
                return false;
            }

            // Unpacked beside it, then renamed: a reader never sees half a folder. Another process sharing the folder
            // may have unpacked it meanwhile; then its copy stays.
            Directory.CreateDirectory(root);
            var temporary = Path.Combine(root, ".unpacking-" + Guid.NewGuid().ToString("N"));
            using (var zipped = new MemoryStream(stored.Data.ToArray(), writable: false))
            {
                await ZipFile.ExtractToDirectoryAsync(zipped, temporary, cancellationToken);
            }

            try
            {
                Directory.Move(temporary, folder);
                StoredModelsLog.Unpacked(logger, version, folder);
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                Directory.Delete(temporary, recursive: true);
            }

            return true;
        }
        finally
        {
            _unpacking.Release();
        }
    }

    private static string KeyOf(long version) => TenantKeys.Storage("models/encoder/" + ModelFolder.FolderName(version));

    // A list of versions, as text: "1,2,5".
    private async Task<(long[] Versions, string? ETag)> ReadAsync(string key, CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(key, cancellationToken) is not { } snapshot)
        {
            return ([], null);
        }

        var text = Encoding.UTF8.GetString(snapshot.Data.Span);
        var versions = text.Length == 0 ? [] : text.Split(',').Select(v => long.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        return (versions, snapshot.ETag);
    }

    // Read, change, write with the ETag read; a writer that lost the race reads again.
    private async Task UpdateAsync(string key, Func<long[], long[]> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (versions, etag) = await ReadAsync(key, cancellationToken);
            var next = change(versions);
            var data = Encoding.UTF8.GetBytes(string.Join(',', next.Select(v => v.ToString(CultureInfo.InvariantCulture))));
            try
            {
                await store.WriteAsync(key, data, next.Length == 0 ? 0 : next.Max(), etag, cancellationToken);
                return;
            }
            catch (InconsistentStateException) when (attempt < 5)
            {
            }
        }
    }
}

internal static partial class StoredModelsLog
{
    [LoggerMessage(EventId = 1031, Level = LogLevel.Information, Message = "User encoder version {Version} unpacked from the store into {Folder}")]
    public static partial void Unpacked(ILogger logger, long version, string folder);
}
