using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Hosting;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>
/// Once the host has started (silo and Kestrel up), for every tenant with events and tenant default: activates the
/// tenant's segmentation model grain, whose timer publishes and whose reminder re-clusters, then — when the tenant has
/// a model and an encoder is served — sweeps the tenant's users so that each is assigned again (members are derived
/// state, rebuilt after a restart), then calls every model grain every minute so that it is active while the silo
/// runs. Calls are served meanwhile.
/// </summary>
/// <remarks>
/// It waits for <see cref="IHostApplicationLifetime.ApplicationStarted"/> rather than relying on being registered after
/// the silo, and stops at <see cref="IHostApplicationLifetime.ApplicationStopping"/>, before the silo deactivates the
/// grains it calls. A failure is logged, never rethrown: it must not stop the host. A tenant whose first events arrive
/// after the start gets its model grain (and its timer) at its first re-clustering, and from then on here.
/// </remarks>
internal sealed class SegmentationStartup : BackgroundService
{
    /// <summary>How often the segmentation model grains are called to keep them active.</summary>
    private static readonly TimeSpan s_keepAlivePeriod = TimeSpan.FromMinutes(1);

    private readonly IGrainFactory _grains;
    private readonly TenantSegmentations _segmentations;
    private readonly IEventLog _log;
    private readonly UserEmbeddings _embeddings;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<SegmentationStartup> _logger;

    public SegmentationStartup(
        IGrainFactory grains, TenantSegmentations segmentations, IEventLog log, UserEmbeddings embeddings, IHostApplicationLifetime lifetime, ILogger<SegmentationStartup> logger)
    {
        _grains = grains;
        _segmentations = segmentations;
        _log = log;
        _embeddings = embeddings;
        _lifetime = lifetime;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        try
        {
            await WhenStartedAsync(cancellationToken);
            IReadOnlyList<string> tenants = [TenantKeys.DefaultTenant];
            try
            {
                tenants = [.. (await TenantSegmentations.TenantsInAsync(_log, cancellationToken)).Append(TenantKeys.DefaultTenant).Distinct(StringComparer.Ordinal)];
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ScheduleLog.StartupWorkFailed(_logger, ex);
            }

            foreach (var tenant in tenants)
            {
                await EnsureModelGrainAsync(tenant, cancellationToken);
                await SweepAsync(tenant, cancellationToken);
            }

            // The model grains are never collected when idle, but an activation can still be lost (shedding under memory
            // pressure, a failed turn): a call now and then activates it again, and with it the publication timer.
            using var timer = new PeriodicTimer(s_keepAlivePeriod, TimeProvider.System);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var segmentation in _segmentations.All.Where(s => s.Tenant == TenantKeys.DefaultTenant || s.Ml.Current is not null).ToList())
                {
                    await EnsureModelGrainAsync(segmentation.Tenant, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task EnsureModelGrainAsync(string tenant, CancellationToken cancellationToken)
    {
        try
        {
            await _grains.GetGrain<ISegmentationModelGrain>(tenant).EnsureStartedAsync().WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ScheduleLog.StartupWorkFailed(_logger, ex);
        }
    }

    private async Task SweepAsync(string tenant, CancellationToken cancellationToken)
    {
        try
        {
            var segmentation = await _segmentations.ForAsync(tenant, cancellationToken);
            if (segmentation.Ml.Current is null || _embeddings.Version is null)
            {
                return;
            }

            var started = TimeProvider.System.GetTimestamp();
            await segmentation.Reclustering.SweepAsync((user, ct) => user.Grain.RefreshSegmentAsync().WaitAsync(ct), cancellationToken);
            ScheduleLog.SweepDone(_logger, TimeProvider.System.GetElapsedTime(started).TotalSeconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ScheduleLog.StartupWorkFailed(_logger, ex);
        }
    }

    private async Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        await _lifetime.WaitForStartAsync(cancellationToken);
    }
}
