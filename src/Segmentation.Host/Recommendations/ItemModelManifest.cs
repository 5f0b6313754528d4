namespace Segmentation.Host.Recommendations;

/// <summary>
/// <c>model.json</c> of a served item model's folder: what it was trained on, its size, and the blend weights tuned on
/// the held-out split with the scores that chose them. Written once with the model; never changed.
/// </summary>
public sealed record ItemModelManifest
{
    /// <summary>The version (the folder's name): 1, 2, ... in training order.</summary>
    public long Version { get; init; }

    /// <summary>"EASE^R".</summary>
    public string Kind { get; init; } = "EASE^R";

    /// <summary>When it was trained (wall clock).</summary>
    public DateTimeOffset TrainedAt { get; init; }

    /// <summary>Events of the log read (with an item and a positive weight).</summary>
    public long Interactions { get; init; }

    /// <summary>Users in the log.</summary>
    public int Users { get; init; }

    /// <summary>Items in the model (at most <see cref="MaxItems"/>) and in the log.</summary>
    public int Items { get; init; }

    /// <summary>Items in the log.</summary>
    public int LogItems { get; init; }

    /// <summary>The item bound it was trained with.</summary>
    public int MaxItems { get; init; }

    /// <summary>Bytes the served weights take (4·n² dense, 8·n·<see cref="Neighbours"/> pruned).</summary>
    public long WeightBytes { get; init; }

    /// <summary>Weights kept per item when the model was pruned (more items than <c>DenseMaxItems</c>); null: dense, all n.</summary>
    public int? Neighbours { get; init; }

    /// <summary>EASEᴿ's λ.</summary>
    public double Lambda { get; init; }

    /// <summary>The blend weights chosen: source name → weight ("ease" is 1; the others relative to it).</summary>
    public Dictionary<string, double> BlendWeights { get; init; } = [];

    /// <summary>Validation users (a quarter of their items held out) the weights were tuned on.</summary>
    public int ValidationCases { get; init; }

    /// <summary>NDCG@10 of the chosen blend on the held-out cases.</summary>
    public double ValidationNdcg { get; init; }

    /// <summary>Hit rate@10 of the chosen blend on the held-out cases.</summary>
    public double ValidationHitRate { get; init; }

    /// <summary>Hit rate@10 of the chosen blend on the cases whose target was new to her (null: no such case).</summary>
    public double? ValidationNewHitRate { get; init; }

    /// <summary>The recency source's half-life chosen on the same cases (null: a manifest from before; the configured one serves).</summary>
    public TimeSpan? RecentlyViewedHalfLife { get; init; }

    /// <summary>The personal ranking's affinity boost chosen on the same cases (null: the configured one serves).</summary>
    public double? AffinityBoost { get; init; }

    /// <summary>The personal ranking's category cap (largest share of a list one top-level category fills) chosen on the same cases (null: the configured one).</summary>
    public double? MaxCategoryShare { get; init; }

    /// <summary>Popularity's weight for items outside her top categories chosen on the same cases (null: <see cref="Segmentation.Core.Recommendations.PersonalPopularity.OutsideWeight"/>).</summary>
    public double? PopularityOutsideWeight { get; init; }

    /// <summary>Whether popularity proposes only items new to her, chosen on the same cases (null: no).</summary>
    public bool? PopularityNewItemsOnly { get; init; }

    /// <summary>
    /// The share of a list's places kept for items new to her, chosen on the same cases
    /// (<see cref="Segmentation.Core.Recommendations.BlendOptions.DiscoveryShare"/>; null: a manifest from before, no split).
    /// </summary>
    public double? DiscoveryShare { get; init; }

    /// <summary>NDCG@10 of each source alone on the same cases.</summary>
    public Dictionary<string, double> SourceAloneNdcg { get; init; } = [];

    /// <summary>Seconds training took (reading the log, tuning, the final model).</summary>
    public double TrainingSeconds { get; init; }
}
