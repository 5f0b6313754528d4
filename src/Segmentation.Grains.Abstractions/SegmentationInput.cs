using Segmentation.Core.Clustering;

namespace Segmentation.Grains;

/// <summary>A user's traits (with her embedding) for re-clustering, and the encoder version that computed the embedding.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentationInput")]
public sealed record SegmentationInput([property: Id(0)] MemberTraits Traits, [property: Id(1)] string EmbeddingModelVersion);
