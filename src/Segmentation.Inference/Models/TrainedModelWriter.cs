using Segmentation.Core.Embeddings;
using Segmentation.Inference.Export;

namespace Segmentation.Inference.Models;

/// <summary>
/// Writes a trained user encoder as a new model version: the ONNX encoder (our exporter), the item ids and unit item
/// vectors, and the manifest. Shared by <c>seg train</c> and <c>AdminService.TrainModel</c>.
/// </summary>
public static class TrainedModelWriter
{
    /// <summary>
    /// Writes <paramref name="model"/> under <paramref name="root"/>. The encoder's metadata records the version
    /// expected (one above the highest present); returns it with the manifest, whose version differs only if another
    /// writer took that version meanwhile.
    /// </summary>
    /// <param name="root">The models folder.</param>
    /// <param name="model">The trained encoder.</param>
    /// <param name="producer">Who trained it (recorded in the manifest).</param>
    /// <param name="fingerprint">A fingerprint of the training data.</param>
    /// <param name="description">The encoder's description (ONNX metadata).</param>
    /// <param name="training">Training settings, recorded in the manifest.</param>
    /// <param name="metrics">Quality metrics, recorded in the manifest.</param>
    /// <param name="createdAt">The version's creation time.</param>
    public static (ModelManifest Manifest, long EncoderVersion) Write(
        string root,
        TrainedUserEncoder model,
        string producer,
        string fingerprint,
        string description,
        IReadOnlyDictionary<string, string> training,
        IReadOnlyDictionary<string, double> metrics,
        DateTimeOffset createdAt)
    {
        var existing = ModelFolder.List(root);
        var version = existing.Count == 0 ? 1 : existing[^1].Version + 1;
        var encoder = UserEncoderExporter.Export(model.EncoderTable(), model.DenseProjection, new UserEncoderExportOptions
        {
            EmbeddingDim = model.Dimension,
            HistoryLength = model.Features.HistoryLength,
            FeatureNames = EncoderFeatures.FeatureNames,
            TrainingDataFingerprint = fingerprint,
            ModelVersion = version,
            Description = description,
        });
        var manifest = ModelFolder.Write(
            root,
            new ModelManifest
            {
                Producer = producer,
                Dimension = model.Dimension,
                HistoryLength = model.Features.HistoryLength,
                DenseFeatures = EncoderFeatures.FeatureNames,
                ItemCount = model.ItemIds.Count,
                TrainingDataFingerprint = fingerprint,
                Training = training,
                Metrics = metrics,
            },
            encoder,
            model.ItemIds,
            model.ItemVectors,
            createdAt);
        return (manifest, version);
    }
}
