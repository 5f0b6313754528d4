namespace Segmentation.Grains;

/// <summary>Where a tenant's item model grain stands (<see cref="IItemModelGrain.GetStatusAsync"/>); answered while a training runs.</summary>
/// <param name="Training">Whether a training is running now.</param>
/// <param name="TrainingSince">When the running training started (wall clock); null when none runs.</param>
/// <param name="Trainings">Trainings this activation started (a request that joined a running one starts none).</param>
/// <param name="ServedVersion">The version this silo serves for the tenant (0: none).</param>
[GenerateSerializer, Immutable, Alias("segmentation.ItemModelStatus")]
public sealed record ItemModelStatus(
    [property: Id(0)] bool Training,
    [property: Id(1)] DateTimeOffset? TrainingSince,
    [property: Id(2)] long Trainings,
    [property: Id(3)] long ServedVersion);
