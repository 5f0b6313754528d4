using Microsoft.Extensions.Hosting;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;

namespace Segmentation.Host.Growth;

/// <summary>
/// Once the host has started, with <see cref="ChurnOptions.RetrainEvery"/> set: activates the growth models grain of
/// tenant default and of every tenant with events, which registers the tenant's retraining reminder (a tenant whose first
/// events arrive later gets its reminder at the next start). A failure stops the host: a schedule the operator asked
/// for must not silently not run.
/// </summary>
internal sealed class GrowthModelsStartup(IGrainFactory grains, Storage.IEventLog log, SegmentationOptions options, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Churn.RetrainEvery <= TimeSpan.Zero || (options.Roles & ServerRoles.Silo) == 0)
        {
            return;
        }

        await lifetime.WaitForStartAsync(stoppingToken);

        var tenants = await Segments.TenantSegmentations.TenantsInAsync(log, stoppingToken);
        foreach (var tenant in tenants.Append(TenantKeys.DefaultTenant).Distinct(StringComparer.Ordinal))
        {
            await grains.GetGrain<IGrowthModelsGrain>(tenant).EnsureStartedAsync().WaitAsync(stoppingToken);
        }
    }
}
