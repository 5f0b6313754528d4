namespace Segmentation.Host.Configuration;

/// <summary>
/// The served item model (section <c>Segmentation:Recommendations:ItemModel</c>): EASEᴿ trained from the event log on
/// the items with the most users, stored under the models folder (<c>recommender/&lt;version&gt;</c>) and blended with
/// co-occurrence, recency and popularity under weights tuned on a held-out split (recorded in its manifest).
/// </summary>
public sealed class ItemModelOptions
{
    /// <summary>Serve the newest stored model (and train one when asked). False: the online sources alone.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Train one in the background once the host has started when none is stored (and after seeding).</summary>
    public bool TrainAtStart { get; set; }

    /// <summary>Retrain on an Orleans reminder this often (0: never; at least <c>Silo:MinimumReminderPeriod</c>).</summary>
    public TimeSpan RefreshEvery { get; set; }

    /// <summary>
    /// Most items in the model (those with the most users). Served memory is 4·n² bytes (3,000: 36 MB); training
    /// peaks near 20·n² bytes (3,000: 180 MB) and takes O(n³).
    /// </summary>
    public int MaxItems { get; set; } = 3_000;

    /// <summary>
    /// Most items served dense (all n² weights). A model of more items keeps only each item's <see cref="Neighbours"/>
    /// strongest weights (<see cref="Segmentation.Core.Recommendations.EaseModel.Prune"/>): the dense rows of 3,000
    /// items (36 MB) do not stay in a last-level cache, and each item of a shopper's is a 12 KB read from memory per
    /// Recommend. 0 prunes every model. The blend is tuned on the model as served.
    /// </summary>
    public int DenseMaxItems { get; set; } = 2_000;

    /// <summary>Weights kept per item when a model is pruned (see <see cref="DenseMaxItems"/>).</summary>
    public int Neighbours { get; set; } = 200;

    /// <summary>EASEᴿ's L2 penalty λ.</summary>
    public double Lambda { get; set; } = 500;

    /// <summary>Users a quarter of whose items are held out to tune the blend weights (evenly spaced over the users by id).</summary>
    public int ValidationUsers { get; set; } = 2_000;

    /// <summary>Fewest users with four or more interactions needed to train (fewer: no model).</summary>
    public int MinUsers { get; set; } = 20;

    /// <summary>The problems with these options, one sentence each naming the setting.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MaxItems is < 2 or > 20_000)
        {
            problems.Add("ItemModel:MaxItems must be 2 to 20,000 (memory grows with its square)");
        }

        if (DenseMaxItems < 0 || Neighbours < 1)
        {
            problems.Add("ItemModel:DenseMaxItems must be >= 0 (0: every model pruned) and ItemModel:Neighbours >= 1");
        }

        if (!double.IsFinite(Lambda) || Lambda <= 0)
        {
            problems.Add("ItemModel:Lambda must be a finite number > 0");
        }

        if (ValidationUsers < 0 || MinUsers < 1)
        {
            problems.Add("ItemModel:ValidationUsers must be >= 0 and ItemModel:MinUsers >= 1");
        }

        if (RefreshEvery < TimeSpan.Zero)
        {
            problems.Add("ItemModel:RefreshEvery must be 0 (off) or positive");
        }

        return problems;
    }
}
