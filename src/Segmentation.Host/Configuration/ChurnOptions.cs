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

    /// <summary>Where versions are stored; empty: <c>&lt;DataDirectory&gt;/models/churn</c>.</summary>
    public string ModelsDirectory { get; set; } = "";

    /// <summary>Every problem with these settings, naming the setting.</summary>
    public IEnumerable<string> Problems()
    {
        if (HorizonDays is < 1 or > 3_650)
        {
            yield return $"Segmentation:Churn:HorizonDays must be 1 to 3650 days, got {HorizonDays}";
        }

        if (!(MediumFrom > 0 && MediumFrom < HighFrom && HighFrom < 1))
        {
            yield return $"Segmentation:Churn: need 0 < MediumFrom < HighFrom < 1, got MediumFrom {MediumFrom} and HighFrom {HighFrom}";
        }
    }
}
