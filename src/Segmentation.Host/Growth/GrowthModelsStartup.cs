using Microsoft.Extensions.Hosting;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;

namespace Segmentation.Host.Growth;

/// <summary>
/// Once the host has started, with <see cref="ChurnOptions.RetrainEvery"/> set: activates the default tenant's growth
/// models grain, which registers the retraining reminder. A failure stops the host: a schedule the operator asked
/// for must not silently not run.
/// </summary>
internal sealed class GrowthModelsStartup(IGrainFactory grains, SegmentationOptions options, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Churn.RetrainEvery <= TimeSpan.Zero || (options.Roles & ServerRoles.Silo) == 0)
        {
            return;
        }

        await lifetime.WaitForStartAsync(stoppingToken);

        await grains.GetGrain<IGrowthModelsGrain>(TenantKeys.DefaultTenant).EnsureStartedAsync().WaitAsync(stoppingToken);
    }
}
