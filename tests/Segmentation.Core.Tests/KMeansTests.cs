using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests;

public sealed class KMeansTests
{
    /// <summary>N points around K well-separated centres in D dimensions, with their true labels.</summary>
    internal static (float[] Data, int[] Labels) Blobs(int n, int k, int d, int seed, double spread = 0.3)
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
    public void Fit_KMeansParallel_RecoversKnownClusters()
    {
        var (data, labels) = Blobs(n: 3_001, k: 7, d: 13, seed: 12);
        var result = KMeans.Fit(data, 13, new KMeansOptions { K = 7, Seed = 5, Initialization = KMeansInitialization.KMeansParallel });
        Assert.True(ClusterMetrics.AdjustedRandIndex(labels, result.Assignments) >= 0.95);
        Assert.Equal(7, result.Centroids.Length / 13);
    }

    [Theory]
    [InlineData(KMeansInitialization.KMeansPlusPlus)]
    [InlineData(KMeansInitialization.KMeansParallel)]
    public void Fit_SameSeed_SameResult_WhateverTheParallelism(KMeansInitialization initialization)
    {
        // 20,000 points: several slices, so threads really split the work.
        var (data, _) = Blobs(n: 20_000, k: 12, d: 10, seed: 6, spread: 4);
        KMeansResult Run(int threads) => KMeans.Fit(data, 10, new KMeansOptions
        {
            K = 12,
            Seed = 3,
            MaxIterations = 30,
            Initialization = initialization,
            MaxDegreeOfParallelism = threads,
        });

        var one = Run(1);
        foreach (var threads in new[] { 2, 3, 8 })
        {
            var other = Run(threads);
            Assert.Equal(one.Centroids, other.Centroids);
            Assert.Equal(one.Assignments, other.Assignments);
            Assert.Equal(one.Inertia, other.Inertia);
            Assert.Equal(one.Iterations, other.Iterations);
        }
    }

    [Fact]
    public void Lloyd_MatchesAPlainReferenceImplementation()
    {
        var (data, _) = Blobs(n: 5_000, k: 9, d: 6, seed: 13, spread: 3);
        const int d = 6, k = 9;
        var initial = data.AsSpan(0, k * d).ToArray();
        var result = KMeans.Lloyd(data, d, initial, new KMeansOptions { K = k, MaxIterations = 5, Tolerance = -1 });
        Assert.Equal(5, result.Iterations);

        // Textbook Lloyd: nearest by plain distance, mean in double.
        var centroids = (float[])initial.Clone();
        for (var iteration = 0; iteration < 5; iteration++)
        {
            var sums = new double[k * d];
            var counts = new int[k];
            for (var i = 0; i < 5_000; i++)
            {
                var c = KMeans.Nearest(data.AsSpan(i * d, d), centroids).Cluster;
                counts[c]++;
                for (var j = 0; j < d; j++)
                {
                    sums[(c * d) + j] += data[(i * d) + j];
                }
            }

            for (var c = 0; c < k; c++)
            {
                Assert.True(counts[c] > 0);
                for (var j = 0; j < d; j++)
                {
                    centroids[(c * d) + j] = (float)(sums[(c * d) + j] / counts[c]);
                }
            }
        }

        for (var i = 0; i < centroids.Length; i++)
        {
            Assert.Equal(centroids[i], result.Centroids[i], 1e-3f);
        }

        Assert.Equal(KMeans.Inertia(data, d, centroids), result.Inertia, result.Inertia * 1e-5);
        Assert.Equal(result.Inertia, ClusterMetrics.Inertia(data, d, result.Centroids, result.Assignments), result.Inertia * 1e-5);
    }

    [Fact]
    public void KMeansParallel_QualityComparableToPlusPlus()
    {
        var (data, labels) = Blobs(n: 20_000, k: 25, d: 8, seed: 17, spread: 1.5);
        const int d = 8, k = 25;
        var plusPlus = KMeans.InitializePlusPlus(data, d, k, new Random(9));
        var parallel = KMeans.InitializeKMeansParallel(data, d, new KMeansOptions { K = k, Seed = 9 });
        var plusPlusSeedInertia = KMeans.Inertia(data, d, plusPlus);
        var parallelSeedInertia = KMeans.Inertia(data, d, parallel);
        Assert.True(parallelSeedInertia <= plusPlusSeedInertia * 1.5, $"seeds: k-means|| {parallelSeedInertia:F0} vs k-means++ {plusPlusSeedInertia:F0}");

        var options = new KMeansOptions { K = k };
        var fromPlusPlus = KMeans.Lloyd(data, d, plusPlus, options);
        var fromParallel = KMeans.Lloyd(data, d, parallel, options);
        Assert.True(fromParallel.Inertia <= fromPlusPlus.Inertia * 1.02, $"k-means|| {fromParallel.Inertia:F0} vs k-means++ {fromPlusPlus.Inertia:F0}");
        var ariParallel = ClusterMetrics.AdjustedRandIndex(labels, fromParallel.Assignments);
        var ariPlusPlus = ClusterMetrics.AdjustedRandIndex(labels, fromPlusPlus.Assignments);
        Assert.True(ariParallel >= ariPlusPlus - 0.05, $"ARI k-means|| {ariParallel:F3}, k-means++ {ariPlusPlus:F3}; inertia {fromParallel.Inertia:F0} vs {fromPlusPlus.Inertia:F0}");
    }

    [Fact]
    public void Tolerance_NegativeRunsEveryIteration_ZeroStopsAtConvergence()
    {
        var (data, _) = Blobs(n: 2_000, k: 3, d: 2, seed: 1);
        var initial = data.AsSpan(0, 6).ToArray();
        Assert.Equal(40, KMeans.Lloyd(data, 2, initial, new KMeansOptions { K = 3, MaxIterations = 40, Tolerance = -1 }).Iterations);
        Assert.True(KMeans.Lloyd(data, 2, initial, new KMeansOptions { K = 3, MaxIterations = 40, Tolerance = 0 }).Iterations < 40);
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
