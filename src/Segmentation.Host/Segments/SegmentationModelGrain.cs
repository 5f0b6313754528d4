using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Segments;

/// <summary>
/// The periodic and scheduled work on a tenant's ML segmentation (<see cref="ISegmentationModelGrain"/>): a grain timer
/// publishes every <see cref="SegmentationOptions.SegmentPublishInterval"/> (<see cref="MlSegmentation.PublishAsync"/>),
/// and a reminder re-clusters every <see cref="SegmentOptions.ReclusterEvery"/> — the same <see cref="Reclustering"/>
/// the admin call runs, published and followed by a sweep that re-assigns every user.
/// </summary>
/// <remarks>
/// <para>Never collected when idle (<see cref="KeepAliveAttribute"/>; its timer also keeps it alive): the host activates
/// it at start (<c>StartupSweep</c>) and the silo deactivates it at stop, which ends the timer. A reminder tick activates
/// it again wherever it was lost.</para>
/// <para>Not reentrant: a publication tick waits while a scheduled re-clustering runs in this grain's turn, so no version
/// is published between the new model and the sweep that assigns users to it. A re-clustering calls user grains and
/// segment grains only; none of them calls back here, so the long turn cannot deadlock.</para>
/// </remarks>
// MlSegmentation (the model in force) is each process's copy; in a cluster every version this grain publishes is told
// to every silo, which loads it from storage before the publication returns (ClusterReplication).
[RequiresRole(ServerRoles.Silo)]
[KeepAlive]
internal sealed class SegmentationModelGrain : Grain, ISegmentationModelGrain, IRemindable
{
    /// <summary>The reminder that re-clusters.</summary>
    internal const string ReclusterReminder = "recluster";

    private const int ChosenKMin = 2;
    private const int ChosenKMax = 12;

    private readonly TenantSegmentations _segmentations;
    private MlSegmentation _ml = null!;
    private Reclustering _reclustering = null!;
    private readonly UserEmbeddings _embeddings;
    private readonly SegmentationOptions _options;
    private readonly ILogger<SegmentationModelGrain> _logger;

    public SegmentationModelGrain(TenantSegmentations segmentations, UserEmbeddings embeddings, SegmentationOptions options, ILogger<SegmentationModelGrain> logger)
    {
        _segmentations = segmentations;
        _embeddings = embeddings;
        _options = options;
        _logger = logger;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // The grain's key is its tenant: it publishes and re-clusters that tenant's segmentation.
        var segmentation = await _segmentations.ForAsync(this.GetPrimaryKeyString(), cancellationToken);
        _ml = segmentation.Ml;
        _reclustering = segmentation.Reclustering;
        var interval = _options.SegmentPublishInterval;
        this.RegisterGrainTimer(static (self, ct) => self.PublishOnTimerAsync(ct), this, new GrainTimerCreationOptions(interval, interval) { KeepAlive = true });

        // Reminders outlive activations (and, with a durable reminder table, restarts): register only when the schedule is
        // new or changed, so a re-activation does not push the next run back by a whole period.
        var every = _options.Segments.ReclusterEvery;
        var existing = await this.GetReminder(ReclusterReminder, cancellationToken);
        if (every > TimeSpan.Zero)
        {
            if (existing is null)
            {
                await this.RegisterOrUpdateReminder(ReclusterReminder, every, every, cancellationToken);
            }

            ScheduleLog.ReclusterScheduled(_logger, every);
        }
        else if (existing is not null)
        {
            // Turned off since it was registered.
            await this.UnregisterReminder(existing, cancellationToken);
        }
    }

    public Task EnsureStartedAsync() => Task.CompletedTask;

    public async Task<long> PublishAsync() => (await _ml.PublishAsync(CancellationToken.None))?.Version ?? 0;

    public async Task<long> PublishNowAsync()
    {
        _ml.MarkChanged();
        return (await _ml.PublishAsync(CancellationToken.None))?.Version ?? 0;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ReclusterReminder)
        {
            return;
        }

        if (await _embeddings.ServedVersionAsync() is null)
        {
            ScheduleLog.ReclusterSkipped(_logger, "no user encoder is served");
            return;
        }

        var k = _options.Segments.ReclusterK > 0 ? _options.Segments.ReclusterK : _ml.Current?.SegmentIds.Count ?? 0;
        try
        {
            var report = await _reclustering.RunAsync(
                new ReclusterSettings(k, ChosenKMin, ChosenKMax, DryRun: false, Seed: 1), grain => grain.GetSegmentationInputAsync(), CancellationToken.None);
            ScheduleLog.Reclustered(_logger, report.Version, report.K, report.Users, report.UsersMoved, report.Silhouette, report.Elapsed.TotalSeconds);
        }
        catch (InvalidOperationException ex)
        {
            // Too few users with embeddings yet: the next tick tries again.
            ScheduleLog.ReclusterSkipped(_logger, ex.Message);
        }
    }

    private async Task PublishOnTimerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _ml.PublishAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A segment grain call failed (e.g. while the silo stops): no version this tick; later changes publish the next.
            ScheduleLog.PublicationFailed(_logger, ex);
        }
    }
}
