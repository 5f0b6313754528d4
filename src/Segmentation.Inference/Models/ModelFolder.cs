using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Segmentation.Inference.Models;

/// <summary>
/// What a model folder says about its model (<c>model.json</c>). Immutable once written.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The version number; the folder is named <see cref="ModelFolder.FolderName"/> of it ("v000003").</summary>
    public long Version { get; init; }

    /// <summary>When it was written (wall clock).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Who wrote it: "seg train" for ours, anything for a drop-in model.</summary>
    public string Producer { get; init; } = "";

    /// <summary>D: the embedding length.</summary>
    public int Dimension { get; init; }

    /// <summary>L: history entries per user the encoder takes.</summary>
    public int HistoryLength { get; init; }

    /// <summary>The dense features' names in column order (F is their count).</summary>
    public IReadOnlyList<string> DenseFeatures { get; init; } = [];

    /// <summary>Items in <see cref="ModelFolder.ItemIdsFile"/>; item index i + 1 in the encoder is line i (0 is padding).</summary>
    public int ItemCount { get; init; }

    /// <summary>A fingerprint of the training data (event-log range, dataset hash).</summary>
    public string TrainingDataFingerprint { get; init; } = "";

    /// <summary>Training settings (free-form, for people).</summary>
    public IReadOnlyDictionary<string, string> Training { get; init; } = new Dictionary<string, string>();

    /// <summary>Quality measured at training time (e.g. "hit_rate_at_10").</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// The on-disk layout of versioned models under one root folder (e.g. <c>./data/models</c>):
/// <code>
/// models/
///   v000001/  model.json  user_encoder.onnx  item_ids.txt  [item_vectors.f32]
///   v000002/  ...
///   ACTIVE    (optional) the folder name of the model to serve; without it the highest version is served
/// </code>
/// <c>item_ids.txt</c> has one item id per line in encoder index order (line i is index i + 1; index 0 is padding);
/// <c>item_vectors.f32</c> (optional, for embedding similarity) holds the item embeddings as little-endian float32,
/// row-major, ItemCount × Dimension. A folder is written under a temporary name and renamed into place, so a reader
/// never sees half a model. Thread-safety: static and stateless; concurrent writers get distinct versions or fail.
/// </summary>
public static class ModelFolder
{
    /// <summary>The manifest file.</summary>
    public const string ManifestFile = "model.json";

    /// <summary>The ONNX user encoder.</summary>
    public const string EncoderFile = "user_encoder.onnx";

    /// <summary>Item ids, one per line, in encoder index order.</summary>
    public const string ItemIdsFile = "item_ids.txt";

    /// <summary>Optional item embeddings (float32, little-endian, ItemCount × Dimension).</summary>
    public const string ItemVectorsFile = "item_vectors.f32";

    /// <summary>The file naming the active version's folder.</summary>
    public const string ActiveFile = "ACTIVE";

    /// <summary>The folder name of a version: "v" and six or more digits.</summary>
    public static string FolderName(long version) => "v" + version.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>The versions under <paramref name="root"/> that have a readable manifest, lowest first (empty when the root is missing).</summary>
    public static IReadOnlyList<ModelManifest> List(string root)
    {
        var result = new List<ModelManifest>();
        if (!Directory.Exists(root))
        {
            return result;
        }

        foreach (var directory in Directory.EnumerateDirectories(root, "v*"))
        {
            if (TryParseVersion(Path.GetFileName(directory), out _) && File.Exists(Path.Combine(directory, ManifestFile)))
            {
                result.Add(ReadManifest(directory));
            }
        }

        result.Sort((a, b) => a.Version.CompareTo(b.Version));
        return result;
    }

    /// <summary>
    /// The folder of the model to serve: the one named in <see cref="ActiveFile"/> if present, else the highest
    /// version; null when there is none.
    /// </summary>
    public static string? ActiveFolder(string root)
    {
        var active = Path.Combine(root, ActiveFile);
        if (File.Exists(active))
        {
            var name = File.ReadAllText(active).Trim();
            var folder = Path.Combine(root, name);
            if (!TryParseVersion(name, out _) || !Directory.Exists(folder))
            {
                throw new InvalidDataException($"{active} names '{name}', which is not a model folder under {root}");
            }

            return folder;
        }

        var versions = List(root);
        return versions.Count == 0 ? null : Path.Combine(root, FolderName(versions[^1].Version));
    }

    /// <summary>Marks <paramref name="version"/> as the one to serve (atomically replaces <see cref="ActiveFile"/>).</summary>
    public static void Activate(string root, long version)
    {
        var name = FolderName(version);
        if (!File.Exists(Path.Combine(root, name, ManifestFile)))
        {
            throw new DirectoryNotFoundException($"model version {version} does not exist under {root}");
        }

        var temp = Path.Combine(root, ActiveFile + ".tmp");
        File.WriteAllText(temp, name + "\n");
        File.Move(temp, Path.Combine(root, ActiveFile), overwrite: true);
    }

    /// <summary>Reads a folder's manifest; <see cref="InvalidDataException"/> naming the file when it is not valid.</summary>
    public static ModelManifest ReadManifest(string folder)
    {
        var path = Path.Combine(folder, ManifestFile);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), ModelJsonContext.Default.ModelManifest)
                ?? throw new InvalidDataException($"{path}: empty manifest");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a valid model manifest: {ex.Message}", ex);
        }
    }

    /// <summary>The item ids of a folder, in encoder index order (line i is index i + 1).</summary>
    public static string[] ReadItemIds(string folder) =>
        File.ReadAllLines(Path.Combine(folder, ItemIdsFile), Encoding.UTF8);

    /// <summary>The item vectors of a folder (ItemCount × Dimension), or null when the folder has none.</summary>
    public static float[]? ReadItemVectors(string folder, ModelManifest manifest)
    {
        var path = Path.Combine(folder, ItemVectorsFile);
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = File.ReadAllBytes(path);
        var expected = (long)manifest.ItemCount * manifest.Dimension * sizeof(float);
        if (bytes.LongLength != expected)
        {
            throw new InvalidDataException($"{path}: {bytes.LongLength} bytes; {manifest.ItemCount} items x {manifest.Dimension} floats need {expected}");
        }

        var vectors = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            var ints = MemoryMarshal.Cast<float, int>(vectors.AsSpan());
            BinaryPrimitives.ReverseEndianness(ints, ints);
        }

        return vectors;
    }

    /// <summary>
    /// Writes a new version under <paramref name="root"/> (one above the highest present) and returns its manifest.
    /// The files are written to a temporary folder that is renamed into place last.
    /// </summary>
    /// <param name="root">The models folder (created if missing).</param>
    /// <param name="manifest">Everything but <see cref="ModelManifest.Version"/> and <see cref="ModelManifest.CreatedAt"/>, which are set here.</param>
    /// <param name="encoder">The ONNX user encoder's bytes.</param>
    /// <param name="itemIds">Item ids in encoder index order (count = <see cref="ModelManifest.ItemCount"/>).</param>
    /// <param name="itemVectors">Item embeddings, ItemCount × Dimension, or empty for none.</param>
    /// <param name="createdAt">The time to record.</param>
    public static ModelManifest Write(string root, ModelManifest manifest, ReadOnlySpan<byte> encoder, IReadOnlyList<string> itemIds, ReadOnlySpan<float> itemVectors, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(itemIds);
        if (itemIds.Count != manifest.ItemCount)
        {
            throw new ArgumentException($"{itemIds.Count} item ids for a manifest of {manifest.ItemCount} items", nameof(itemIds));
        }

        if (!itemVectors.IsEmpty && itemVectors.Length != (long)manifest.ItemCount * manifest.Dimension)
        {
            throw new ArgumentException($"{itemVectors.Length} item floats; {manifest.ItemCount} x {manifest.Dimension} expected", nameof(itemVectors));
        }

        foreach (var id in itemIds)
        {
            if (id.Length == 0 || id.Contains('\n', StringComparison.Ordinal) || id.Contains('\r', StringComparison.Ordinal))
            {
                throw new ArgumentException($"item id '{id}' is empty or has a line break", nameof(itemIds));
            }
        }

        Directory.CreateDirectory(root);
        var versions = List(root);
        var version = versions.Count == 0 ? 1 : versions[^1].Version + 1;
        var written = manifest with { Version = version, CreatedAt = createdAt };
        var temp = Path.Combine(root, $".writing-{FolderName(version)}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            File.WriteAllBytes(Path.Combine(temp, EncoderFile), encoder.ToArray());
            File.WriteAllLines(Path.Combine(temp, ItemIdsFile), itemIds, new UTF8Encoding(false));
            if (!itemVectors.IsEmpty)
            {
                using var stream = File.Create(Path.Combine(temp, ItemVectorsFile));
                var copy = itemVectors.ToArray();
                if (!BitConverter.IsLittleEndian)
                {
                    var ints = MemoryMarshal.Cast<float, int>(copy.AsSpan());
                    BinaryPrimitives.ReverseEndianness(ints, ints);
                }

                stream.Write(MemoryMarshal.AsBytes(copy.AsSpan()));
            }

            File.WriteAllBytes(Path.Combine(temp, ManifestFile), JsonSerializer.SerializeToUtf8Bytes(written, ModelJsonContext.Default.ModelManifest));
            Directory.Move(temp, Path.Combine(root, FolderName(version)));
        }
        catch
        {
            Directory.Delete(temp, recursive: true);
            throw;
        }

        return written;
    }

    private static bool TryParseVersion(string name, out long version)
    {
        version = 0;
        return name.Length > 1 && name[0] == 'v' && long.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out version);
    }
}

[JsonSerializable(typeof(ModelManifest))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class ModelJsonContext : JsonSerializerContext;
