using Segmentation.Core.Recommendations.Evaluation;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>The metrics against examples worked out by hand from Microsoft Recommenders' definitions.</summary>
public sealed class RankingEvaluationTests
{
    private static readonly double s_ln2 = Math.Log(2), s_ln3 = Math.Log(3), s_ln4 = Math.Log(4);

    private static Dictionary<string, IReadOnlySet<int>> Truth(params (string User, int[] Items)[] users) =>
        users.ToDictionary(u => u.User, u => (IReadOnlySet<int>)u.Items.ToHashSet());

    private static Dictionary<string, IReadOnlyList<int>> Lists(params (string User, int[] Items)[] users) =>
        users.ToDictionary(u => u.User, u => (IReadOnlyList<int>)u.Items);

    // a: relevant {1,2,3}, top 3 = [1,4,2]: hits at ranks 1 and 3.
    // b: relevant {7},     top 3 = [8,9,7]: hit at rank 3.
    // c: relevant {5},     no recommendations: not a common user; counts (as 0) only in nDCG.
    // d: relevant 101..112 (12 items), top 3 = [101,200,102]: hits at ranks 1 and 3; |rel| > k separates MAP from MAP@k.
    private static readonly Dictionary<string, IReadOnlySet<int>> s_truth = Truth(
        ("a", [1, 2, 3]), ("b", [7]), ("c", [5]), ("d", Enumerable.Range(101, 12).ToArray()));

    private static readonly Dictionary<string, IReadOnlyList<int>> s_lists = Lists(
        ("a", [1, 4, 2, 5]), ("b", [8, 9, 7]), ("d", [101, 200, 102]), ("e", [1, 2, 3]));

    [Fact]
    public void Precision_DividesHitsByK_OverCommonUsers()
    {
        // (2/3 + 1/3 + 2/3) / 3 common users (a, b, d; c has no list, e no truth).
        Assert.Equal(5.0 / 9, RankingEvaluation.PrecisionAtK(s_truth, s_lists, 3), 12);
        Assert.Equal(3, RankingEvaluation.Evaluate(s_truth, s_lists, 3).Users);
    }

    [Fact]
    public void Recall_DividesHitsByRelevantCount()
    {
        Assert.Equal(((2.0 / 3) + 1 + (2.0 / 12)) / 3, RankingEvaluation.RecallAtK(s_truth, s_lists, 3), 12);
    }

    [Fact]
    public void Ndcg_UsesNaturalLogDiscounts_AndAveragesOverEveryTruthUser()
    {
        var a = ((1 / s_ln2) + (1 / s_ln4)) / ((1 / s_ln2) + (1 / s_ln3) + (1 / s_ln4));
        var b = (1 / s_ln4) / (1 / s_ln2);
        var d = a; // Same hit ranks, and min(12, 3) = 3 ideal hits.
        Assert.Equal((a + b + 0 + d) / 4, RankingEvaluation.NdcgAtK(s_truth, s_lists, 3), 12);
    }

    [Fact]
    public void Map_NormalisesByRelevantCount_MapAtK_ByMinOfRelevantAndK()
    {
        // Sum of precisions at hits: a = 1/1 + 2/3, b = 1/3, d = 1/1 + 2/3.
        var a = 1 + (2.0 / 3);
        var b = 1.0 / 3;
        var d = 1 + (2.0 / 3);
        Assert.Equal(((a / 3) + (b / 1) + (d / 12)) / 3, RankingEvaluation.Map(s_truth, s_lists, 3), 12);
        Assert.Equal(((a / 3) + (b / 1) + (d / 3)) / 3, RankingEvaluation.MapAtK(s_truth, s_lists, 3), 12);
    }

    [Fact]
    public void ShortLists_AreStillDividedByK()
    {
        var m = RankingEvaluation.Evaluate(Truth(("u", [1, 2])), Lists(("u", [1])), 10);
        Assert.Equal(0.1, m.Precision, 12);
        Assert.Equal(0.5, m.Recall, 12);
        Assert.Equal(1 / s_ln2 / ((1 / s_ln2) + (1 / s_ln3)), m.Ndcg, 12);
    }

    [Fact]
    public void NoHitAnywhere_GivesZeros()
    {
        var m = RankingEvaluation.Evaluate(Truth(("u", [1])), Lists(("u", [2, 3])), 2);
        Assert.Equal(new RankingMetrics(2, 1, 0, 0, 0, 0, 0), m);
    }

    [Fact]
    public void PerfectLists_ScoreOne()
    {
        var m = RankingEvaluation.Evaluate(Truth(("u", [1, 2]), ("v", [3])), Lists(("u", [2, 1]), ("v", [3])), 1);
        Assert.Equal(1, m.Precision, 12);
        Assert.Equal(1, m.Ndcg, 12);
        Assert.Equal(1, m.MapAtK, 12);
        Assert.Equal(0.75, m.Recall, 12); // u: 1 of 2 relevant in the top 1.
    }

    [Fact]
    public void KBelowOne_IsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RankingEvaluation.Evaluate(s_truth, s_lists, 0));
}
