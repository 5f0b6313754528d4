using Segmentation.Grains;
using Segmentation.Host.Anomalies;
using Segmentation.Host.Churn;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;
using Segmentation.Host.ValueSegments;
using Segmentation.Storage;

namespace Segmentation.Host.Growth;

/// <summary>
/// Each tenant's <see cref="GrowthModels"/> on this host (churn, value segments, anomalies under <c>tenant/models/…</c>),
/// made on first use and loaded from the store by its first caller (<see cref="ForAsync"/>). Thread-safe.
/// </summary>
internal sealed class TenantGrowthModels
{
    private readonly TenantRegistry<GrowthModels> _registry;

    public TenantGrowthModels(SegmentationOptions options, ISnapshotStore store, IEventLog log, IServiceProvider services)
    {
        _registry = new TenantRegistry<GrowthModels>(tenant => new GrowthModels(
            tenant,
            new ChurnScoring(options, store, tenant),
            new ValueSegmentScoring(store, options.Profiles, tenant),
            new AnomalyScoring(store, options.Profiles, tenant),
            log,
            services));
        Default = _registry.For(TenantKeys.DefaultTenant);
    }

    /// <summary>Tenant <c>default</c>'s (loaded at start by the model loaders).</summary>
    public GrowthModels Default { get; }

    /// <summary>The models of <paramref name="tenant"/>, made now if this is its first use (not yet loaded: see <see cref="ForAsync"/>).</summary>
    public GrowthModels For(string tenant) => _registry.For(tenant);

    /// <summary>The models of <paramref name="tenant"/>, what the store holds loaded (once per host).</summary>
    public async ValueTask<GrowthModels> ForAsync(string tenant, CancellationToken cancellationToken = default)
    {
        var models = _registry.For(tenant);
        await models.EnsureLoadedAsync(cancellationToken);
        return models;
    }

    /// <summary>Loads every tenant's models made so far again (in a cluster, when another silo trained one).</summary>
    public async Task ReloadAllAsync(CancellationToken cancellationToken)
    {
        foreach (var (_, models) in _registry.All)
        {
            await models.LoadAsync(cancellationToken);
        }
    }
}
