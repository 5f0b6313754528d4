using Microsoft.Extensions.DependencyInjection;
using Segmentation.Host.Anomalies;
using Segmentation.Host.Churn;
using Segmentation.Host.Replication;
using Segmentation.Host.ValueSegments;
using Segmentation.Storage;

namespace Segmentation.Host.Growth;

/// <summary>
/// One tenant's growth models on this process (<see cref="TenantGrowthModels"/>) — churn risk, value segments, the
/// anomaly forest, each trained on that tenant's users only and stored under its keys — as one: retrained together on
/// the reminder, loaded from the store together, and announced together to the other silos after any of them was
/// trained here (so every silo serves the same versions).
/// </summary>
internal sealed class GrowthModels(string tenant, ChurnScoring churn, ValueSegmentScoring values, AnomalyScoring anomalies, IEventLog log, IServiceProvider services)
{
    private readonly Lock _loadLock = new();
    private Task? _loaded;

    /// <summary>The tenant these models serve.</summary>
    public string Tenant => tenant;

    /// <summary>The churn model.</summary>
    public ChurnScoring Churn => churn;

    /// <summary>The value segmentation.</summary>
    public ValueSegmentScoring Values => values;

    /// <summary>The anomaly forest.</summary>
    public AnomalyScoring Anomalies => anomalies;

    /// <summary>Serves what the store holds for each model.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        await churn.LoadAsync(cancellationToken);
        await values.LoadAsync(cancellationToken);
        await anomalies.LoadAsync(cancellationToken);
    }

    /// <summary>Loads the stored models once per process; a failed load is tried again by the next caller.</summary>
    public Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        lock (_loadLock)
        {
            if (_loaded is null || _loaded.IsFaulted || _loaded.IsCanceled)
            {
                _loaded = LoadAsync(CancellationToken.None);
            }

            return _loaded.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Has every other silo of the cluster serve what the store holds (nothing with one silo).</summary>
    public async Task AnnounceAsync()
    {
        if (services.GetService<SiloPeers>() is { } peers)
        {
            foreach (var (silo, error) in await peers.BroadcastAsync(peer => peer.ReloadGrowthModelsAsync()))
            {
                throw new InvalidOperationException($"silo {silo} did not load the growth models just trained", error);
            }
        }
    }

    /// <summary>Retrains the three on the tenant's events as of <paramref name="now"/>; what each did, a failure named, not thrown.</summary>
    public async Task<string[]> RetrainAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var outcomes = new List<string>(3);
        outcomes.Add(await OutcomeAsync("churn", async () => (await churn.TrainAsync(log, now, cancellationToken)).Version));
        outcomes.Add(await OutcomeAsync("value segments", async () => (await values.TrainAsync(log, now, cancellationToken)).Model.Version));
        outcomes.Add(await OutcomeAsync("anomalies", async () => (await anomalies.TrainAsync(log, now, cancellationToken)).Version));
        await AnnounceAsync();
        return [.. outcomes];
    }

    private static async Task<string> OutcomeAsync(string name, Func<Task<string>> train)
    {
        try
        {
            return $"{name}: {await train()}";
        }
        catch (InvalidOperationException ex)
        {
            return $"{name}: not trained: {ex.Message}";
        }
    }
}
