namespace Segmentation.Grains;

/// <summary>A user's churn risk as of a query: probability, band segment, and the top three reasons.</summary>
/// <param name="Probability">Probability of no activity in the next <paramref name="HorizonDays"/> days.</param>
/// <param name="Band">"high", "medium" or "low" (segment <c>churn:&lt;band&gt;</c>).</param>
/// <param name="Reasons">"no visit for 41 days: +0.22", largest effect first.</param>
/// <param name="ModelVersion">The churn model version that scored it.</param>
/// <param name="HorizonDays">The model's horizon.</param>
[GenerateSerializer, Immutable, Alias("segmentation.ChurnRisk")]
public sealed record ChurnRisk(
    [property: Id(0)] double Probability,
    [property: Id(1)] string Band,
    [property: Id(2)] IReadOnlyList<string> Reasons,
    [property: Id(3)] string ModelVersion,
    [property: Id(4)] int HorizonDays);
