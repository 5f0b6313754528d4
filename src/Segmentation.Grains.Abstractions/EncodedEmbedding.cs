namespace Segmentation.Grains;

/// <summary>
/// A user embedding (L2-normalised) and the model version that computed it; an empty <see cref="Vector"/> means the
/// input was numbered for another version than <see cref="ModelVersion"/>, the one served.
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.EncodedEmbedding")]
public sealed record EncodedEmbedding([property: Id(0)] float[] Vector, [property: Id(1)] long ModelVersion);
