namespace Segmentation.Core.Recommendations.Evaluation;

/// <summary>Top-k ranking quality over a set of users.</summary>
/// <param name="K">The cut-off.</param>
/// <param name="Users">Users with both ground truth and at least one recommendation (the denominator of P, R and MAP).</param>
/// <param name="Precision">precision@k.</param>
/// <param name="Recall">recall@k.</param>
/// <param name="Ndcg">nDCG@k, binary relevance.</param>
/// <param name="Map">Mean average precision of the top k, normalised by each user's number of relevant items (Recommenders' <c>map</c>; what the published MovieLens tables call MAP).</param>
/// <param name="MapAtK">The same normalised by min(relevant, k) (Recommenders' current <c>map_at_k</c>, Spark's meanAveragePrecisionAt).</param>
public sealed record RankingMetrics(int K, int Users, double Precision, double Recall, double Ndcg, double Map, double MapAtK);

/// <summary>
/// precision@k, recall@k, nDCG@k and MAP with exactly the definitions of Microsoft Recommenders'
/// <c>recommenders/evaluation/python_evaluation.py</c> (<c>precision_at_k</c>, <c>recall_at_k</c>, <c>ndcg_at_k</c>
/// with binary relevance, <c>map</c> and <c>map_at_k</c>, relevancy method "top_k"):
/// <list type="bullet">
/// <item>Only the first k recommendations of each user count; "hits" are those in the user's relevant set; rank r is 1-based.</item>
/// <item>precision = Σᵤ hitsᵤ / k / U and recall = Σᵤ hitsᵤ / |relᵤ| / U, where U counts the users that have both
/// relevant items and recommendations (a user with fewer than k recommendations is still divided by k).</item>
/// <item>MAP = Σᵤ (Σ over hits, in rank order, of (hits so far) / r) / |relᵤ| / U; MAP@k divides by min(|relᵤ|, k) instead.</item>
/// <item>nDCG = mean over every user with relevant items (including those without recommendations, who score 0)
/// of DCG / IDCG, DCG = Σ over hits of 1 / ln(1 + r), IDCG = Σᵢ₌₁..min(|relᵤ|, k) 1 / ln(1 + i).</item>
/// <item>Everything is 0 when no user has a hit.</item>
/// </list>
/// Recommendation lists are expected to hold distinct items.
/// </summary>
public static class RankingEvaluation
{
    /// <summary>All metrics at once.</summary>
    /// <param name="relevant">Per user, the relevant (test) items; users with an empty set are ignored.</param>
    /// <param name="recommended">Per user, recommendations best first.</param>
    /// <param name="k">The cut-off (≥ 1).</param>
    public static RankingMetrics Evaluate<TUser, TItem>(
        IReadOnlyDictionary<TUser, IReadOnlySet<TItem>> relevant,
        IReadOnlyDictionary<TUser, IReadOnlyList<TItem>> recommended,
        int k)
        where TUser : notnull
    {
        ArgumentNullException.ThrowIfNull(relevant);
        ArgumentNullException.ThrowIfNull(recommended);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int common = 0, truthUsers = 0, allHits = 0;
        double precision = 0, recall = 0, ndcg = 0, map = 0, mapAtK = 0;
        foreach (var (user, truth) in relevant)
        {
            if (truth.Count == 0)
            {
                continue;
            }

            truthUsers++;
            if (!recommended.TryGetValue(user, out var list) || list.Count == 0)
            {
                continue;
            }

            common++;
            int hits = 0;
            double dcg = 0, precisionSum = 0;
            for (var r = 1; r <= Math.Min(k, list.Count); r++)
            {
                if (truth.Contains(list[r - 1]))
                {
                    hits++;
                    dcg += 1 / Math.Log(1 + r);
                    precisionSum += (double)hits / r;
                }
            }

            allHits += hits;
            precision += (double)hits / k;
            recall += (double)hits / truth.Count;
            map += precisionSum / truth.Count;
            mapAtK += precisionSum / Math.Min(truth.Count, k);
            ndcg += dcg / IdealDcg(Math.Min(truth.Count, k));
        }

        return allHits == 0 || common == 0
            ? new RankingMetrics(k, common, 0, 0, 0, 0, 0)
            : new RankingMetrics(k, common, precision / common, recall / common, ndcg / truthUsers, map / common, mapAtK / common);
    }

    /// <summary>precision@k as Recommenders' <c>precision_at_k</c>.</summary>
    public static double PrecisionAtK<TUser, TItem>(IReadOnlyDictionary<TUser, IReadOnlySet<TItem>> relevant, IReadOnlyDictionary<TUser, IReadOnlyList<TItem>> recommended, int k)
        where TUser : notnull => Evaluate(relevant, recommended, k).Precision;

    /// <summary>recall@k as Recommenders' <c>recall_at_k</c>.</summary>
    public static double RecallAtK<TUser, TItem>(IReadOnlyDictionary<TUser, IReadOnlySet<TItem>> relevant, IReadOnlyDictionary<TUser, IReadOnlyList<TItem>> recommended, int k)
        where TUser : notnull => Evaluate(relevant, recommended, k).Recall;

    /// <summary>nDCG@k as Recommenders' <c>ndcg_at_k</c> (binary relevance; the log base cancels).</summary>
    public static double NdcgAtK<TUser, TItem>(IReadOnlyDictionary<TUser, IReadOnlySet<TItem>> relevant, IReadOnlyDictionary<TUser, IReadOnlyList<TItem>> recommended, int k)
        where TUser : notnull => Evaluate(relevant, recommended, k).Ndcg;

    /// <summary>MAP as Recommenders' <c>map</c> (normalised by the number of relevant items).</summary>
    public static double Map<TUser, TItem>(IReadOnlyDictionary<TUser, IReadOnlySet<TItem>> relevant, IReadOnlyDictionary<TUser, IReadOnlyList<TItem>> recommended, int k)
        where TUser : notnull => Evaluate(relevant, recommended, k).Map;

    /// <summary>MAP@k as Recommenders' <c>map_at_k</c> (normalised by min(relevant, k)).</summary>
    public static double MapAtK<TUser, TItem>(IReadOnlyDictionary<TUser, IReadOnlySet<TItem>> relevant, IReadOnlyDictionary<TUser, IReadOnlyList<TItem>> recommended, int k)
        where TUser : notnull => Evaluate(relevant, recommended, k).MapAtK;

    private static double IdealDcg(int n)
    {
        var sum = 0.0;
        for (var i = 1; i <= n; i++)
        {
            sum += 1 / Math.Log(1 + i);
        }

        return sum;
    }
}
