using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Segments;

/// <summary>
/// Hands the segment moves this process's user grains recorded to the segment grains every
/// <see cref="SegmentOptions.StatisticsFlushInterval"/> (<see cref="MlSegmentation.FlushAsync"/>), so the statistics follow
/// the users without a segment grain call per refresh. Readers of statistics flush first, so this only bounds how long a
/// move waits when nobody reads.
/// </summary>
/// <remarks>
/// Stops at <see cref="IHostApplicationLifetime.ApplicationStopping"/>, before the silo deactivates the grains it calls;
/// what is still recorded then is lost with the process, as all derived state is (the start-up sweep rebuilds it). A
/// failed flush is logged; its changes go with the next one.
/// </remarks>
// Flushes this process's records; each silo of a cluster runs its own.
internal sealed class SegmentStatisticsFlusher : BackgroundService
{
    private readonly TenantSegmentations _segmentations;
    private readonly TimeSpan _interval;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<SegmentStatisticsFlusher> _logger;

    public SegmentStatisticsFlusher(TenantSegmentations segmentations, SegmentationOptions options, IHostApplicationLifetime lifetime, ILogger<SegmentStatisticsFlusher> logger)
    {
        _segmentations = segmentations;
        // PeriodicTimer takes no zero period.
        _interval = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, options.Segments.StatisticsFlushInterval.Ticks));
        _lifetime = lifetime;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        try
        {
            using var timer = new PeriodicTimer(_interval, TimeProvider.System);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await _segmentations.FlushAllAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    ScheduleLog.StatisticsFlushFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
