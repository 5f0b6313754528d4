namespace Segmentation.Grains;

/// <summary>A rule segment a user matches, and why.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.RuleSegmentMatch")]
public sealed record RuleSegmentMatch([property: Id(0)] string Id, [property: Id(1)] string Name, [property: Id(2)] IReadOnlyList<string> Reasons);
