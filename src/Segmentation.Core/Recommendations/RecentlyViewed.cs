using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// "Continue where you left off": items the user viewed, put in the cart or wishlisted but has not bought,
/// scored by Σ weight · 2^(−age/half-life) so the most recent and most engaged come first. An item whose last cart
/// event was an add is "in your cart"; the others "you viewed X recently". Stateless: reads only the request's
/// history; thread-safe.
/// </summary>
public sealed class RecentlyViewed(TimeSpan halfLife, InteractionWeights? weights = null) : ICandidateSource
{
    private readonly InteractionWeights _weights = weights ?? InteractionWeights.Default;

    /// <inheritdoc/>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
    {
        ArgumentNullException.ThrowIfNull(request);
        var bought = request.History.Where(x => x.Type == EventType.Purchase).Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal);
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        // The last cart event of each item (add or remove): the history is in any order.
        var cart = new Dictionary<string, Interaction>(StringComparer.Ordinal);
        foreach (var x in request.History)
        {
            if (x.Type is EventType.View or EventType.AddToCart or EventType.Wishlist && !bought.Contains(x.ItemId))
            {
                scores[x.ItemId] = scores.GetValueOrDefault(x.ItemId) + (_weights.Of(x) * ForwardDecay.Factor(request.Now - x.Timestamp, halfLife));
            }

            if (x.Type is EventType.AddToCart or EventType.RemoveFromCart && (!cart.TryGetValue(x.ItemId, out var last) || x.Timestamp >= last.Timestamp))
            {
                cart[x.ItemId] = x;
            }
        }

        var top = new TopK<byte>(count);
        foreach (var (item, score) in scores)
        {
            if (score > 0 && allowed(item))
            {
                top.Offer(item, score, cart.TryGetValue(item, out var last) && last.Type == EventType.AddToCart ? (byte)1 : (byte)0);
            }
        }

        return top.Drain().ConvertAll(t => new Candidate(t.Id, t.Score, new RecommendationReason(t.Value == 1 ? ReasonKind.InCart : ReasonKind.RecentlyViewed, t.Id)));
    }
}
