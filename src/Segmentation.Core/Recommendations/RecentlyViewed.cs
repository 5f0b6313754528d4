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

        // One entry per item of hers, in one dictionary: whether she bought it, its last cart event (add, removal or
        // purchase) and, below, its score. Three sets and dictionaries (bought, cart, scores) hashed each id up to five
        // times. The history is in any order: on equal times a purchase wins (a checkout stamped in the same second as
        // the add), otherwise the later entry (the profile keeps its interactions in event-time order; its purchases
        // are listed before them). Ages are counted from her newest interaction (below), found in the same pass.
        var items = scratch.Items;
        var newest = DateTimeOffset.MinValue;
        foreach (var x in history)
        {
            newest = x.Timestamp > newest ? x.Timestamp : newest;
            if (x.Type is EventType.AddToCart or EventType.RemoveFromCart or EventType.Purchase)
            {
                ref var item = ref CollectionsMarshal.GetValueRefOrAddDefault(items, x.ItemId, out _);
                if (!item.InCartHistory || x.Timestamp > item.LastCart.Timestamp || (x.Timestamp == item.LastCart.Timestamp && item.LastCart.Type != EventType.Purchase))
                {
                    item.LastCart = x;
                    item.InCartHistory = true;
                }

                item.Bought |= x.Type == EventType.Purchase;
            }
        }

        // Ages are counted from her own newest interaction, not from the request's "now": the blender reads only each
        // source's scores relative to its best, which this leaves as they were, while a short half-life counted from
        // "now" (10 minutes: 2^-144 a day) would decay every item of a shopper away for a few weeks to exactly 0, and
        // "continue where you left off" would vanish for her. "Now" still bounds it (an event stamped in the future).
        var reference = newest < request.Now ? newest : request.Now;
        foreach (var x in history)
        {
            // A bought item only comes back when she carts it again (a repurchasable one; the blender filters the others).
            if (x.Type is EventType.View or EventType.AddToCart or EventType.Wishlist)
            {
                ref var item = ref CollectionsMarshal.GetValueRefOrAddDefault(items, x.ItemId, out _);
                if ((!item.Bought || item.LastCart.Type == EventType.AddToCart)
                    && !(x.Type == EventType.AddToCart && item.LastCart.Type == EventType.RemoveFromCart))
                {
                    item.Score += _weights.Of(x) * ForwardDecay.Factor(reference - x.Timestamp, halfLife);
                }
            }
        }

        var top = new TopK<byte>(count);
        foreach (var (id, item) in items)
        {
            // An item none of her interactions scored has 0 and is not proposed.
            if (item.Score > 0 && allowed(id))
            {
                top.Offer(id, item.Score, item.InCartHistory && item.LastCart.Type == EventType.AddToCart ? (byte)1 : (byte)0);
            }
        }

        return top.DrainCandidates(s_candidate, sorted, rented: !sorted);
    }

    private static readonly Func<string, double, byte, Candidate> s_candidate =
        static (id, score, inCart) => new Candidate(id, score, new RecommendationReason(inCart == 1 ? ReasonKind.InCart : ReasonKind.RecentlyViewed, id));

    // What one query knows of an item of hers (RecentlyViewed's one dictionary).
    private struct ItemState
    {
        public bool Bought;

        // Whether LastCart holds her last cart event of the item (none: default).
        public bool InCartHistory;
        public Interaction LastCart;
        public double Score;
    }

    // The dictionary of one query, kept per thread between queries (cleared): a Recommend made three collections.
    private sealed class Scratch
    {
        public Dictionary<string, ItemState> Items { get; } = new(StringComparer.Ordinal);

        public void Clear() => Items.Clear();
    }
}
