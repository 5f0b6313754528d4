using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Host.Replication;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Trains the served item model (<see cref="IItemModelGrain"/>): on a reminder every
/// <see cref="ItemModelOptions.RefreshEvery"/>, on an admin call, and once at start when
/// <see cref="ItemModelOptions.TrainAtStart"/> is set and none is stored. Each new version is written to the snapshot
/// store (<see cref="ItemModelStore"/>), served here, then announced to every other silo, which loads the same bytes
/// from the store: the model is the same on every silo, whatever each pod's disk holds.
/// </summary>
/// <remarks>
/// Not reentrant: a second training waits for the first. Training runs off the grain's scheduler (<c>Task.Run</c> in
/// the trainer) and calls no grain, so the long turn cannot deadlock; other grains do not call this one.
/// </remarks>
[RequiresRole(ServerRoles.Silo)]
// Keyed by tenant: it trains that tenant's item model.
internal sealed class ItemModelGrain(TenantItemModels tenants, RecommendationOptions options, IServiceProvider services, ILogger<ItemModelGrain> logger) : Grain, IItemModelGrain, IRemindable
{
    /// <summary>The reminder that retrains.</summary>
    internal const string RefreshReminder = "item-model";

    private ItemModels _models = null!;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _models = tenants.For(this.GetPrimaryKeyString());
        // Registered only when new or changed, so a re-activation does not push the next run back by a whole period.
        var every = options.ItemModel.RefreshEvery;
        var existing = await this.GetReminder(RefreshReminder, cancellationToken);
        if (every > TimeSpan.Zero)
        {
            if (existing is null)
            {
                await this.RegisterOrUpdateReminder(RefreshReminder, every, every, cancellationToken);
            }

            ItemModelLog.Scheduled(logger, every);
        }
        else if (existing is not null)
        {
            await this.UnregisterReminder(existing, cancellationToken);
        }
    }

    public async Task EnsureStartedAsync()
    {
        if (options.ItemModel.TrainAtStart && await _models.Store.NewestVersionAsync(CancellationToken.None) == 0)
        {
            await TrainAsync();
        }
    }

    // The activation registered the reminder.
    public Task EnsureScheduledAsync() => Task.CompletedTask;

    public async Task<long> TrainAsync()
    {
        var manifest = await _models.TrainAsync(CancellationToken.None);
        if (manifest is null)
        {
            return 0;
        }

        // The other silos load the version just stored, of this grain's tenant (none in the embedded default).
        if (services.GetService<SiloPeers>() is { } peers)
        {
            var tenant = _models.Tenant;
            foreach (var (silo, error) in await peers.BroadcastAsync(peer => peer.ReloadItemModelAsync(tenant)))
            {
                ItemModelLog.TrainingFailed(logger, new InvalidOperationException($"silo {silo} did not load item model v{manifest.Version}", error));
            }
        }

        return manifest.Version;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RefreshReminder)
        {
            return;
        }

        try
        {
            await TrainAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ItemModelLog.TrainingFailed(logger, ex);
        }
    }
}
