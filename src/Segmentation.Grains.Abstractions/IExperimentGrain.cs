namespace Segmentation.Grains;

/// <summary>
/// A user's part in one experiment: the arm she was assigned, when she was exposed (her first event at or after the
/// start while a member of the experiment's segment) and when she converted (a conversion event after that one), if so.
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.ExperimentParticipant")]
public sealed record ExperimentParticipant(
    [property: Id(0)] string UserId,
    [property: Id(1)] int Arm,
    [property: Id(2)] DateTimeOffset ExposedAt,
    [property: Id(3)] DateTimeOffset? ConvertedAt);

/// <summary>Exposed and converted users of one arm.</summary>
[GenerateSerializer, Immutable, Alias("segmentation.ExperimentArmCounts")]
public readonly record struct ExperimentArmCounts([property: Id(0)] long Exposed, [property: Id(1)] long Converted);

/// <summary>
/// The counts of one experiment (key <c>tenant/experimentId</c>): who took part, in which arm, and who converted. User
/// grains report their part as their events are folded, before the ingest call is acknowledged; a report is durable
/// when its call returns and idempotent (a user is counted once per arm, her conversion once).
/// </summary>
[Alias("segmentation.IExperimentGrain")]
public interface IExperimentGrain : IGrainWithStringKey
{
    /// <summary>Her part as recorded, or null when she has not taken part yet.</summary>
    [Alias("GetParticipant")]
    Task<ExperimentParticipant?> GetParticipantAsync(string userId);

    /// <summary>Records exposures and conversions (merged with what is known: the first exposure and first conversion stand).</summary>
    [Alias("Record")]
    Task RecordAsync(ExperimentParticipant[] participants);

    /// <summary>Counts per arm, for arms 0 to <paramref name="arms"/> − 1.</summary>
    [Alias("Counts")]
    Task<ExperimentArmCounts[]> CountsAsync(int arms);
}
