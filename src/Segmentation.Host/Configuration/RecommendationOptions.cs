namespace Segmentation.Host.Configuration;

/// <summary>
/// How recommendations are blended and filtered (section <c>Segmentation:Recommendations</c>). Half-lives are in event
/// time. Read at start; changing them needs a restart.
/// </summary>
public sealed class RecommendationOptions
{
    /// <summary>Weight of "often bought with" candidates (item-to-item co-occurrence, SAR-style).</summary>
    public double CoOccurrenceWeight { get; set; } = 1.0;

    /// <summary>Weight of "popular in your segment" candidates (time-decayed popularity per lifecycle stage and overall).</summary>
    public double PopularityWeight { get; set; } = 0.3;

    /// <summary>Weight of "you viewed it recently" candidates (viewed, carted or wishlisted, not bought).</summary>
    public double RecentlyViewedWeight { get; set; } = 0.5;

    /// <summary>Weight of "matches your taste profile" candidates: the user's embedding against the served encoder's item vectors (exact top-k).</summary>
    public double EmbeddingWeight { get; set; } = 0.5;

    /// <summary>Half-life of co-occurrence counts.</summary>
    public TimeSpan CoOccurrenceHalfLife { get; set; } = TimeSpan.FromDays(90);

    /// <summary>Half-life of the requesting user's own interactions when scoring co-occurrence.</summary>
    public TimeSpan AffinityHalfLife { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Half-life of segment popularity.</summary>
    public TimeSpan PopularityHalfLife { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Half-life of "recently viewed" interest.</summary>
    public TimeSpan RecentlyViewedHalfLife { get; set; } = TimeSpan.FromDays(3);

    /// <summary>Most distinct items per user that feed co-occurrence (the oldest is forgotten; its counts stay).</summary>
    public int MaxItemsPerUser { get; set; } = 100;

    /// <summary>
    /// Most neighbours of each of the user's items read when scoring co-occurrence (the most similar ones; 0: all).
    /// Bounds the cost of a request on large catalogues.
    /// </summary>
    public int MaxNeighbours { get; set; } = 200;

    /// <summary>
    /// How often a silo of a cluster sends the changes its users' events made to its recommenders to the other silos'
    /// replicas: a <c>Recommend</c> answered on any silo reflects an event ingested on another within about this long.
    /// Unused by a single silo.
    /// </summary>
    public TimeSpan ReplicationInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a user's last answer may be served again for the same request while her history, segments and embedding
    /// are unchanged (her own events always recompute it at once; other users' events reach it within this long).
    /// <c>00:00:00</c> turns the per-user cache off.
    /// </summary>
    public TimeSpan CacheMaxAge { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most users whose last answer is cached (one entry of about 2 KB each).</summary>
    public int CacheEntries { get; set; } = 50_000;

    /// <summary>Category prefixes whose items may be recommended again after a purchase ("grocery", "beauty.soap").</summary>
    public List<string> RepurchasableCategories { get; set; } = [];

    /// <summary>The defaults of every request (a placement overrides what it sets).</summary>
    public PlacementOptions Defaults { get; set; } = new();

    /// <summary>Named placements ("home", "checkout", ...), chosen by a request's <c>context.placement</c>.</summary>
    public Dictionary<string, PlacementOptions> Placements { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The served item model (EASEᴿ), trained from the event log and blended with the online sources.</summary>
    public ItemModelOptions ItemModel { get; set; } = new();

    /// <summary>
    /// How the shopper's decayed category affinities rank, cap and fill a personalised placement (every placement
    /// unless it sets <see cref="PlacementOptions.Personalized"/> false): the boost per share, the largest share of a
    /// response one top-level category may fill, the categories popularity is drawn from.
    /// </summary>
    public PersonalizationOptions Personalization { get; set; } = new();

    /// <summary>The problems with these options, one sentence each naming the setting; empty when usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        foreach (var (name, weight) in new[] { ("CoOccurrenceWeight", CoOccurrenceWeight), ("PopularityWeight", PopularityWeight), ("RecentlyViewedWeight", RecentlyViewedWeight), ("EmbeddingWeight", EmbeddingWeight) })
        {
            if (!double.IsFinite(weight) || weight < 0)
            {
                problems.Add($"{name} must be a finite number >= 0 (0 turns the source off)");
            }
        }

        foreach (var (name, span) in new[] { ("CoOccurrenceHalfLife", CoOccurrenceHalfLife), ("AffinityHalfLife", AffinityHalfLife), ("PopularityHalfLife", PopularityHalfLife), ("RecentlyViewedHalfLife", RecentlyViewedHalfLife) })
        {
            if (span <= TimeSpan.Zero)
            {
                problems.Add($"{name} must be positive");
            }
        }

        if (MaxNeighbours < 0)
        {
            problems.Add("MaxNeighbours must be >= 0 (0 reads every neighbour)");
        }

        if (MaxItemsPerUser < 1)
        {
            problems.Add("MaxItemsPerUser must be at least 1");
        }

        if (CacheMaxAge < TimeSpan.Zero)
        {
            problems.Add("CacheMaxAge must not be negative (00:00:00 turns the cache off)");
        }

        if (CacheEntries < 1)
        {
            problems.Add("CacheEntries must be at least 1");
        }

        problems.AddRange(ItemModel.Validate());
        if (!double.IsFinite(Personalization.AffinityBoost) || Personalization.AffinityBoost < 0)
        {
            problems.Add("Personalization:AffinityBoost must be a finite number >= 0 (0: no boost)");
        }

        if (!(Personalization.MaxCategoryShare is > 0 and <= 1))
        {
            problems.Add("Personalization:MaxCategoryShare must be above 0 and at most 1 (1: no cap)");
        }

        if (Personalization.TopCategories is < 1 or > Core.Recommendations.PersonalRanking.MaxCategories)
        {
            problems.Add($"Personalization:TopCategories must be 1 to {Core.Recommendations.PersonalRanking.MaxCategories}");
        }

        foreach (var (name, placement) in Placements.Append(new KeyValuePair<string, PlacementOptions>("Defaults", Defaults)))
        {
            if (placement.MaxPerCategory is < 0 || placement.CategoryDepth is < 1)
            {
                problems.Add($"Placements[{name}]: MaxPerCategory must be >= 0 and CategoryDepth >= 1");
            }
        }

        return problems;
    }
}

/// <summary>Filters of one placement. Unset values fall back to <see cref="RecommendationOptions.Defaults"/>.</summary>
public sealed class PlacementOptions
{
    /// <summary>Category prefixes never recommended on this placement (out of scope).</summary>
    public List<string>? ExcludedCategories { get; set; }

    /// <summary>Most items per category in one response (0: no cap).</summary>
    public int? MaxPerCategory { get; set; }

    /// <summary>Levels of the category path that define "a category" for the cap (1: "home" for "home.kitchen.mugs").</summary>
    public int? CategoryDepth { get; set; }

    /// <summary>Whether the shopper's category affinities rank and fill this placement (<see cref="RecommendationOptions.Personalization"/>); default true.</summary>
    public bool? Personalized { get; set; }
}

/// <summary>Section <c>Segmentation:Recommendations:Personalization</c> (see <see cref="Core.Recommendations.PersonalRanking"/>).</summary>
public sealed class PersonalizationOptions
{
    /// <summary>A blended score is multiplied by 1 + this × her share of the item's top-level category.</summary>
    public double AffinityBoost { get; set; } = 1;

    /// <summary>Largest share of one response one top-level category may fill (1: no cap).</summary>
    public double MaxCategoryShare { get; set; } = 0.5;

    /// <summary>How many of her top categories popularity candidates are drawn from.</summary>
    public int TopCategories { get; set; } = 3;
}
