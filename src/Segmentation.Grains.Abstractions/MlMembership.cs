using Segmentation.Core.Clustering;

namespace Segmentation.Grains;

/// <summary>A user's ML segment, the model version it was assigned with, and why.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.MlMembership")]
public sealed record MlMembership(
    [property: Id(0)] SegmentAssignment Assignment,
    [property: Id(1)] long ModelVersion,
    [property: Id(2)] IReadOnlyList<string> Explanation);
