namespace Segmentation.Host.Configuration;

/// <summary>Churn risk (section <c>Segmentation:Churn</c>).</summary>
public sealed class ChurnOptions
{
    /// <summary>Churn means no activity in the next this many days (the labels' horizon). Default 60.</summary>
    public int HorizonDays { get; set; } = 60;

    /// <summary>Probability from which a user is in <c>churn:high</c>. Default 0.7.</summary>
    public double HighFrom { get; set; } = 0.7;

    /// <summary>Probability from which a user is in <c>churn:medium</c> (below: <c>churn:low</c>). Default 0.4.</summary>
    public double MediumFrom { get; set; } = 0.4;

    /// <summary>
    /// Retrain the churn model, the value segments and the anomaly forest on an Orleans reminder this often (0: never,
    /// the default; at least <c>Silo:MinimumReminderPeriod</c>).
    /// </summary>
    public TimeSpan RetrainEvery { get; set; }

    /// <summary>Where versions are stored; empty: <c>&lt;DataDirectory&gt;/models/churn</c>.</summary>
    public string ModelsDirectory { get; set; } = "";

    /// <summary>Every problem with these settings, naming the setting.</summary>
    public IEnumerable<string> Problems()
    {
        if (HorizonDays is < 1 or > 3_650)
        {
            yield return $"Segmentation:Churn:HorizonDays must be 1 to 3650 days, got {HorizonDays}";
        }

        if (RetrainEvery < TimeSpan.Zero)
        {
            yield return $"Segmentation:Churn:RetrainEvery must be 0 (off) or positive, got {RetrainEvery}";
        }

        if (!(MediumFrom > 0 && MediumFrom < HighFrom && HighFrom < 1))
        {
            yield return $"Segmentation:Churn: need 0 < MediumFrom < HighFrom < 1, got MediumFrom {MediumFrom} and HighFrom {HighFrom}";
        }
    }
}
