using Segmentation.Core;

namespace Segmentation.Grains;

/// <summary>A user's segments as of one time: lifecycle stage, the rule segments she matches, her ML segment, her churn risk.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentsView")]
public sealed record SegmentsView(
    [property: Id(0)] LifecycleAssessment Lifecycle,
    [property: Id(1)] IReadOnlyList<RuleSegmentMatch> Rules,
    [property: Id(2)] MlMembership? Ml = null)
{
    /// <summary>Her churn risk, when a churn model is served.</summary>
    [Id(3)]
    public ChurnRisk? Churn { get; init; }

    /// <summary>Her anomaly score, when an anomaly model is served.</summary>
    [Id(4)]
    public AnomalyFlag? Anomaly { get; init; }

    /// <summary>Her value (RFM) segment, when a value segmentation is served and she has bought.</summary>
    [Id(5)]
    public ValueMembership? Value { get; init; }
}
