using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests.Clustering;

public sealed class CentroidMatchingTests
{
    [Theory]
    [InlineData(3, 3)]
    [InlineData(4, 6)]
    [InlineData(6, 4)]
    [InlineData(1, 5)]
    [InlineData(5, 1)]
    public void Solve_FindsTheMinimumTotalCost_AsBruteForceDoes(int rows, int columns)
    {
        var random = new Random(rows * 10 + columns);
        for (var trial = 0; trial < 20; trial++)
        {
            var cost = new double[rows, columns];
            for (var i = 0; i < rows; i++)
            {
                for (var j = 0; j < columns; j++)
                {
                    cost[i, j] = Math.Round(random.NextDouble() * 100, 1);
                }
            }

            var assignment = CentroidMatching.Solve(cost);
            Assert.Equal(Math.Min(rows, columns), assignment.Count(a => a >= 0));
            Assert.Equal(assignment.Count(a => a >= 0), assignment.Where(a => a >= 0).Distinct().Count());
            var total = Enumerable.Range(0, rows).Where(i => assignment[i] >= 0).Sum(i => cost[i, assignment[i]]);
            Assert.Equal(BruteForce(cost), total, 6);
        }
    }

    [Fact]
    public void Match_PermutedAndNudgedCentroids_KeepTheirIds()
    {
        var random = new Random(5);
        const int K = 12, D = 8;
        var previous = new float[K * D];
        for (var i = 0; i < previous.Length; i++)
        {
            previous[i] = (float)(random.NextDouble() * 10);
        }

        var permutation = Enumerable.Range(0, K).OrderBy(_ => random.Next()).ToArray();
        var next = new float[K * D];
        for (var i = 0; i < K; i++)
        {
            for (var d = 0; d < D; d++)
            {
                next[(i * D) + d] = previous[(permutation[i] * D) + d] + (float)((random.NextDouble() - 0.5) * 0.1);
            }
        }

        var match = CentroidMatching.Match(previous, next, D);
        Assert.Equal(permutation, match.PreviousOfNew);
        Assert.Empty(match.Retired);
        Assert.All(match.Distances, d => Assert.InRange(d, 0, 0.2));
    }

    [Fact]
    public void Match_MoreOrFewerCentroids_AndFarPairs_AreNewOrRetired()
    {
        float[] previous = [0, 0, 10, 10, 20, 20];
        float[] grown = [10.1f, 10, 0, 0.2f, 20, 19.9f, 50, 50];
        var growth = CentroidMatching.Match(previous, grown, 2);
        Assert.Equal([1, 0, 2, -1], growth.PreviousOfNew);
        Assert.Empty(growth.Retired);
        Assert.True(double.IsNaN(growth.Distances[3]));

        float[] shrunk = [19.5f, 20];
        var shrink = CentroidMatching.Match(previous, shrunk, 2);
        Assert.Equal([2], shrink.PreviousOfNew);
        Assert.Equal([0, 1], shrink.Retired);

        float[] moved = [0, 0.1f, 100, 100, 20, 20];
        var far = CentroidMatching.Match(previous, moved, 2, maxDistance: 5);
        Assert.Equal([0, -1, 2], far.PreviousOfNew);
        Assert.Equal([1], far.Retired);
    }

    [Fact]
    public void Match_RejectsPartialRows()
    {
        Assert.Throws<ArgumentException>(() => CentroidMatching.Match(new float[5], new float[4], 2));
    }

    private static double BruteForce(double[,] cost)
    {
        var rows = cost.GetLength(0);
        var columns = cost.GetLength(1);
        var best = double.PositiveInfinity;
        var used = new bool[Math.Max(rows, columns)];

        void Search(int row, int assigned, double sum)
        {
            if (sum >= best)
            {
                return;
            }

            if (assigned == Math.Min(rows, columns))
            {
                best = sum;
                return;
            }

            if (row == rows)
            {
                return;
            }

            for (var j = 0; j < columns; j++)
            {
                if (!used[j])
                {
                    used[j] = true;
                    Search(row + 1, assigned + 1, sum + cost[row, j]);
                    used[j] = false;
                }
            }

            if (rows - row > Math.Min(rows, columns) - assigned)
            {
                Search(row + 1, assigned, sum); // this row left over
            }
        }

        Search(0, 0, 0);
        return best;
    }
}
