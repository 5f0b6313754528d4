using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Segmentation.Core.Recommendations;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Host.Services;
using Segmentation.Inference.Models;
using Segmentation.Storage;

namespace Segmentation.Host.Hosting;

/// <summary>
/// The domain components of the embedded deployment as DI singletons built from <see cref="SegmentationOptions"/>:
/// storage (SQLite or PostgreSQL, <see cref="StorageServices"/>), clocks, recommenders, rule catalogue, change feed, tracker, embeddings, ML segmentation,
/// re-clustering, ingestion and lookup, and the hosted services that load them, keep the clock and start the segment
/// work. Grains and gRPC services take them by constructor.
/// </summary>
/// <remarks>
/// Lifetime: the container creates them when the host resolves its hosted services (at start) and disposes them when the
/// host is disposed, after every hosted service has stopped — so the event log, the snapshot store and the encoder's
/// sessions close after the silo has deactivated every grain (snapshots written) and the clock checkpoint is saved.
/// </remarks>
internal static class DomainServices
{
    /// <summary>
    /// Registers the components, <see cref="ClockCheckpointService"/> and <see cref="DomainLoader"/> (which load before
    /// anything starts), <see cref="SegmentationStartup"/> (which runs once everything has started),
    /// <see cref="SegmentStatisticsFlusher"/> and <see cref="SegmentRefreshScheduler"/>.
    /// </summary>
    public static IServiceCollection AddSegmentationDomain(this IServiceCollection services, SegmentationOptions options)
    {
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        string DataDirectory()
        {
            Directory.CreateDirectory(dataDirectory);
            return dataDirectory;
        }

        string DataFile(string name) => Path.Combine(DataDirectory(), name);

        services.AddSingleton(options);
        services.AddSingleton(new DomainClocks(options.Clock, TimeProvider.System, options.EventClock));

        // Only the interfaces are registered: the container disposes each instance it created once, at host disposal.
        services.AddSegmentationStorage(options, DataFile);

        // Per tenant, made on first use; tenant default's recommender and rule catalogue are also registered alone.
        services.AddSingleton(_ => new TenantRecommenders(options.Recommendations));
        services.AddSingleton(sp => sp.GetRequiredService<TenantRecommenders>().Default);
        services.AddSingleton(options.Recommendations);
        services.AddSingleton(sp => new TenantItemModels(
            sp.GetRequiredService<IEventLog>(), sp.GetRequiredService<ISnapshotStore>(), options.Recommendations, sp.GetRequiredService<TenantRecommenders>(),
            Path.GetFullPath(options.Embeddings.ModelsDirectory.Length > 0 ? options.Embeddings.ModelsDirectory : Path.Combine(DataDirectory(), "models")),
            sp.GetRequiredService<ILogger<ItemModels>>()));
        services.AddSingleton(sp => sp.GetRequiredService<TenantItemModels>().Default);
        services.AddSingleton(sp => sp.GetRequiredService<ItemModels>().Store);
        services.AddSingleton(sp => new TenantRules(sp.GetRequiredService<ISnapshotStore>(), Wall(sp)));
        services.AddSingleton(sp => sp.GetRequiredService<TenantRules>().Default);
        services.AddSingleton<SegmentChangeFeed>();
        services.AddSingleton(sp => new SegmentTracker(sp.GetRequiredService<RuleSegmentCatalog>(), sp.GetRequiredService<SegmentChangeFeed>(), Domain(sp)));
        services.AddSingleton(sp =>
        {
            // Without the inference role, the encoder runs on the cluster's inference silos (their embedder grains).
            Func<InferenceSilos>? inferenceSilos = (options.Roles & ServerRoles.Inference) != 0
                ? null
                : () => new InferenceSilos(sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<ClusterRoles>());
            var embeddings = new UserEmbeddings(
                options.Embeddings,
                DataDirectory(),
                options.Profiles,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Segmentation.Embeddings"),
                inferenceSilos,
                () => sp.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().SiloAddress.ToString());
            if (options.Storage.IsPostgres)
            {
                // Every version and the active one in the shared store; the models folder caches them.
                embeddings.Stored = new StoredModels(sp.GetRequiredService<ISnapshotStore>(), embeddings.Root, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Segmentation.Embeddings"));
            }

            var recommenders = sp.GetRequiredService<TenantRecommenders>();
            embeddings.ModelServing = (folder, manifest) =>
            {
                // "Matches your taste profile": the served encoder's item vectors, in the space of the user embeddings.
                var vectors = ModelFolder.ReadItemVectors(folder, manifest);
                recommenders.UseItemEmbeddings(vectors is null ? null : new ItemEmbeddingIndex(ModelFolder.ReadItemIds(folder), vectors, manifest.Dimension));
            };
            return embeddings;
        });
        // Per tenant, made on first use; tenant default's segmentation and re-clustering are also registered alone.
        services.AddSingleton(sp => new TenantSegmentations(sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<IEventLog>(), sp.GetRequiredService<ISnapshotStore>(), Wall(sp)));
        services.AddSingleton(sp => sp.GetRequiredService<TenantSegmentations>().Default.Ml);
        services.AddSingleton(sp => sp.GetRequiredService<TenantSegmentations>().Default.Reclustering);
        // Business metrics per segment, each tenant's users against that tenant's segmentations.
        services.AddSingleton<CustomerIndex>();
        services.AddSingleton(sp => new LiveBusinessMetrics(
            sp.GetRequiredService<CustomerIndex>(), sp.GetRequiredService<TenantSegmentations>(), sp.GetRequiredService<Growth.TenantGrowthModels>(),
            sp.GetRequiredService<TenantRules>(), options.Profiles, sp.GetRequiredService<DomainClocks>()));
        services.AddSingleton(sp => new EventIngestion(
            sp.GetRequiredService<IGrainFactory>(), Wall(sp), options.EarliestEventTime, sp.GetRequiredService<ILogger<EventIngestion>>(), sp.GetRequiredService<TenantSchedules>()));
        services.AddSingleton(sp => new UserLookup(sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<DomainClocks>()));

        // What the grains of this process take.
        services.AddSingleton(sp =>
        {
            var clocks = sp.GetRequiredService<DomainClocks>();
            return new UserGrainServices(
                sp.GetRequiredService<IEventLog>(),
                sp.GetRequiredService<ISnapshotStore>(),
                options,
                clocks.EventTime,
                clocks.Domain,
                sp.GetRequiredService<LiveRecommender>(),
                sp.GetRequiredService<SegmentTracker>(),
                sp.GetRequiredService<RuleSegmentCatalog>(),
                sp.GetRequiredService<UserEmbeddings>(),
                sp.GetRequiredService<MlSegmentation>(),
                sp.GetRequiredService<ILogger<UserGrain>>())
            {
                Churn = sp.GetRequiredService<Churn.ChurnScoring>(),
                Experiments = sp.GetRequiredService<Experiments.ExperimentCatalog>(),
                Anomalies = sp.GetRequiredService<Anomalies.AnomalyScoring>(),
                Values = sp.GetRequiredService<ValueSegments.ValueSegmentScoring>(),
                Recommenders = sp.GetRequiredService<TenantRecommenders>(),
                RuleCatalogs = sp.GetRequiredService<TenantRules>(),
                Segmentations = sp.GetRequiredService<TenantSegmentations>(),
                Growth = sp.GetRequiredService<Growth.TenantGrowthModels>(),
                Customers = options.Segments.LiveBusinessMetrics ? sp.GetRequiredService<CustomerIndex>() : null,
            };
        });
        // Per tenant, made on first use; tenant default's growth models are also registered alone.
        services.AddSingleton(sp => new Growth.TenantGrowthModels(options, sp.GetRequiredService<ISnapshotStore>(), sp.GetRequiredService<IEventLog>(), sp));
        services.AddSingleton(sp => sp.GetRequiredService<Growth.TenantGrowthModels>().Default);
        services.AddSingleton(sp => sp.GetRequiredService<Growth.GrowthModels>().Churn);
        services.AddSingleton(sp => sp.GetRequiredService<Growth.GrowthModels>().Anomalies);
        services.AddSingleton(sp => sp.GetRequiredService<Growth.GrowthModels>().Values);
        services.AddSingleton(sp => new Experiments.ExperimentCatalog(sp.GetRequiredService<ISnapshotStore>(), Wall(sp)));
        services.AddSingleton<SegmentRefreshScheduler>();
        services.AddSingleton<StaleEmbeddings>();
        services.AddSingleton<GrainServices>();

        // Erasure, export and retention (Privacy/).
        services.AddSingleton(options.Privacy);
        services.AddSingleton(sp => new Privacy.PrivacyLog(sp.GetRequiredService<ISnapshotStore>()));
        services.AddSingleton<Privacy.SiloForgetting>();
        services.AddSingleton(sp => new Privacy.Erasure(
            sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<Privacy.SiloForgetting>(), sp.GetRequiredService<Privacy.PrivacyLog>(), Wall(sp)));
        services.AddSingleton(sp => new Privacy.UserExport(sp.GetRequiredService<IEventLog>(), sp.GetRequiredService<IGrainFactory>(), Domain(sp), Wall(sp)));
        services.AddSingleton(sp => new Privacy.Retention(
            sp.GetRequiredService<IEventLog>(), sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<Privacy.SiloForgetting>(),
            sp.GetRequiredService<Privacy.PrivacyLog>(), options.Privacy, sp.GetRequiredService<DomainClocks>().For, Wall(sp)));

        // Loading happens in StartingAsync (before any hosted service starts); the start-up work waits for
        // ApplicationStarted. Their order relative to the silo's hosted service therefore does not matter.
        services.AddSingleton<ClockCheckpointService>();
        services.AddHostedService(sp => sp.GetRequiredService<ClockCheckpointService>());
        services.AddHostedService<DomainLoader>();
        services.AddHostedService<Churn.ChurnModelLoader>();
        services.AddHostedService<Anomalies.ServedModelsLoader>();
        services.AddHostedService<SegmentationStartup>();
        services.AddHostedService<ItemModelStartup>();
        services.AddHostedService<Growth.GrowthModelsStartup>();
        services.AddSingleton<TenantSchedules>();
        services.AddHostedService(sp => sp.GetRequiredService<TenantSchedules>());
        services.AddHostedService<SegmentStatisticsFlusher>();
        services.AddHostedService<Privacy.RetentionStartup>();
        services.AddHostedService(sp => sp.GetRequiredService<SegmentRefreshScheduler>());
        services.AddHostedService(sp => sp.GetRequiredService<StaleEmbeddings>());
        return services;
    }

    private static TimeProvider Wall(IServiceProvider services) => services.GetRequiredService<DomainClocks>().Wall;

    private static TimeProvider Domain(IServiceProvider services) => services.GetRequiredService<DomainClocks>().Domain;
}
