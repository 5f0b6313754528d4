namespace Segmentation.Host.Configuration;

/// <summary>
/// How a user's derived segment state follows her events, and scheduled work on the ML segments (section
/// <c>Segmentation:Segments</c>).
/// </summary>
public sealed class SegmentOptions
{
    /// <summary>
    /// How long after the first unrefreshed event a user grain re-embeds her, assigns her ML segment, updates the segment
    /// statistics and publishes her membership changes (one refresh for every event that arrived meanwhile). Ingest is
    /// acknowledged once the events are durable and folded, without waiting for this; queries refresh first, so lookups
    /// never see stale segments. Zero refreshes as soon as the grain is idle.
    /// </summary>
    public TimeSpan RefreshDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Whether each refresh records the user in the in-memory index the business metrics per segment are summed from
    /// (<c>ListSegments</c>, the console). The index keeps one entry (about 230 B) per user ever refreshed, also after
    /// her grain is collected, so memory grows with the users a silo has seen; <c>false</c> keeps memory bounded by the
    /// live grains, and the metrics then count no one.
    /// </summary>
    public bool LiveBusinessMetrics { get; set; } = true;

    /// <summary>
    /// How often the users' segment moves recorded by their refreshes are sent to the segment grains, in one batch per
    /// segment. Reads of segment statistics and members send them first, so this bounds only how stale the statistics
    /// are for the model publication timer and what no read asked for.
    /// </summary>
    public TimeSpan StatisticsFlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);

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
