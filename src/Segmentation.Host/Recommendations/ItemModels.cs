using Microsoft.Extensions.Logging;
using Segmentation.Host.Configuration;
using Segmentation.Storage;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// This process's side of one tenant's served item model (<see cref="TenantItemModels"/>): loads the tenant's version in
/// the snapshot store (<see cref="ItemModelStore"/>) into the tenant's <see cref="LiveRecommender"/> (at start, and when
/// another silo stored one), and trains, stores and serves a new one (for
/// <see cref="global::Segmentation.Grains.IItemModelGrain"/>, which makes sure one training runs at a time in the cluster). Thread-safe:
/// loads are serialised, and a version older than the one served is never loaded over it.
/// </summary>
internal sealed class ItemModels(IEventLog log, RecommendationOptions options, LiveRecommender recommender, ItemModelStore store, ILogger<ItemModels> logger)
{
    /// <summary>The tenant whose events the model is trained on and whose recommender serves it.</summary>
    public string Tenant => recommender.Tenant;

    private readonly SemaphoreSlim _loading = new(1, 1);

    /// <summary>The version served here (0: none).</summary>
    public long ServedVersion => recommender.ItemModel?.Version ?? 0;

    /// <summary>The store of versions.</summary>
    public ItemModelStore Store => store;

    /// <summary>Serves the newest stored version when it is newer than the one served (nothing when disabled or none is stored).</summary>
    public async Task LoadNewestAsync()
    {
        if (!options.ItemModel.Enabled)
        {
            return;
        }

        await _loading.WaitAsync();
        try
        {
            // Reading and decoding 36 MB off the request threads.
            if (await Task.Run(() => store.LoadNewerAsync(recommender.ItemModel?.Version ?? 0, CancellationToken.None)) is not { } loaded)
            {
                return;
            }

            var (model, manifest) = loaded;
            recommender.UseItemModel(model, manifest);
            ItemModelLog.Served(logger, manifest.Version, manifest.Items, manifest.WeightBytes / 1e6, string.Join(", ", manifest.BlendWeights.Select(p => $"{p.Key} {p.Value}")));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            // A broken version is not served; the one in force (or none) stays.
            ItemModelLog.LoadFailed(logger, ex);
        }
        finally
        {
            _loading.Release();
        }
    }

    /// <summary>Trains from the whole log, stores and serves the model here; null when the log holds too little.</summary>
    public async Task<ItemModelManifest?> TrainAsync(CancellationToken cancellationToken)
    {
        var trained = await ItemModelTrainer.TrainAsync(log, options, cancellationToken, Tenant);
        if (trained is not { } result)
        {
            ItemModelLog.TooLittleData(logger, options.ItemModel.MinUsers);
            return null;
        }

        var manifest = await store.SaveAsync(result.Model, result.Manifest, cancellationToken);
        ItemModelLog.Trained(logger, manifest.Version, manifest.Items, manifest.Interactions, manifest.ValidationNdcg, manifest.TrainingSeconds);
        if (options.ItemModel.Enabled)
        {
            // With the loads, so a version another silo stored meanwhile and a load served is never replaced by an older one.
            await _loading.WaitAsync(cancellationToken);
            try
            {
                if ((recommender.ItemModel?.Version ?? 0) < manifest.Version)
                {
                    recommender.UseItemModel(result.Model, manifest);
                }
            }
            finally
            {
                _loading.Release();
            }
        }

        return manifest;
    }
}
