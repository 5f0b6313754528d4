using System.Collections.Concurrent;

namespace Segmentation.Host.Internal;

/// <summary>
/// This process's instance of a per-tenant piece of state (a recommender, a clock), keyed by the tenant string of
/// <see cref="Segmentation.Grains.TenantKeys.TenantOf"/> and made on first use. Thread-safe: a tenant's instance is
/// made once (under a lock, so the factory never runs twice for one tenant) and never replaced.
/// </summary>
/// <typeparam name="T">The per-tenant state.</typeparam>
internal sealed class TenantRegistry<T>
    where T : class
{
    private readonly ConcurrentDictionary<string, T> _byTenant = new(StringComparer.Ordinal);
    private readonly Func<string, T> _create;
    private readonly Lock _creating = new();

    /// <summary>Creates the registry; <paramref name="create"/> makes a tenant's instance at its first use.</summary>
    public TenantRegistry(Func<string, T> create) => _create = create;

    /// <summary>The instance of <paramref name="tenant"/>, made now if this is its first use.</summary>
    public T For(string tenant)
    {
        if (_byTenant.TryGetValue(tenant, out var existing))
        {
            return existing;
        }

        lock (_creating)
        {
            if (!_byTenant.TryGetValue(tenant, out existing))
            {
                existing = _create(tenant);
                _byTenant[tenant] = existing;
            }

            return existing;
        }
    }

    /// <summary>The tenants used so far and their instances (a moment's copy).</summary>
    public KeyValuePair<string, T>[] All => _byTenant.ToArray();
}
