using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Core.Recommendations;

namespace Segmentation.Grains;

/// <summary>
/// What a Recommend reads of a user, in one call: her history, lifecycle stage, ML segment (its id and label name the
/// popularity she is shown), embedding and decayed top-level category affinities
/// (<see cref="UserProfile.TopLevelAffinities"/>). <see cref="RecommendationInput"/> carries her whole
/// <see cref="SegmentsView"/> as well (churn, value and anomaly scores, the lifecycle and ML explanations), which a
/// recommendation never reads and a miss of the answer cache paid for on every call.
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.RecommendationSignals")]
public sealed record RecommendationSignals(
    [property: Id(0)] IReadOnlyList<Interaction> History,
    [property: Id(1)] LifecycleStage Stage,
    [property: Id(2)] SegmentAssignment? MlSegment,
    [property: Id(3)] float[]? Embedding,
    [property: Id(4)] IReadOnlyList<CategoryAffinity> Affinities);
