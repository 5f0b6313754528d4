using Segmentation.Inference.Models;

namespace Segmentation.Inference.Tests;

/// <summary>Writes model folders of our exported encoder (<see cref="UserEncoderReference"/>) the way training does.</summary>
internal static class TestModelFolders
{
    public static readonly InferenceOptions Cpu = new() { ExecutionProvider = ExecutionProvider.Cpu, IntraOpThreads = 1 };

    public static readonly DateTimeOffset At = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Item ids of the encoder's rows 1..N-1 (row 0 is padding): "item-1", "item-2", ...</summary>
    public static string[] ItemIds(UserEncoderReference encoder) =>
        Enumerable.Range(1, encoder.Items - 1).Select(i => $"item-{i}").ToArray();

    /// <summary>Exports <paramref name="encoder"/> as the next version under <paramref name="root"/>; returns the folder.</summary>
    public static string Write(string root, UserEncoderReference encoder)
    {
        var version = ModelFolder.List(root).Select(m => m.Version).DefaultIfEmpty(0).Max() + 1;
        var options = new Export.UserEncoderExportOptions
        {
            EmbeddingDim = encoder.Dim,
            HistoryLength = encoder.Length,
            FeatureNames = encoder.Options.FeatureNames,
            TrainingDataFingerprint = encoder.Options.TrainingDataFingerprint,
            ModelVersion = version,
        };
        var bytes = Export.UserEncoderExporter.Export(encoder.ItemEmbeddings, encoder.DenseProjection, options);
        var manifest = new ModelManifest
        {
            Producer = "test",
            Dimension = encoder.Dim,
            HistoryLength = encoder.Length,
            DenseFeatures = encoder.Options.FeatureNames,
            ItemCount = encoder.Items - 1,
            TrainingDataFingerprint = encoder.Options.TrainingDataFingerprint,
        };
        var written = ModelFolder.Write(root, manifest, bytes, ItemIds(encoder), [], At);
        return Path.Combine(root, ModelFolder.FolderName(written.Version));
    }
}
