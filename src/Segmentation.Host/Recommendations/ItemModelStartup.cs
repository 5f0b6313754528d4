using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Once the host has started, for tenant default and every tenant with events: serves the tenant's newest stored item
/// model and activates the tenant's item model grain, which registers the refresh reminder and, with <see cref="ItemModelOptions.TrainAtStart"/>, trains a first model when none is stored. Calls
/// are served meanwhile (by the online sources until a model is served). A failure is logged, never rethrown.
/// </summary>
internal sealed class ItemModelStartup(IGrainFactory grains, TenantItemModels models, Storage.IEventLog log, RecommendationOptions options, IHostApplicationLifetime lifetime, ILogger<ItemModelStartup> logger) : BackgroundService
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

            var tenants = await Segments.TenantSegmentations.TenantsInAsync(log, stopping.Token);
            foreach (var tenant in tenants.Append(TenantKeys.DefaultTenant).Distinct(StringComparer.Ordinal))
            {
                await models.For(tenant).LoadNewestAsync();
                await grains.GetGrain<IItemModelGrain>(tenant).EnsureStartedAsync().WaitAsync(stopping.Token);
            }
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
