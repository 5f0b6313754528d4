using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Served item models. The one every silo serves is kept in the snapshot store (SQLite embedded, PostgreSQL in a
/// cluster) under <c>&lt;tenant&gt;/models/recommender</c>: its manifest and its weights in one value whose sequence is
/// the version, overwritten by each newer version (the newest training wins, <see cref="SnapshotOverwrite"/>). So a silo
/// on an <c>emptyDir</c> pod, or one that starts after the training, reads the same bytes as the one that trained it.
/// <para>Each version is also written to the local models folder, <c>&lt;models folder&gt;/recommender/&lt;version&gt;/</c>
/// (<c>model.json</c>, the <see cref="ItemModelManifest"/>, beside <c>ease.bin</c>, <see cref="EaseModel.Write"/>), for
/// people to read; a data directory from before models were stored is served from there while the store holds none.
/// Thread-safe (versions are immutable once written).</para>
/// </summary>
/// <remarks>
/// The stored value: the manifest's UTF-8 JSON length (int32, little-endian), the JSON, then the model as
/// <see cref="EaseModel.Write"/> writes it. One value rather than a value per version: at 3,000 items a version is
/// 36 MB, and only the newest is served.
/// </remarks>
internal sealed class ItemModelStore(ISnapshotStore store, string modelsRoot, string tenant = TenantKeys.DefaultTenant)
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The local folder of every version written here.</summary>
    public string Root { get; } = Path.Combine(modelsRoot, "recommender");

    /// <summary>The snapshot-store key of the served version.</summary>
    public string Key { get; } = TenantKeys.Storage("models/recommender", tenant);

    /// <summary>Versions in the local folder, oldest first.</summary>
    public IReadOnlyList<long> LocalVersions() =>
        Directory.Exists(Root)
            ? [.. Directory.EnumerateDirectories(Root)
                .Select(d => long.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0)
                .Where(v => v > 0 && File.Exists(Path.Combine(Root, v.ToString(CultureInfo.InvariantCulture), "model.json")))
                .Order()]
            : [];

    /// <summary>The newest version stored (in the store, else the local folder); 0 when none.</summary>
    public async Task<long> NewestVersionAsync(CancellationToken cancellationToken) =>
        await store.ReadAsync(Key, cancellationToken) is { } stored ? stored.Sequence
        : LocalVersions() is { Count: > 0 } local ? local[^1]
        : 0;

    /// <summary>
    /// Stores <paramref name="model"/> as the next version (after the newest in the store and the local folder) for every
    /// silo, and in the local folder; returns the manifest with that version.
    /// </summary>
    public async Task<ItemModelManifest> SaveAsync(EaseModel model, ItemModelManifest manifest, CancellationToken cancellationToken)
    {
        var newest = Math.Max(await NewestVersionAsync(cancellationToken), LocalVersions() is { Count: > 0 } local ? local[^1] : 0);
        manifest = manifest with { Version = newest + 1 };
        using var value = new MemoryStream();
        var json = JsonSerializer.SerializeToUtf8Bytes(manifest, s_json);
        Span<byte> length = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(length, json.Length);
        value.Write(length);
        value.Write(json);
        model.Write(value);
        var bytes = value.GetBuffer().AsMemory(0, (int)value.Length);
        WriteLocal(manifest, json, bytes[(sizeof(int) + json.Length)..]);
        // The newest training wins; the item model grain trains one at a time, so versions only grow.
        await store.OverwriteAsync(Key, bytes, manifest.Version, cancellationToken);
        return manifest;
    }

    /// <summary>
    /// The version every silo serves when it is newer than <paramref name="served"/> (else null): the store's, or, when
    /// the store holds none, the local folder's newest. <see cref="InvalidDataException"/> names the key or file and the problem.
    /// </summary>
    public async Task<(EaseModel Model, ItemModelManifest Manifest)?> LoadNewerAsync(long served, CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(Key, cancellationToken) is { } stored)
        {
            return stored.Sequence <= served ? null : Decode(stored.Data, Key);
        }

        return LocalVersions() is { Count: > 0 } local && local[^1] > served ? LoadLocal(local[^1]) : null;
    }

    private static (EaseModel Model, ItemModelManifest Manifest) Decode(ReadOnlyMemory<byte> value, string key)
    {
        try
        {
            var span = value.Span;
            var length = span.Length >= sizeof(int) ? BinaryPrimitives.ReadInt32LittleEndian(span) : -1;
            if (length < 2 || length > span.Length - sizeof(int))
            {
                throw new InvalidDataException("not an item model (no manifest at its start)");
            }

            var manifest = JsonSerializer.Deserialize<ItemModelManifest>(span.Slice(sizeof(int), length), s_json)
                ?? throw new InvalidDataException("empty manifest");
            using var weights = new MemoryStream(value[(sizeof(int) + length)..].ToArray(), writable: false);
            return (EaseModel.Read(weights), manifest);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException)
        {
            throw new InvalidDataException($"stored item model '{key}': {ex.Message}", ex);
        }
    }

    // Written to a temporary folder and renamed into place, so a reader never sees half a version.
    private void WriteLocal(ItemModelManifest manifest, byte[] json, ReadOnlyMemory<byte> weights)
    {
        Directory.CreateDirectory(Root);
        var temporary = Path.Combine(Root, $".tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        using (var stream = File.Create(Path.Combine(temporary, "ease.bin")))
        {
            stream.Write(weights.Span);
        }

        File.WriteAllBytes(Path.Combine(temporary, "model.json"), json);
        var target = Path.Combine(Root, manifest.Version.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(target))
        {
            // A folder left by an earlier store of this data directory: the store numbers versions now.
            Directory.Delete(target, recursive: true);
        }

        Directory.Move(temporary, target);
    }

    private (EaseModel Model, ItemModelManifest Manifest) LoadLocal(long version)
    {
        var folder = Path.Combine(Root, version.ToString(CultureInfo.InvariantCulture));
        var manifestPath = Path.Combine(folder, "model.json");
        var manifest = JsonSerializer.Deserialize<ItemModelManifest>(File.ReadAllText(manifestPath), s_json)
            ?? throw new InvalidDataException($"{manifestPath}: empty manifest");
        var modelPath = Path.Combine(folder, "ease.bin");
        try
        {
            using var stream = File.OpenRead(modelPath);
            return (EaseModel.Read(stream), manifest);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{modelPath}: {ex.Message}", ex);
        }
    }
}
