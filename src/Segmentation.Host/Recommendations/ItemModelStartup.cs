using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Once the host has started: activates the item model grain of the default tenant, which registers the refresh
/// reminder and, with <see cref="ItemModelOptions.TrainAtStart"/>, trains a first model when none is stored. Calls
/// are served meanwhile (by the online sources until a model is served). A failure is logged, never rethrown.
/// </summary>
internal sealed class ItemModelStartup(IGrainFactory grains, RecommendationOptions options, IHostApplicationLifetime lifetime, ILogger<ItemModelStartup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.ItemModel;
        if (!settings.Enabled || (!settings.TrainAtStart && settings.RefreshEvery <= TimeSpan.Zero))
        {
            return;
        }

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        try
        {
            await lifetime.WaitForStartAsync(stopping.Token);

            await grains.GetGrain<IItemModelGrain>(TenantKeys.DefaultTenant).EnsureStartedAsync().WaitAsync(stopping.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ItemModelLog.TrainingFailed(logger, ex);
        }
    }
}
