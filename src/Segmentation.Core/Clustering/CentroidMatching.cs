using System.Numerics.Tensors;

namespace Segmentation.Core.Clustering;

/// <summary>How re-clustering's new centroids map onto the previous model's segments.</summary>
/// <param name="PreviousOfNew">For each new centroid, the index of the previous centroid it continues, or -1 for a new segment.</param>
/// <param name="Retired">Previous centroids no new centroid continues.</param>
/// <param name="Distances">For each new centroid, the distance to the previous centroid it continues (NaN for new segments).</param>
public sealed record CentroidMatch(int[] PreviousOfNew, int[] Retired, double[] Distances);

/// <summary>
/// Keeps segment ids stable across re-clustering: new centroids are matched one-to-one to previous ones by the
/// assignment that minimises the total Euclidean distance (the Hungarian method, Kuhn 1955 / Munkres 1957, in the
/// O(n³) shortest-augmenting-path form). With more new centroids than old, the extra ones are new segments; with fewer,
/// the unmatched old ones are retired. A pair farther apart than <c>maxDistance</c> is not a continuation: the new
/// centroid becomes a new segment and the old one is retired.
/// </summary>
public static class CentroidMatching
{
    /// <summary>Matches <paramref name="next"/> (k' × d, row-major) to <paramref name="previous"/> (k × d).</summary>
    public static CentroidMatch Match(ReadOnlySpan<float> previous, ReadOnlySpan<float> next, int dimension, double maxDistance = double.PositiveInfinity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (previous.Length % dimension != 0 || next.Length % dimension != 0)
        {
            throw new ArgumentException($"centroid arrays must hold whole rows of {dimension} values.");
        }

        var k = previous.Length / dimension;
        var kNext = next.Length / dimension;
        var cost = new double[kNext, k];
        for (var i = 0; i < kNext; i++)
        {
            for (var j = 0; j < k; j++)
            {
                cost[i, j] = TensorPrimitives.Distance(next.Slice(i * dimension, dimension), previous.Slice(j * dimension, dimension));
            }
        }

        // Beyond maxDistance a pair is no continuation whatever its distance: capping the cost there keeps one far-off
        // centroid from pulling the assignment of the close ones.
        var capped = cost;
        if (!double.IsPositiveInfinity(maxDistance))
        {
            capped = (double[,])cost.Clone();
            for (var i = 0; i < kNext; i++)
            {
                for (var j = 0; j < k; j++)
                {
                    capped[i, j] = Math.Min(cost[i, j], maxDistance * 1.000001);
                }
            }
        }

        var assignment = Solve(capped);
        var previousOfNew = new int[kNext];
        var distances = new double[kNext];
        var used = new bool[k];
        for (var i = 0; i < kNext; i++)
        {
            var j = assignment[i];
            if (j >= 0 && cost[i, j] <= maxDistance)
            {
                previousOfNew[i] = j;
                distances[i] = cost[i, j];
                used[j] = true;
            }
            else
            {
                previousOfNew[i] = -1;
                distances[i] = double.NaN;
            }
        }

        return new CentroidMatch(previousOfNew, Enumerable.Range(0, k).Where(j => !used[j]).ToArray(), distances);
    }

    /// <summary>
    /// The minimum-cost assignment of rows to columns of a rectangular cost matrix: result[row] is its column, or -1
    /// when there are more rows than columns and the row is left over.
    /// </summary>
    public static int[] Solve(double[,] cost)
    {
        var rows = cost.GetLength(0);
        var columns = cost.GetLength(1);
        var transpose = rows > columns;
        var n = transpose ? columns : rows; // the smaller side is assigned completely
        var m = transpose ? rows : columns;
        double Cost(int i, int j) => transpose ? cost[j - 1, i - 1] : cost[i - 1, j - 1];

        // Potentials u (rows), v (columns); p[j] = row matched to column j (1-based, 0 = none); way = the path back.
        var u = new double[n + 1];
        var v = new double[m + 1];
        var p = new int[m + 1];
        var way = new int[m + 1];
        for (var i = 1; i <= n; i++)
        {
            p[0] = i;
            var j0 = 0;
            var minv = new double[m + 1];
            Array.Fill(minv, double.PositiveInfinity);
            var used = new bool[m + 1];
            do
            {
                used[j0] = true;
                var i0 = p[j0];
                var delta = double.PositiveInfinity;
                var j1 = 0;
                for (var j = 1; j <= m; j++)
                {
                    if (used[j])
                    {
                        continue;
                    }

                    var current = Cost(i0, j) - u[i0] - v[j];
                    if (current < minv[j])
                    {
                        minv[j] = current;
                        way[j] = j0;
                    }

                    if (minv[j] < delta)
                    {
                        delta = minv[j];
                        j1 = j;
                    }
                }

                for (var j = 0; j <= m; j++)
                {
                    if (used[j])
                    {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    }
                    else
                    {
                        minv[j] -= delta;
                    }
                }

                j0 = j1;
            }
            while (p[j0] != 0);

            do
            {
                var j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
            }
            while (j0 != 0);
        }

        var result = new int[rows];
        Array.Fill(result, -1);
        for (var j = 1; j <= m; j++)
        {
            if (p[j] == 0)
            {
                continue;
            }

            if (transpose)
            {
                result[j - 1] = p[j] - 1; // column side was the rows of the original
            }
            else
            {
                result[p[j] - 1] = j - 1;
            }
        }

        return result;
    }
}
