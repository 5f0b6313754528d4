using Segmentation.Core.Recommendations;

namespace Segmentation.Grains;

/// <summary>
/// What a recommendation needs from a user, read in one call: her history, segments, embedding and her decayed
/// top-level category affinities (<see cref="Core.UserProfile.TopLevelAffinities"/>; null from an older silo).
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.RecommendationInput")]
public sealed record RecommendationInput(
    [property: Id(0)] IReadOnlyList<Interaction> History,
    [property: Id(1)] SegmentsView Segments,
    [property: Id(2)] float[]? Embedding = null,
    [property: Id(3)] IReadOnlyList<Core.CategoryAffinity>? Affinities = null);
