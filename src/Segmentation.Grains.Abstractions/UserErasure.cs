namespace Segmentation.Grains;

/// <summary>What forgetting a user (<see cref="IUserGrain.ForgetAsync"/>) removed from her grain and storage.</summary>
/// <param name="Events">Her events deleted from the log (0 when the caller deleted them).</param>
/// <param name="Snapshot">Whether a snapshot of hers was deleted.</param>
/// <param name="Embedding">Whether she had an embedding.</param>
/// <param name="MlSegment">Whether she was in an ML segment (she left it).</param>
/// <param name="RuleMemberships">How many rule segments she was in.</param>
/// <param name="WasActive">Whether she had events in memory (false: nothing of her was found).</param>
[GenerateSerializer, Immutable, Alias("segmentation.UserErasure")]
public sealed record UserErasure(
    [property: Id(0)] long Events,
    [property: Id(1)] bool Snapshot,
    [property: Id(2)] bool Embedding,
    [property: Id(3)] bool MlSegment,
    [property: Id(4)] int RuleMemberships,
    [property: Id(5)] bool WasActive);
