using Segmentation.Core;

namespace Segmentation.Grains;

/// <summary>A user's segments as of one time: lifecycle stage, the rule segments she matches, her ML segment.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentsView")]
public sealed record SegmentsView(
    [property: Id(0)] LifecycleAssessment Lifecycle,
    [property: Id(1)] IReadOnlyList<RuleSegmentMatch> Rules,
    [property: Id(2)] MlMembership? Ml = null);
