namespace Segmentation.Core.Rules;

/// <summary>
/// The traits a rule may name, read from a <see cref="ProfileView"/>: numbers (counts, money, RFM, recency in whole
/// days) and one string (<c>lifecycle</c>: new, active, at_risk, churned, reactivated), plus the function
/// <c>affinity("category")</c>, the category's share (0..1) of the user's decayed engagement (parent paths included).
/// </summary>
public static class ProfileTraits
{
    private static readonly Dictionary<string, Func<ProfileView, double>> s_numbers = new(StringComparer.Ordinal)
    {
        ["events"] = p => p.EventCount,
        ["views"] = p => Count(p, EventType.View),
        ["searches"] = p => Count(p, EventType.Search),
        ["carts"] = p => Count(p, EventType.AddToCart),
        ["purchases"] = p => Count(p, EventType.Purchase),
        ["returns"] = p => Count(p, EventType.Return),
        ["ratings"] = p => Count(p, EventType.Rating),
        ["orders"] = p => p.Orders,
        ["spend"] = p => p.Spend,
        ["returned"] = p => p.Returned,
        ["monetary"] = p => p.Rfm.Monetary,
        ["average_order_value"] = p => p.AverageOrderValue,
        ["recency_days"] = p => p.Rfm.RecencyDays,
        ["frequency"] = p => p.Rfm.Frequency,
        ["r_score"] = p => p.Rfm.RecencyScore,
        ["f_score"] = p => p.Rfm.FrequencyScore,
        ["m_score"] = p => p.Rfm.MonetaryScore,
        ["days_since_last_seen"] = p => Math.Floor((p.AsOf - p.LastSeen).TotalDays),
        ["days_since_first_seen"] = p => Math.Floor((p.AsOf - p.FirstSeen).TotalDays),
    };

    private static readonly Dictionary<string, Func<ProfileView, string>> s_strings = new(StringComparer.Ordinal)
    {
        ["lifecycle"] = p => StageName(p.Lifecycle.Stage),
    };

    /// <summary>Every numeric trait name.</summary>
    public static IEnumerable<string> NumberNames => s_numbers.Keys;

    /// <summary>Every string trait name.</summary>
    public static IEnumerable<string> StringNames => s_strings.Keys;

    /// <summary>The lifecycle values a rule compares with.</summary>
    public static IReadOnlyList<string> LifecycleValues { get; } = ["new", "active", "at_risk", "churned", "reactivated"];

    internal static bool TryNumber(string name, out Func<ProfileView, double> read) => s_numbers.TryGetValue(name, out read!);

    internal static bool TryString(string name, out Func<ProfileView, string> read) => s_strings.TryGetValue(name, out read!);

    internal static double Affinity(ProfileView profile, string category)
    {
        foreach (var affinity in profile.TopCategories)
        {
            if (string.Equals(affinity.Category, category, StringComparison.Ordinal))
            {
                return affinity.Share;
            }
        }

        return 0;
    }

    internal static string StageName(LifecycleStage stage) => stage switch
    {
        LifecycleStage.New => "new",
        LifecycleStage.Active => "active",
        LifecycleStage.AtRisk => "at_risk",
        LifecycleStage.Churned => "churned",
        LifecycleStage.Reactivated => "reactivated",
        _ => "unspecified",
    };

    private static double Count(ProfileView profile, EventType type)
    {
        foreach (var count in profile.Counts)
        {
            if (count.Type == type)
            {
                return count.Count;
            }
        }

        return 0;
    }
}
