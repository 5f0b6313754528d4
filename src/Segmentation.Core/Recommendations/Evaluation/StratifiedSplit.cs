namespace Segmentation.Core.Recommendations.Evaluation;

/// <summary>
/// The random stratified split of Microsoft Recommenders' <c>python_stratified_split(data, ratio, filter_by, seed)</c>,
/// reproduced draw for draw: numpy's MT19937 seeded with <c>seed</c> gives every row, in input order, a uniform
/// number; within each group (user for <c>filter_by="user"</c>, item for <c>"item"</c>) rows are ordered by it; the
/// row of rank r out of n goes to training when r / n ≤ ratio, else to test. Given rows in the order of the original
/// file, the same seed yields the same split as the Python tool.
/// </summary>
public static class StratifiedSplit
{
    /// <summary>Splits <paramref name="rows"/> per group (e.g. per user); both parts are ordered by group, then by the random draw.</summary>
    public static (List<T> Train, List<T> Test) ByGroup<T, TGroup>(IReadOnlyList<T> rows, Func<T, TGroup> groupOf, double ratio = 0.75, uint seed = 42)
        where TGroup : notnull
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (!(ratio > 0 && ratio < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "ratio must lie strictly between 0 and 1.");
        }

        var random = new NumpyRandom(seed);
        var draws = new double[rows.Count];
        for (var i = 0; i < draws.Length; i++)
        {
            draws[i] = random.NextDouble();
        }

        var groups = new SortedDictionary<TGroup, List<int>>();
        for (var i = 0; i < rows.Count; i++)
        {
            var group = groupOf(rows[i]);
            if (!groups.TryGetValue(group, out var list))
            {
                groups.Add(group, list = []);
            }

            list.Add(i);
        }

        var train = new List<T>((int)(rows.Count * ratio) + groups.Count);
        var test = new List<T>(rows.Count - train.Capacity + groups.Count);
        foreach (var indices in groups.Values)
        {
            // Stable: equal draws keep input order, as pandas' multi-column sort does.
            var ordered = indices.OrderBy(i => draws[i]).ToArray();
            for (var r = 1; r <= ordered.Length; r++)
            {
                ((double)r / ordered.Length <= ratio ? train : test).Add(rows[ordered[r - 1]]);
            }
        }

        return (train, test);
    }
}
