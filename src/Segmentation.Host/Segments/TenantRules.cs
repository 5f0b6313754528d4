using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>
/// Each tenant's <see cref="RuleSegmentCatalog"/> on this host (stored under <c>tenant/config/rule-segments</c>), made on
/// first use and loaded from storage by its first caller (<see cref="ForAsync"/>). Thread-safe.
/// </summary>
internal sealed class TenantRules
{
    private readonly TenantRegistry<RuleSegmentCatalog> _registry;
    private Func<Task>? _changed;

    public TenantRules(ISnapshotStore store, TimeProvider wallClock)
    {
        _registry = new TenantRegistry<RuleSegmentCatalog>(tenant =>
            new RuleSegmentCatalog(store, wallClock, tenant) { Changed = () => Volatile.Read(ref _changed)?.Invoke() ?? Task.CompletedTask });
        Default = _registry.For(TenantKeys.DefaultTenant);
    }

    /// <summary>Tenant <c>default</c>'s catalogue (loaded at start by <see cref="Hosting.DomainLoader"/>).</summary>
    public RuleSegmentCatalog Default { get; }

    /// <summary>The catalogue of <paramref name="tenant"/>, loaded.</summary>
    public async ValueTask<RuleSegmentCatalog> ForAsync(string tenant)
    {
        var catalog = _registry.For(tenant);
        await catalog.EnsureLoadedAsync();
        return catalog;
    }

    /// <summary>
    /// Tells the other silos of the cluster that a tenant's rules changed (each then <see cref="ReloadAllAsync"/>), or
    /// null with one silo.
    /// </summary>
    public Func<Task>? Changed
    {
        get => Volatile.Read(ref _changed);
        set => Volatile.Write(ref _changed, value);
    }

    /// <summary>Loads every catalogue made so far again (in a cluster, when another silo changed one).</summary>
    public async Task ReloadAllAsync(CancellationToken cancellationToken)
    {
        foreach (var (_, catalog) in _registry.All)
        {
            await catalog.LoadAsync(cancellationToken);
        }
    }
}
