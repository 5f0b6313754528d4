using Segmentation.Core.Clustering;

namespace Segmentation.Grains;

/// <summary>A user joining an ML segment: her traits and her distance to its centroid.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.SegmentJoin")]
public sealed record SegmentJoin([property: Id(0)] string UserId, [property: Id(1)] MemberTraits Traits, [property: Id(2)] double Distance)
{
    /// <summary>
    /// The segment she was assigned to (0 from a silo of a build before this field). The segment grain that takes the join
    /// knows its own id; this is for the silo that made the join, which keeps it as her membership until the next one.
    /// </summary>
    [Id(3)]
    public int SegmentId { get; init; }
}
