using Segmentation.Core.Recommendations;

namespace Segmentation.Grains;

/// <summary>What a recommendation needs from a user, read in one call: her history, segments and embedding.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.RecommendationInput")]
public sealed record RecommendationInput(
    [property: Id(0)] IReadOnlyList<Interaction> History,
    [property: Id(1)] SegmentsView Segments,
    [property: Id(2)] float[]? Embedding = null);
