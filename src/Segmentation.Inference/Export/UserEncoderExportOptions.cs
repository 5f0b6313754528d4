namespace Segmentation.Inference.Export;

/// <summary>The shape and provenance of a user encoder written by <see cref="UserEncoderExporter"/>.</summary>
public sealed class UserEncoderExportOptions
{
    /// <summary>D: the length of an item embedding and of the output user embedding (at least 1).</summary>
    public required int EmbeddingDim { get; init; }

    /// <summary>L: history entries per user, fixed in the graph (at least 1). The host pads shorter histories with
    /// item 0 and weight 0.</summary>
    public required int HistoryLength { get; init; }

    /// <summary>
    /// The dense features' names in column order; F is their number (0 is allowed: <c>dense</c> is then float32[batch, 0]).
    /// Names must be non-empty, unique, without commas (they are stored comma-separated) and without surrounding spaces.
    /// </summary>
    public required IReadOnlyList<string> FeatureNames { get; init; }

    /// <summary>A fingerprint of the training data (e.g. a hash of the event-log range the embeddings were trained on);
    /// recorded in the metadata so a model can be traced back. Must not be empty.</summary>
    public required string TrainingDataFingerprint { get; init; }

    /// <summary>The model version (non-negative): written to the ModelProto's <c>model_version</c> and to the metadata.</summary>
    public long ModelVersion { get; init; } = 1;

    /// <summary>Optional free text for the model's <c>doc_string</c>.</summary>
    public string? Description { get; init; }
}
