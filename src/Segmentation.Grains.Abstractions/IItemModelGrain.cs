namespace Segmentation.Grains;

/// <summary>
/// The served item model of a tenant (EASEᴿ, <c>Segmentation:Recommendations:ItemModel</c>): trains it from the event
/// log, stores it in the shared models folder and has every silo serve it. One activation in the cluster, so one
/// training at a time: a request that arrives while one runs waits for that training and returns its version. The
/// training runs on the thread pool, off the grain's turn, so the grain answers other calls
/// (<see cref="GetStatusAsync"/>) meanwhile. Retrains on a reminder every <c>ItemModel:RefreshEvery</c>.
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

    /// <summary>
    /// Trains a model from the whole log now, stores it and serves it on every silo; returns its version (0: too little
    /// data). While a training runs, a second request starts none: it returns the running training's version.
    /// </summary>
    [Alias("Train")]
    [ResponseTimeout(TrainingTimeout)]
    Task<long> TrainAsync();

    /// <summary>Whether a training runs (and since when), how many this activation started, and the version served here; never waits for a training.</summary>
    [Alias("GetStatus")]
    Task<ItemModelStatus> GetStatusAsync();
}
