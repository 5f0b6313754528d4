using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>
/// Each tenant's ML segmentation on this host — its <see cref="MlSegmentation"/> (model stored under
/// <c>tenant/segmentation/model</c>, segment grains <c>tenant/id</c>) and the <see cref="Reclustering"/> that replaces
/// it, sweeping that tenant's users only — made on first use and loaded from storage by its first caller
/// (<see cref="ForAsync"/>). The user encoder that gives the embeddings is shared by every tenant; centroids, labels,
/// members and statistics are not. Thread-safe.
/// </summary>
internal sealed class TenantSegmentations
{
    private readonly TenantRegistry<TenantSegmentation> _registry;
    private readonly Lock _configuring = new();
    private Action<MlSegmentation>? _configure;

    public TenantSegmentations(IGrainFactory grains, IEventLog log, ISnapshotStore store, TimeProvider wallClock)
    {
        _registry = new TenantRegistry<TenantSegmentation>(tenant =>
        {
            var ml = new MlSegmentation(grains, store, wallClock, tenant);
            lock (_configuring)
            {
                _configure?.Invoke(ml);
            }

            return new TenantSegmentation(ml, new Reclustering(grains, log, ml, wallClock));
        });
        Default = _registry.For(TenantKeys.DefaultTenant);
    }

    /// <summary>Tenant <c>default</c>'s (loaded at start by <see cref="Hosting.DomainLoader"/>).</summary>
    public TenantSegmentation Default { get; }

    /// <summary>The segmentation of <paramref name="tenant"/>, made now if this is its first use (not yet loaded: see <see cref="ForAsync"/>).</summary>
    public TenantSegmentation For(string tenant) => _registry.For(tenant);

    /// <summary>The segmentation of <paramref name="tenant"/>, its published model loaded (once per host).</summary>
    public async ValueTask<TenantSegmentation> ForAsync(string tenant, CancellationToken cancellationToken = default)
    {
        var segmentation = _registry.For(tenant);
        await segmentation.EnsureLoadedAsync(cancellationToken);
        return segmentation;
    }

    /// <summary>Every tenant's segmentation made so far.</summary>
    public IEnumerable<TenantSegmentation> All => _registry.All.Select(p => p.Value);

    /// <summary>
    /// Runs <paramref name="configure"/> on every tenant's <see cref="MlSegmentation"/>, made now or later (the cluster's
    /// replication hooks: <see cref="MlSegmentation.Published"/>, <see cref="MlSegmentation.FlushPeers"/>, ...).
    /// </summary>
    public void ConfigureEach(Action<MlSegmentation> configure)
    {
        lock (_configuring)
        {
            _configure += configure;
            foreach (var segmentation in All)
            {
                configure(segmentation.Ml);
            }
        }
    }

    /// <summary>Loads every segmentation made so far again (in a cluster, when another silo published a version).</summary>
    public async Task ReloadAllAsync(CancellationToken cancellationToken)
    {
        foreach (var segmentation in All)
        {
            await segmentation.Ml.LoadAsync(cancellationToken);
        }
    }

    /// <summary>Flushes every tenant's recorded segment moves on this silo (<see cref="MlSegmentation.FlushAsync"/>).</summary>
    public async Task FlushAllAsync(CancellationToken cancellationToken)
    {
        foreach (var segmentation in All)
        {
            await segmentation.Ml.FlushAsync(cancellationToken);
        }
    }

    /// <summary>The tenants that have events in <paramref name="log"/> (one read of its stream ids), tenant default first.</summary>
    public static async Task<IReadOnlyList<string>> TenantsInAsync(IEventLog log, CancellationToken cancellationToken)
    {
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var streamId in log.ReadStreamIdsAsync(cancellationToken))
        {
            if (streamId.IndexOf('/', StringComparison.Ordinal) > 0)
            {
                tenants.Add(TenantKeys.TenantOf(streamId));
            }
        }

        return [.. tenants.OrderBy(t => t == TenantKeys.DefaultTenant ? 0 : 1)];
    }
}
