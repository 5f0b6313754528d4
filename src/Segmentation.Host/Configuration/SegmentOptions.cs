namespace Segmentation.Host.Configuration;

/// <summary>Scheduled work on the ML segments (<c>Segmentation:Segments</c>).</summary>
public sealed class SegmentOptions
{
    /// <summary>
    /// Re-cluster every this often (an Orleans reminder, <c>Segmentation:Segments:ReclusterEvery</c>, e.g.
    /// <c>1.00:00:00</c> for daily); zero (the default) turns scheduled re-clustering off, leaving the admin call
    /// (<c>seg recluster</c>). A run sweeps every user of the log, so keep it coarse; it must be at least
    /// <see cref="SiloOptions.MinimumReminderPeriod"/>.
    /// </summary>
    public TimeSpan ReclusterEvery { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Segments a scheduled re-clustering fits; 0 (the default) keeps the number of the model in force, or, when there is
    /// none yet, chooses K in [2, 12] by silhouette.
    /// </summary>
    public int ReclusterK { get; set; }
}
