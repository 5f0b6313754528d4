using Segmentation.Core.Clustering;

namespace Segmentation.Grains;

/// <summary>A user joining an ML segment: her traits and her distance to its centroid.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentJoin")]
public sealed record SegmentJoin([property: Id(0)] string UserId, [property: Id(1)] MemberTraits Traits, [property: Id(2)] double Distance);
