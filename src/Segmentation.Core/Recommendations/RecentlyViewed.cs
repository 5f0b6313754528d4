using System.Runtime.InteropServices;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// "Continue where you left off": items the user viewed, put in the cart or wishlisted but has not bought,
/// scored by Σ weight · 2^(−age/half-life), age counted from her newest interaction, so the most recent and most engaged come first. An item is "in your cart"
/// when its last cart event (add, removal, or purchase, which empties the cart of it) was an add; the others "you
/// viewed X recently". A cart add taken back by a later removal no longer counts towards the score (she changed her
/// mind); her views of the item still do. Stateless: reads only the request's history; thread-safe.
/// </summary>
public sealed class RecentlyViewed(TimeSpan halfLife, InteractionWeights? weights = null) : IUnorderedCandidateSource
{
    private readonly InteractionWeights _weights = weights ?? InteractionWeights.Default;

    /// <inheritdoc/>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        RentedCandidates.Owned(GetCandidates(request, count, allowed, sorted: true));

    ArraySegment<Candidate> IUnorderedCandidateSource.GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        GetCandidates(request, count, allowed, sorted: false);

    private ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted)
    {
        ArgumentNullException.ThrowIfNull(request);

        var scratch = PerThread<Scratch>.Take();
        try
        {
            return GetCandidates(request, count, allowed, sorted, scratch);
        }
        finally
        {
            scratch.Clear();
            PerThread<Scratch>.Keep(scratch);
        }
    }

    private ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted, Scratch scratch)
    {
        var history = request.HistorySpan();
        var bought = scratch.Bought;
        foreach (var x in history)
        {
            if (x.Type == EventType.Purchase)
            {
                bought.Add(x.ItemId);
            }
        }

        // The last cart event of each item (add, removal or purchase): the history is in any order. On equal times a
        // purchase wins (a checkout stamped in the same second as the add), otherwise the later entry (the profile keeps
        // its interactions in event-time order; its purchases are listed before them).
        var cart = scratch.Cart;
        foreach (var x in history)
        {
            if (x.Type is EventType.AddToCart or EventType.RemoveFromCart or EventType.Purchase)
            {
                // One lookup: an item first met here is added with this event, as it would be set.
                ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(cart, x.ItemId, out var known);
                if (!known || x.Timestamp > last.Timestamp || (x.Timestamp == last.Timestamp && last.Type != EventType.Purchase))
                {
                    last = x;
                }
            }
        }

        // Ages are counted from her own newest interaction, not from the request's "now": the blender reads only each
        // source's scores relative to its best, which this leaves as they were, while a short half-life counted from
        // "now" (10 minutes: 2^-144 a day) would decay every item of a shopper away for a few weeks to exactly 0, and
        // "continue where you left off" would vanish for her. "Now" still bounds it (an event stamped in the future).
        var newest = DateTimeOffset.MinValue;
        foreach (var x in history)
        {
            newest = x.Timestamp > newest ? x.Timestamp : newest;
        }

        var reference = newest < request.Now ? newest : request.Now;
        var scores = scratch.Scores;
        foreach (var x in history)
        {
            // A bought item only comes back when she carts it again (a repurchasable one; the blender filters the others).
            if (x.Type is EventType.View or EventType.AddToCart or EventType.Wishlist
                && (bought.Count == 0 || !bought.Contains(x.ItemId) || cart[x.ItemId].Type == EventType.AddToCart)
                && !(x.Type == EventType.AddToCart && cart[x.ItemId].Type == EventType.RemoveFromCart))
            {
                CollectionsMarshal.GetValueRefOrAddDefault(scores, x.ItemId, out _) += _weights.Of(x) * ForwardDecay.Factor(reference - x.Timestamp, halfLife);
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

        return top.DrainCandidates(s_candidate, sorted, rented: !sorted);
    }

    private static readonly Func<string, double, byte, Candidate> s_candidate =
        static (id, score, inCart) => new Candidate(id, score, new RecommendationReason(inCart == 1 ? ReasonKind.InCart : ReasonKind.RecentlyViewed, id));

    // The set and dictionaries of one query, kept per thread between queries (cleared): a Recommend made three.
    private sealed class Scratch
    {
        public HashSet<string> Bought { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Interaction> Cart { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, double> Scores { get; } = new(StringComparer.Ordinal);

        public void Clear()
        {
            Bought.Clear();
            Cart.Clear();
            Scores.Clear();
        }
    }
}
