using Segmentation.Inference.Models;

namespace Segmentation.Inference.Tests;

public sealed class ModelFolderTests : IDisposable
{
    private static readonly DateTimeOffset s_at = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "seg-models-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static ModelManifest Manifest(int items = 2) => new()
    {
        Producer = "test",
        Dimension = 3,
        HistoryLength = 4,
        DenseFeatures = ["recency_days", "orders"],
        ItemCount = items,
        TrainingDataFingerprint = "fp",
        Metrics = new Dictionary<string, double> { ["hit_rate_at_10"] = 0.5 },
    };

    [Fact]
    public void Write_NumbersVersions_AndTheNewestIsActiveUntilAnotherIsActivated()
    {
        Assert.Empty(ModelFolder.List(_root));
        Assert.Null(ModelFolder.ActiveFolder(_root));

        var first = ModelFolder.Write(_root, Manifest(), [1, 2, 3], ["a", "b"], [1, 2, 3, 4, 5, 6], s_at);
        var second = ModelFolder.Write(_root, Manifest(), [4], ["a", "b"], [], s_at.AddHours(1));
        Assert.Equal((1L, 2L), (first.Version, second.Version));
        Assert.Equal([1L, 2L], ModelFolder.List(_root).Select(m => m.Version));
        Assert.Equal(ModelFolder.FolderName(2), Path.GetFileName(ModelFolder.ActiveFolder(_root)));

        ModelFolder.Activate(_root, 1);
        var active = ModelFolder.ActiveFolder(_root)!;
        Assert.Equal("v000001", Path.GetFileName(active));
        var manifest = ModelFolder.ReadManifest(active);
        Assert.Equal(first, manifest with { DenseFeatures = first.DenseFeatures, Training = first.Training, Metrics = first.Metrics });
        Assert.Equal(["recency_days", "orders"], manifest.DenseFeatures);
        Assert.Equal(0.5, manifest.Metrics["hit_rate_at_10"]);
        Assert.Equal(["a", "b"], ModelFolder.ReadItemIds(active));
        Assert.Equal([1f, 2, 3, 4, 5, 6], ModelFolder.ReadItemVectors(active, manifest)!);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(active, ModelFolder.EncoderFile)));
        Assert.Null(ModelFolder.ReadItemVectors(Path.Combine(_root, "v000002"), second));

        Assert.Throws<DirectoryNotFoundException>(() => ModelFolder.Activate(_root, 7));
        Assert.Empty(Directory.GetDirectories(_root, ".writing-*"));
    }

    [Fact]
    public void BadInput_IsRejectedWithoutLeavingAFolder()
    {
        Assert.Throws<ArgumentException>(() => ModelFolder.Write(_root, Manifest(), [1], ["a"], [], s_at));
        Assert.Throws<ArgumentException>(() => ModelFolder.Write(_root, Manifest(), [1], ["a", "b\nc"], [], s_at));
        Assert.Throws<ArgumentException>(() => ModelFolder.Write(_root, Manifest(), [1], ["a", "b"], [1, 2], s_at));
        Assert.Empty(ModelFolder.List(_root));

        ModelFolder.Write(_root, Manifest(), [1], ["a", "b"], [], s_at);
        File.WriteAllText(Path.Combine(_root, "v000001", ModelFolder.ManifestFile), "{ not json");
        var error = Assert.Throws<InvalidDataException>(() => ModelFolder.ReadManifest(Path.Combine(_root, "v000001")));
        Assert.Contains("model.json", error.Message, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(_root, ModelFolder.ActiveFile), "elsewhere");
        Assert.Throws<InvalidDataException>(() => ModelFolder.ActiveFolder(_root));
    }
}
