namespace Segmentation.Grains;

/// <summary>
/// A tenant's ML segmentation model (key: the tenant, <see cref="TenantKeys.DefaultTenant"/>): publishes a new version
/// from the segments' live means every <c>Segmentation:SegmentPublishInterval</c> (a grain timer), and re-clusters
/// every <c>Segmentation:Segments:ReclusterEvery</c> (a reminder). The host activates it at start and it stays active
/// while the silo runs.
/// </summary>
[Alias("segmentation.ISegmentationModelGrain")]
public interface ISegmentationModelGrain : IGrainWithStringKey
{
    /// <summary>Activates the grain (its publication timer and re-clustering schedule start with the activation); idempotent.</summary>
    [Alias("EnsureStarted")]
    Task EnsureStartedAsync();

    /// <summary>
    /// Publishes a new version now when members changed since the last one (as the timer does), and returns the version
    /// in force (0 when there is no model yet).
    /// </summary>
    [Alias("Publish")]
    Task<long> PublishAsync();

    /// <summary>
    /// Publishes a new version now whatever the count of changes (after an erasure or retention, so that no centroid keeps
    /// the mean of members that are gone), and returns the version in force (0 when there is no model).
    /// </summary>
    [Alias("PublishNow")]
    Task<long> PublishNowAsync();
}
