namespace Segmentation.Host.Configuration;

/// <summary>How a user's derived segment state follows her events (section <c>Segmentation:Segments</c>).</summary>
public sealed class SegmentOptions
{
    /// <summary>
    /// How long after the first unrefreshed event a user grain re-embeds her, assigns her ML segment, updates the segment
    /// statistics and publishes her membership changes (one refresh for every event that arrived meanwhile). Ingest is
    /// acknowledged once the events are durable and folded, without waiting for this; queries refresh first, so lookups
    /// never see stale segments. Zero refreshes as soon as the grain is idle.
    /// </summary>
    public TimeSpan RefreshDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}
