namespace Segmentation.Grains;

/// <summary>A user's anomaly score from the served Isolation Forest, whether it flags her, and the inputs that made it.</summary>
/// <param name="Score">In (0, 1); near 1 is anomalous, near 0.5 or below ordinary.</param>
/// <param name="Flagged">Whether the score reaches the flag threshold (segment <c>anomaly:flagged</c>).</param>
/// <param name="Reasons">The top three inputs by their share of the isolation, with her value ("views 6.2: 41 %").</param>
/// <param name="ModelVersion">The forest that scored her.</param>
[GenerateSerializer, Immutable, Alias("segmentation.AnomalyFlag")]
public sealed record AnomalyFlag(
    [property: Id(0)] double Score,
    [property: Id(1)] bool Flagged,
    [property: Id(2)] IReadOnlyList<string> Reasons,
    [property: Id(3)] string ModelVersion);
