using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;

namespace Segmentation.Host.Privacy;

/// <summary>
/// Once the host has started, and only when some tenant has a retention: activates the retention grain, which registers
/// its reminder. A failure is logged, never rethrown.
/// </summary>
internal sealed class RetentionStartup(IGrainFactory grains, PrivacyOptions options, IHostApplicationLifetime lifetime, ILogger<RetentionStartup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.AnyRetention)
        {
            return;
        }

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        try
        {
            await lifetime.WaitForStartAsync(stopping.Token);

            await grains.GetGrain<IRetentionGrain>(IRetentionGrain.Key).EnsureStartedAsync().WaitAsync(stopping.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            PrivacyLogMessages.RetentionFailed(logger, ex);
        }
    }
}
