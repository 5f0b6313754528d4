using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Hosting;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Segments;

/// <summary>
/// Once the host has started (silo and Kestrel up): activates the segmentation model grain, whose timer publishes and
/// whose reminder re-clusters, then — when a model and an encoder are served — sweeps every user of the log so that each
/// is assigned again (members are derived state, rebuilt after a restart), then calls the model grain every minute so
/// that it is active while the silo runs. Calls are served meanwhile.
/// </summary>
/// <remarks>
/// It waits for <see cref="IHostApplicationLifetime.ApplicationStarted"/> rather than relying on being registered after
/// the silo, and stops at <see cref="IHostApplicationLifetime.ApplicationStopping"/>, before the silo deactivates the
/// grains it calls. A failure is logged, never rethrown: it must not stop the host.
/// </remarks>
internal sealed class SegmentationStartup : BackgroundService
{
    /// <summary>How often the segmentation model grain is called to keep it active.</summary>
    private static readonly TimeSpan s_keepAlivePeriod = TimeSpan.FromMinutes(1);

    private readonly IGrainFactory _grains;
    private readonly MlSegmentation _ml;
    private readonly UserEmbeddings _embeddings;
    private readonly Reclustering _reclustering;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<SegmentationStartup> _logger;

    public SegmentationStartup(
        IGrainFactory grains, MlSegmentation ml, UserEmbeddings embeddings, Reclustering reclustering, IHostApplicationLifetime lifetime, ILogger<SegmentationStartup> logger)
    {
        _grains = grains;
        _ml = ml;
        _embeddings = embeddings;
        _reclustering = reclustering;
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
            await EnsureModelGrainAsync(cancellationToken);
            await SweepAsync(cancellationToken);

            // The model grain is never collected when idle, but an activation can still be lost (shedding under memory
            // pressure, a failed turn): a call now and then activates it again, and with it the publication timer.
            using var timer = new PeriodicTimer(s_keepAlivePeriod, TimeProvider.System);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await EnsureModelGrainAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task EnsureModelGrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _grains.GetGrain<ISegmentationModelGrain>(TenantKeys.DefaultTenant).EnsureStartedAsync().WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ScheduleLog.StartupWorkFailed(_logger, ex);
        }
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        if (_ml.Current is null || _embeddings.Version is null)
        {
            return;
        }

        try
        {
            var started = TimeProvider.System.GetTimestamp();
            await _reclustering.SweepAsync((user, ct) => user.Grain.RefreshSegmentAsync().WaitAsync(ct), cancellationToken);
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
