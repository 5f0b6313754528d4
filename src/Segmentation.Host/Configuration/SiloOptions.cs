namespace Segmentation.Host.Configuration;

/// <summary>
/// The Orleans silo co-hosted by the service (<c>Segmentation:Silo</c>). The embedded default clusters on localhost
/// with itself alone.
/// </summary>
public sealed class SiloOptions
{
    /// <summary>Silo-to-silo port; 0 (default) takes a free port, so several servers can run on one machine.</summary>
    public int SiloPort { get; set; }

    /// <summary>Port for external Orleans clients; 0 (default) opens no gateway (the gRPC edge runs inside the silo).</summary>
    public int GatewayPort { get; set; }

    /// <summary>
    /// How long a grain call may take before the caller gets a timeout (Orleans' <c>SiloMessagingOptions.ResponseTimeout</c>,
    /// 30 s by default). An ingest batch of 10,000 events for one user, appended with group commit and re-embedded, or a
    /// call that first activates a user by replaying a long log tail, can exceed 30 s on a loaded 2-core machine.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long an activation may take (<c>GrainCollectionOptions.ActivationTimeout</c>): a user's activation reads her
    /// snapshot and replays the log after it, which for a user with a long unsnapshotted tail takes a while.
    /// </summary>
    public TimeSpan ActivationTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a deactivation (snapshot write) may take (<c>GrainCollectionOptions.DeactivationTimeout</c>).</summary>
    public TimeSpan DeactivationTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often idle grains are looked for (<c>GrainCollectionOptions.CollectionQuantum</c>); must be shorter than <c>GrainIdleTimeout</c>.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Memory use (percent of the memory available to the process) above which Orleans sheds activations, least
    /// recently used first, until <see cref="MemoryUsageTargetPercentage"/> is reached
    /// (<c>GrainCollectionOptions.EnableActivationSheddingOnMemoryPressure</c>). This replaces the old live-grain cap.
    /// </summary>
    public double MemoryUsageLimitPercentage { get; set; } = 80;

    /// <summary>Memory use that shedding brings the process back to.</summary>
    public double MemoryUsageTargetPercentage { get; set; } = 70;

    /// <summary>
    /// The shortest reminder period the silo accepts (Orleans' <c>ReminderOptions.MinimumReminderPeriod</c>, 1 minute by
    /// default). Reminders are for coarse schedules; tests lower it to see a scheduled re-clustering within seconds.
    /// </summary>
    public TimeSpan MinimumReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Grain locations the silo's directory cache keeps (<c>GrainDirectoryOptions.CacheSize</c>; Orleans' default is
    /// 1,000,000). An entry outlives its activation (about 170 bytes each, least recently used out first), so with
    /// Orleans' default every user touched once keeps one until a million have been: this keeps the cache to the
    /// working set instead. A miss costs one directory lookup, local in the embedded default.
    /// </summary>
    public int DirectoryCacheSize { get; set; } = 100_000;
}
