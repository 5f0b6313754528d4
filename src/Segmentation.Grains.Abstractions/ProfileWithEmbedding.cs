using Segmentation.Core;

namespace Segmentation.Grains;

/// <summary>A profile with the user's embedding (null when no user encoder is served) and the model version that computed it.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.ProfileWithEmbedding")]
public sealed record ProfileWithEmbedding([property: Id(0)] ProfileView View, [property: Id(1)] float[]? Embedding, [property: Id(2)] long EmbeddingModelVersion);
