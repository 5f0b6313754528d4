namespace Segmentation.Grains;

/// <summary>
/// The served item model of a tenant (EASEᴿ, <c>Segmentation:Recommendations:ItemModel</c>): trains it from the event
/// log, stores it in the shared models folder and has every silo serve it. One activation in the cluster, so one
/// training at a time; retrains on a reminder every <c>ItemModel:RefreshEvery</c>.
/// </summary>
[Alias("segmentation.IItemModelGrain")]
public interface IItemModelGrain : IGrainWithStringKey
{
    /// <summary>
    /// How long a caller waits for a training (beyond the silo's grain-call timeout, two minutes by default): the tuning
    /// takes seconds to a minute on a 2,000-user shop, longer on a loaded machine or a larger log.
    /// </summary>
    public const string TrainingTimeout = "00:15:00";

    /// <summary>
    /// Activates the grain (its refresh schedule starts with the activation) and, when <c>ItemModel:TrainAtStart</c>
    /// is set and no model is stored, trains one; idempotent.
    /// </summary>
    [Alias("EnsureStarted")]
    [ResponseTimeout(TrainingTimeout)]
    Task EnsureStartedAsync();

    /// <summary>
    /// Activates the grain, which starts its refresh schedule; trains nothing (a tenant whose first events just arrived
    /// has too little to train on). Idempotent.
    /// </summary>
    [Alias("EnsureScheduled")]
    Task EnsureScheduledAsync();

    /// <summary>Trains a model from the whole log now, stores it and serves it on every silo; returns its version (0: too little data).</summary>
    [Alias("Train")]
    [ResponseTimeout(TrainingTimeout)]
    Task<long> TrainAsync();
}
