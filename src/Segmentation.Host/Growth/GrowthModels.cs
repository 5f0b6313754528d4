using Microsoft.Extensions.DependencyInjection;
using Segmentation.Host.Anomalies;
using Segmentation.Host.Churn;
using Segmentation.Host.Replication;
using Segmentation.Host.ValueSegments;
using Segmentation.Storage;

namespace Segmentation.Host.Growth;

/// <summary>
/// This process's growth models — churn risk, value segments, the anomaly forest — as one: retrained together on the
/// reminder, loaded from the store together, and announced together to the other silos after any of them was trained
/// here (so every silo serves the same versions).
/// </summary>
internal sealed class GrowthModels(ChurnScoring churn, ValueSegmentScoring values, AnomalyScoring anomalies, IEventLog log, IServiceProvider services)
{
    /// <summary>Serves what the store holds for each model.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        await churn.LoadAsync(cancellationToken);
        await values.LoadAsync(cancellationToken);
        await anomalies.LoadAsync(cancellationToken);
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

    /// <summary>Retrains the three on the whole log as of <paramref name="now"/>; what each did, a failure named, not thrown.</summary>
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
