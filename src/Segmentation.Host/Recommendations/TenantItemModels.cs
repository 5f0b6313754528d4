using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Each tenant's <see cref="ItemModels"/> on this host, made on first use: trained on that tenant's events only and served
/// into that tenant's <see cref="LiveRecommender"/>. The version every silo serves is the tenant's own value in the
/// snapshot store (<c>&lt;tenant&gt;/models/recommender</c>, <see cref="ItemModelStore.Key"/>). The copies for people stay
/// where they always were: tenant default's in <c>&lt;models&gt;/recommender/</c>, another tenant's under
/// <c>&lt;models&gt;/tenants/&lt;tenant&gt;/recommender/</c>. Thread-safe.
/// </summary>
internal sealed class TenantItemModels
{
    private readonly TenantRegistry<ItemModels> _registry;

    public TenantItemModels(IEventLog log, ISnapshotStore store, RecommendationOptions options, TenantRecommenders recommenders, string modelsRoot, ILogger<ItemModels> logger)
    {
        _registry = new TenantRegistry<ItemModels>(tenant => new ItemModels(
            log,
            options,
            recommenders.For(tenant),
            new ItemModelStore(store, tenant == TenantKeys.DefaultTenant ? modelsRoot : Path.Combine(modelsRoot, "tenants", tenant), tenant),
            logger));
        Default = _registry.For(TenantKeys.DefaultTenant);
    }

    /// <summary>Tenant <c>default</c>'s.</summary>
    public ItemModels Default { get; }

    /// <summary>The item models of <paramref name="tenant"/>.</summary>
    public ItemModels For(string tenant) => _registry.For(tenant);
}
