using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests;

public sealed class KMeansTests
{
    /// <summary>N points around K well-separated centres in D dimensions, with their true labels.</summary>
    private static (float[] Data, int[] Labels) Blobs(int n, int k, int d, int seed, double spread = 0.3)
    {
        var random = new Random(seed);
        var centres = new double[k * d];
        for (var i = 0; i < centres.Length; i++)
        {
            centres[i] = (random.NextDouble() * 20) - 10;
        }

        var data = new float[n * d];
        var labels = new int[n];
        for (var i = 0; i < n; i++)
        {
            labels[i] = i % k;
            for (var j = 0; j < d; j++)
            {
                // Box-Muller normal noise.
                var noise = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                data[(i * d) + j] = (float)(centres[(labels[i] * d) + j] + (spread * noise));
            }
        }

        return (data, labels);
    }

    [Fact]
    public void Fit_RecoversKnownClusters()
    {
        var (data, labels) = Blobs(n: 3_000, k: 6, d: 8, seed: 3);
        var result = KMeans.Fit(data, 8, new KMeansOptions { K = 6, Seed = 11 });
        Assert.True(ClusterMetrics.AdjustedRandIndex(labels, result.Assignments) >= 0.95);
    }

    [Fact]
    public void Fit_SameSeed_SameResult()
    {
        var (data, _) = Blobs(n: 2_000, k: 5, d: 4, seed: 5, spread: 2);
        var a = KMeans.Fit(data, 4, new KMeansOptions { K = 5, Seed = 7 });
        var b = KMeans.Fit(data, 4, new KMeansOptions { K = 5, Seed = 7 });
        Assert.Equal(a.Centroids, b.Centroids);
        Assert.Equal(a.Assignments, b.Assignments);
        Assert.Equal(a.Inertia, b.Inertia);
    }

    [Fact]
    public void MiniBatch_ConvergesWithinTwoPercentOfBatchInertia()
    {
        var (data, _) = Blobs(n: 5_000, k: 8, d: 6, seed: 9, spread: 1);
        var initial = KMeans.InitializePlusPlus(data, 6, 8, new Random(2));
        var batch = KMeans.Lloyd(data, 6, initial, new KMeansOptions { K = 8 });

        var streaming = new MiniBatchKMeans(initial, 6);
        var random = new Random(4);
        for (var step = 0; step < 300; step++)
        {
            streaming.UpdateBatch(data, Enumerable.Range(0, 100).Select(_ => random.Next(5_000)).ToList());
        }

        var streamingInertia = KMeans.Inertia(data, 6, streaming.Snapshot());
        Assert.True(streamingInertia <= batch.Inertia * 1.02, $"streaming {streamingInertia:F1} vs batch {batch.Inertia:F1}");
    }

    [Fact]
    public void MiniBatch_SinglePointUpdates_MoveOnlyTheNearestCentroid()
    {
        var model = new MiniBatchKMeans([0, 0, 10, 10], 2);
        Assert.Equal(0, model.Update([1, 1]));
        Assert.Equal(new float[] { 1, 1, 10, 10 }, model.Snapshot());
        Assert.Equal(1, model.Update([12, 12]));
        Assert.Equal(0, model.Update([3, 3]));
        Assert.Equal(new float[] { 2, 2, 12, 12 }, model.Snapshot());
        Assert.Equal([2L, 1L], model.Counts);
    }

    [Fact]
    public void Lloyd_RepairsEmptyClusters()
    {
        // Two far centroids start on top of each other: one would be empty forever without repair.
        float[] data = [0, 0, 0, 1, 10, 10, 10, 11];
        var result = KMeans.Lloyd(data, 2, [0, 0, 0, 0], new KMeansOptions { K = 2 });
        Assert.Equal(2, result.Assignments.Distinct().Count());
        Assert.Equal(1.0, result.Inertia, 6);
    }

    [Fact]
    public void Nearest_ReportsTheMarginToTheSecondCentroid()
    {
        var (cluster, distance, second) = KMeans.Nearest([1, 0.5f], [0, 0, 4, 0, 1, 1]);
        Assert.Equal(2, cluster);
        Assert.Equal(0.25f, distance, 5);
        Assert.Equal(1.25f, second, 5);
        Assert.Equal(4f, KMeans.SquaredDistance([0, 0], [2, 0]));
    }

    [Fact]
    public void InvalidK_IsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => KMeans.Fit([1, 2], 1, new KMeansOptions { K = 3 }));

    [Fact]
    public void AdjustedRandIndex_IgnoresLabelNames_AndIsNearZeroForChance()
    {
        Assert.Equal(1, ClusterMetrics.AdjustedRandIndex([0, 0, 1, 1, 2, 2], [5, 5, 9, 9, 7, 7]), 9);
        var random = new Random(1);
        var a = Enumerable.Range(0, 10_000).Select(_ => random.Next(4)).ToArray();
        var b = Enumerable.Range(0, 10_000).Select(_ => random.Next(4)).ToArray();
        Assert.InRange(ClusterMetrics.AdjustedRandIndex(a, b), -0.02, 0.02);
    }
}
