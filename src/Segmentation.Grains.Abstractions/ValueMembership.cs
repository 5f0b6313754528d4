namespace Segmentation.Grains;

/// <summary>A buyer's value (RFM) segment as of a query: the served segmentation's nearest segment to her R, F and M.</summary>
/// <param name="SegmentId">Stable across re-runs (segment <c>value:&lt;id&gt;</c>).</param>
/// <param name="Label">In the RFM vocabulary ("Champions", "At risk", …).</param>
/// <param name="RecencyDays">Days since her last purchase.</param>
/// <param name="Frequency">Her orders.</param>
/// <param name="Monetary">What she spent.</param>
/// <param name="ModelVersion">The value segmentation that placed her.</param>
[GenerateSerializer, Immutable, Alias("segmentation.ValueMembership")]
public sealed record ValueMembership(
    [property: Id(0)] int SegmentId,
    [property: Id(1)] string Label,
    [property: Id(2)] double RecencyDays,
    [property: Id(3)] long Frequency,
    [property: Id(4)] double Monetary,
    [property: Id(5)] string ModelVersion);
