using System.Globalization;
using System.Text.Json;
using Segmentation.Core.Recommendations;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Served item models on disk: <c>&lt;models folder&gt;/recommender/&lt;version&gt;/</c> holds <c>model.json</c>
/// (<see cref="ItemModelManifest"/>) and <c>ease.bin</c> (<see cref="EaseModel.Write"/>). A version is written to a
/// temporary folder and renamed into place, so a reader never sees half a model; the models folder is shared by the
/// silos of a cluster, so every silo serves the same bytes. Thread-safe (versions are immutable once renamed).
/// </summary>
internal sealed class ItemModelStore(string modelsRoot)
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The folder of every version.</summary>
    public string Root { get; } = Path.Combine(modelsRoot, "recommender");

    /// <summary>Stored versions, oldest first.</summary>
    public IReadOnlyList<long> Versions() =>
        Directory.Exists(Root)
            ? [.. Directory.EnumerateDirectories(Root)
                .Select(d => long.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0)
                .Where(v => v > 0 && File.Exists(Path.Combine(Root, v.ToString(CultureInfo.InvariantCulture), "model.json")))
                .Order()]
            : [];

    /// <summary>Writes <paramref name="model"/> as the next version; returns the manifest with that version.</summary>
    public ItemModelManifest Save(EaseModel model, ItemModelManifest manifest)
    {
        Directory.CreateDirectory(Root);
        var version = (Versions() is { Count: > 0 } versions ? versions[^1] : 0) + 1;
        manifest = manifest with { Version = version };
        var temporary = Path.Combine(Root, $".tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        using (var stream = File.Create(Path.Combine(temporary, "ease.bin")))
        {
            model.Write(stream);
        }

        File.WriteAllText(Path.Combine(temporary, "model.json"), JsonSerializer.Serialize(manifest, s_json));
        var target = Path.Combine(Root, version.ToString(CultureInfo.InvariantCulture));
        try
        {
            Directory.Move(temporary, target);
        }
        catch (IOException)
        {
            // Another silo saved this version number first: take the next one.
            Directory.Delete(temporary, recursive: true);
            return Save(model, manifest);
        }

        return manifest;
    }

    /// <summary>Reads version <paramref name="version"/>; <see cref="InvalidDataException"/> names the file and the problem.</summary>
    public (EaseModel Model, ItemModelManifest Manifest) Load(long version)
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
