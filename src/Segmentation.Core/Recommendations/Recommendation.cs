namespace Segmentation.Core.Recommendations;

/// <summary>One thing the user did with an item, as the recommenders see it.</summary>
/// <param name="ItemId">The item.</param>
/// <param name="Type">What happened (view, cart, purchase, rating, ...).</param>
/// <param name="Timestamp">When it happened.</param>
/// <param name="Rating">1 to 5 for <see cref="EventType.Rating"/>; otherwise ignored.</param>
public readonly record struct Interaction(string ItemId, EventType Type, DateTimeOffset Timestamp, double Rating = 0)
{
    /// <summary>The interaction of a domain event (its item, type, time and rating).</summary>
    public static Interaction From(BehaviorEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new Interaction(e.ItemId, e.Type, e.Timestamp, e.Rating);
    }
}

/// <summary>Why an item was recommended: the kind of evidence and what caused it.</summary>
public enum ReasonKind
{
    /// <summary>Bought together with <see cref="RecommendationReason.Cause"/>, an item of the user's: some user bought both.</summary>
    BoughtTogether = 1,

    /// <summary>Popular in the segment named by <see cref="RecommendationReason.Cause"/>.</summary>
    PopularInSegment = 2,

    /// <summary>Similar to <see cref="RecommendationReason.Cause"/>, an item the user interacted with (learned item-item model or embeddings).</summary>
    SimilarToViewed = 3,

    /// <summary>The user viewed <see cref="RecommendationReason.Cause"/> (this very item) recently without buying it.</summary>
    RecentlyViewed = 4,

    /// <summary>Close to the user's taste vector; <see cref="RecommendationReason.Cause"/> is empty.</summary>
    MatchesTasteProfile = 5,

    /// <summary>Viewed together with <see cref="RecommendationReason.Cause"/>, an item of the user's: some user viewed (or carted) both; no purchase of both is known.</summary>
    ViewedTogether = 6,

    /// <summary>The user put <see cref="RecommendationReason.Cause"/> (this very item) in her cart and has not bought it (nor taken it out).</summary>
    InCart = 7,

    /// <summary>Rated together with <see cref="RecommendationReason.Cause"/>, an item of the user's: some user rated both; no purchase of both is known.</summary>
    RatedTogether = 8,
}

/// <summary>The explanation carried by every recommended item.</summary>
/// <param name="Kind">The kind of evidence.</param>
/// <param name="Cause">The item id or segment key that caused it ("" for <see cref="ReasonKind.MatchesTasteProfile"/>).</param>
public sealed record RecommendationReason(ReasonKind Kind, string Cause)
{
    /// <summary>
    /// How people know the cause, when its key is not for people: a segment's label ("big-basket home buyers",
    /// "active shoppers") for <see cref="ReasonKind.PopularInSegment"/>. Null: the text names the cause itself.
    /// </summary>
    public string? CauseLabel { get; init; }

    /// <summary>A short sentence for people, e.g. "often bought with X".</summary>
    public string Text => Kind switch
    {
        ReasonKind.BoughtTogether => $"often bought with {Cause}",
        ReasonKind.ViewedTogether => $"often viewed with {Cause}",
        ReasonKind.RatedTogether => $"often rated with {Cause}",
        ReasonKind.InCart => "in your cart",
        ReasonKind.PopularInSegment when CauseLabel is { Length: > 0 } label => $"popular with {label}",
        ReasonKind.PopularInSegment => Cause.Length == 0 ? "popular with everyone" : $"popular in your segment '{Cause}'",
        ReasonKind.SimilarToViewed => $"similar to what you viewed: {Cause}",
        ReasonKind.RecentlyViewed => $"you viewed {Cause} recently",
        _ => "matches your taste profile",
    };

    /// <inheritdoc/>
    public override string ToString() => Text;
}

/// <summary>An item proposed by one candidate source, with its source-specific score (higher is better, &gt; 0).</summary>
public readonly record struct Candidate(string ItemId, double Score, RecommendationReason Reason)
{
    /// <summary>
    /// The item's category as the catalog holds it now, when the source knew it without asking the catalog (popularity
    /// reads it once per ranking); null otherwise. Given only to the blender (unsorted answers), which then spares a
    /// catalog lookup per item: the public answers leave it null.
    /// </summary>
    public string? Category { get; init; }
}

/// <summary>A recommended item: blended score, its category (if known) and why it was chosen.</summary>
public sealed record Recommendation(string ItemId, double Score, string Category, RecommendationReason Reason);

/// <summary>What a recommendation is for. Immutable; everything except <see cref="Now"/> is optional.</summary>
public sealed record RecommendationRequest
{
    private static readonly IReadOnlySet<string> s_none = new HashSet<string>();

    /// <summary>The user; empty for anonymous visitors.</summary>
    public string UserId { get; init; } = "";

    /// <summary>The user's known interactions, any order (typically the recent ones kept by the profile).</summary>
    public IReadOnlyList<Interaction> History { get; init; } = [];

    // History for the sources' loops, in its order: a foreach over the interface boxed an enumerator and made two
    // interface calls per item, in each of the half dozen loops a Recommend runs over her history. Her grain's list
    // (or an array) is read in place; any other list is copied once.
    internal ReadOnlySpan<Interaction> HistorySpan() => History switch
    {
        Interaction[] array => array,
        List<Interaction> list => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list),
        var other => other.ToArray(),
    };

    /// <summary>
    /// Segment keys of the user, most specific first, e.g. <c>["ml:7", "lifecycle:new"]</c>; segment popularity is
    /// looked up under each, then under <see cref="SegmentPopularity.Everyone"/>.
    /// </summary>
    public IReadOnlyList<string> SegmentKeys { get; init; } = [];

    /// <summary>The item on screen (anonymous or not): its similar items are candidates; it is never recommended itself.</summary>
    public string? ContextItemId { get; init; }

    /// <summary>The category on screen (dotted path prefix): popularity candidates are restricted to it.</summary>
    public string? ContextCategory { get; init; }

    /// <summary>
    /// Her decayed affinities to top-level categories, largest first, with their shares (<see cref="UserProfile.TopLevelAffinities"/>);
    /// empty for anonymous visitors. Personalised placements rank and fill with them (<see cref="PersonalRanking"/>).
    /// </summary>
    public IReadOnlyList<CategoryAffinity> CategoryAffinities { get; init; } = [];

    /// <summary>The user's taste vector for embedding similarity, if one was computed (length = the index's dimension).</summary>
    public float[]? UserVector { get; init; }

    /// <summary>Items that must not be recommended (e.g. already shown, or the training items in an offline evaluation).</summary>
    public IReadOnlySet<string> ExcludedItems { get; init; } = s_none;

    /// <summary>How many items to return.</summary>
    public int Count { get; init; } = 10;

    /// <summary>The time against which decays are computed (event time, not wall clock).</summary>
    public required DateTimeOffset Now { get; init; }
}

/// <summary>
/// A source of candidate items for the <see cref="RecommendationBlender"/>. Implementations must be safe to call
/// from several threads at once and must return candidates sorted by score descending, then item id (ordinal),
/// with distinct item ids, only items for which <c>allowed</c> returns true, and at most <c>count</c> of them.
/// </summary>
public interface ICandidateSource
{
    /// <summary>Up to <paramref name="count"/> candidates for <paramref name="request"/>.</summary>
    IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed);
}
