namespace Segmentation.Core.ValueSegments;

/// <summary>
/// The standard RFM vocabulary, decided from a recency score R and a combined frequency–monetary score FM, both 1–5
/// (5 best: most recent, most orders and spend). The map, every cell covered once:
/// <code>
///        FM:  1            2–3                   4              5
///  R 5        New          Potential loyalists   Champions      Champions
///  R 4        Promising    Potential loyalists   Loyal          Champions
///  R 3        Need attention (FM 1–3)            Loyal          Loyal
///  R 2        Hibernating (FM 1–2) | At risk (3) At risk        Can't lose them
///  R 1        Lost (FM 1–2)        | At risk (3) At risk        Can't lose them
/// </code>
/// </summary>
public static class RfmLabels
{
    /// <summary>The labels, best first.</summary>
    public static IReadOnlyList<string> All { get; } =
        ["Champions", "Loyal", "Potential loyalists", "New", "Promising", "Need attention", "At risk", "Can't lose them", "Hibernating", "Lost"];

    /// <summary>The label of scores <paramref name="r"/> and <paramref name="fm"/> (each clamped to 1–5).</summary>
    public static string Of(int r, int fm)
    {
        r = Math.Clamp(r, 1, 5);
        fm = Math.Clamp(fm, 1, 5);
        return r switch
        {
            5 => fm switch { 1 => "New", <= 3 => "Potential loyalists", _ => "Champions" },
            4 => fm switch { 1 => "Promising", <= 3 => "Potential loyalists", 4 => "Loyal", _ => "Champions" },
            3 => fm <= 3 ? "Need attention" : "Loyal",
            _ => fm switch { <= 2 => r == 2 ? "Hibernating" : "Lost", 5 => "Can't lose them", _ => "At risk" },
        };
    }

    /// <summary>
    /// Quintile scores 1–5 of <paramref name="values"/> by mid-rank (ties share a score), 5 for the largest; with
    /// <paramref name="descending"/> 5 for the smallest (recency: fewer days is better).
    /// </summary>
    public static int[] Quintiles(IReadOnlyList<double> values, bool descending = false)
    {
        var n = values.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => values[i]).ToArray();
        var scores = new int[n];
        for (var start = 0; start < n;)
        {
            var end = start;
            while (end + 1 < n && values[order[end + 1]] == values[order[start]])
            {
                end++;
            }

            var midRank = (start + end) / 2.0;
            var score = Math.Clamp(1 + (int)(5 * (midRank + 0.5) / n), 1, 5);
            for (var i = start; i <= end; i++)
            {
                scores[order[i]] = descending ? 6 - score : score;
            }

            start = end + 1;
        }

        return scores;
    }
}
