using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
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
/// Reentrant, so that the grain answers while a training runs: the whole training (reading the log, tuning, the final
/// model, storing it, serving it here) runs on the thread pool (<c>Task.Run</c>, outside the grain's scheduler), and the
/// grain awaits it, then tells the other silos on its own turn. Before, the training ran as the grain's turn (the log's
/// decoding and the store's write synchronously on the grain's scheduler, Orleans' long-turn warning at start) and every
/// other call queued behind it. One training at a time all the same: the running one is kept in
/// <see cref="_training"/>, and a request, reminder or start that comes meanwhile awaits it instead of starting another.
/// Interleaving is safe because the grain's state is only that field and its two companions, read and written on the
/// grain's turns (one at a time, whatever interleaves at the awaits), never from the thread pool.
/// </remarks>
[RequiresRole(ServerRoles.Silo)]
[Reentrant]
// Keyed by tenant: it trains that tenant's item model.
internal sealed class ItemModelGrain(TenantItemModels tenants, RecommendationOptions options, IServiceProvider services, ILogger<ItemModelGrain> logger) : Grain, IItemModelGrain, IRemindable
{
    /// <summary>The reminder that retrains.</summary>
    internal const string RefreshReminder = "item-model";

    private ItemModels _models = null!;

    // The training running (or the last one, completed), when it started, and how many this activation started.
    private Task<long>? _training;
    private DateTimeOffset? _trainingSince;
    private long _trainings;

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

    public Task<long> TrainAsync()
    {
        // Checked and set in one turn (no await between), so two requests never both start one.
        if (_training is { IsCompleted: false } running)
        {
            return running;
        }

        _trainings++;
        _trainingSince = TimeProvider.System.GetUtcNow();
        return _training = RunTrainingAsync();
    }

    public Task<ItemModelStatus> GetStatusAsync()
    {
        var training = _training is { IsCompleted: false };
        return Task.FromResult(new ItemModelStatus(training, training ? _trainingSince : null, _trainings, _models.ServedVersion));
    }

    private async Task<long> RunTrainingAsync()
    {
        // The thread pool's, not the grain's: the grain's scheduler stays free for other calls; the continuation comes
        // back to the grain's turn.
        var manifest = await Task.Run(() => _models.TrainAsync(CancellationToken.None));
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
