namespace Segmentation.Grains;

/// <summary>
/// Data retention (<c>Segmentation:Privacy:RetentionDays</c>, per tenant): drops events older than a tenant's retention
/// from the log and everything derived from them, on a reminder every <c>Privacy:RetentionEvery</c>. One activation in
/// the cluster (key <see cref="Key"/>), so one run at a time.
/// </summary>
[Alias("segmentation.IRetentionGrain")]
public interface IRetentionGrain : IGrainWithStringKey
{
    /// <summary>The key of the one retention grain of a cluster (it runs every tenant's retention).</summary>
    public const string Key = "retention";

    /// <summary>Activates the grain (its schedule starts with the activation); idempotent.</summary>
    [Alias("EnsureStarted")]
    Task EnsureStartedAsync();

    /// <summary>Runs retention now (as the reminder does); returns how many events it dropped.</summary>
    [Alias("Run")]
    Task<long> RunAsync();
}
