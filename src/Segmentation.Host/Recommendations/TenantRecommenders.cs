using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// This process's <see cref="LiveRecommender"/> of each tenant, made on first use: co-occurrence, popularity, recency
/// and the catalogue of one tenant never see another's events, so no item crosses tenants. Tenant <c>default</c>'s is
/// <see cref="Default"/> (the one the item model is served into, <see cref="ItemModels"/>).
/// </summary>
/// <remarks>
/// Thread-safe. Every tenant's recommender records into the same <see cref="Outbox"/> (its changes carry the tenant) and
/// gets the served encoder's item vectors (<see cref="UseItemEmbeddings"/>: the encoder is shared, and each recommender
/// only takes its own catalogue's items from it).
/// </remarks>
internal sealed class TenantRecommenders
{
    private readonly TenantRegistry<LiveRecommender> _registry;
    private ItemEmbeddingIndex? _itemEmbeddings;
    private RecommenderOutbox? _outbox;

    public TenantRecommenders(RecommendationOptions options)
    {
        _registry = new TenantRegistry<LiveRecommender>(tenant =>
        {
            var recommender = new LiveRecommender(options, tenant) { Outbox = Volatile.Read(ref _outbox) };
            recommender.UseItemEmbeddings(Volatile.Read(ref _itemEmbeddings));
            return recommender;
        });
        Default = _registry.For(TenantKeys.DefaultTenant);
    }

    /// <summary>Tenant <c>default</c>'s recommender.</summary>
    public LiveRecommender Default { get; }

    /// <summary>The recommender of <paramref name="tenant"/>.</summary>
    public LiveRecommender For(string tenant) => _registry.For(tenant);

    /// <summary>Every tenant's recommender made so far.</summary>
    public IEnumerable<LiveRecommender> All => _registry.All.Select(p => p.Value);

    /// <summary>Where every tenant's changes go for the other silos (<see cref="LiveRecommender.Outbox"/>).</summary>
    public RecommenderOutbox? Outbox
    {
        get => Volatile.Read(ref _outbox);
        set
        {
            Volatile.Write(ref _outbox, value);
            foreach (var recommender in All)
            {
                recommender.Outbox = value;
            }
        }
    }

    /// <summary>Serves the encoder's item vectors to every tenant's recommender, now and to those made later.</summary>
    public void UseItemEmbeddings(ItemEmbeddingIndex? index)
    {
        Volatile.Write(ref _itemEmbeddings, index);
        foreach (var recommender in All)
        {
            recommender.UseItemEmbeddings(index);
        }
    }

    /// <summary>Applies another silo's changes to the recommenders of their tenants, in order.</summary>
    public void Apply(IReadOnlyList<RecommenderChange> changes)
    {
        // Runs of one tenant at a time, so the common single-tenant batch is applied in one call.
        var start = 0;
        for (var i = 1; i <= changes.Count; i++)
        {
            if (i == changes.Count || changes[i].Tenant != changes[start].Tenant)
            {
                For(changes[start].Tenant).Apply(start == 0 && i == changes.Count ? changes : changes.Skip(start).Take(i - start));
                start = i;
            }
        }
    }
}
