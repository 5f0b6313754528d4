using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests;

public sealed class ClusterMetricsTests
{
    // One dimension: {0, 2} and {10, 12}; centroids 1 and 11.
    private static readonly float[] s_line = [0, 2, 10, 12];
    private static readonly int[] s_lineLabels = [0, 0, 1, 1];

    [Fact]
    public void Inertia_AndSizes_HandComputed()
    {
        Assert.Equal(4.0, ClusterMetrics.Inertia(s_line, 1, [1, 11], s_lineLabels), 9);
        Assert.Equal(121 + 81 + 81 + 121, ClusterMetrics.Inertia(s_line, 1, [1, 11], [1, 1, 0, 0]), 9);
        Assert.Equal([2, 2, 0], ClusterMetrics.ClusterSizes(s_lineLabels, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClusterMetrics.ClusterSizes([0, 3], 3));
    }

    [Fact]
    public void Silhouette_HandComputed()
    {
        // Point 0: a = 2, b = mean(10, 12) = 11, s = 9/11; point 2: a = 2, b = mean(8, 10) = 9, s = 7/9; symmetric for 10, 12.
        Assert.Equal(((9.0 / 11) + (7.0 / 9)) / 2, ClusterMetrics.Silhouette(s_line, 1, s_lineLabels), 6);

        // A point alone in its cluster scores 0; point 0: a = 1, b = 5 → 0.8; point 1: a = 1, b = 4 → 0.75.
        Assert.Equal((0.8 + 0.75 + 0) / 3, ClusterMetrics.Silhouette([0, 1, 5], 1, [7, 7, 3]), 6);
    }

    [Fact]
    public void DaviesBouldin_HandComputed()
    {
        // s = 1 for both clusters, centroids 10 apart: (1 + 1) / 10.
        Assert.Equal(0.2, ClusterMetrics.DaviesBouldin(s_line, 1, s_lineLabels), 6);

        // Three clusters on a line at 0, 4, 20 with scatter 1, 1, 2: cluster 0 → max(2/4, 3/20) = 0.5; cluster 1 → max(0.5, 3/16);
        // cluster 2 → max(3/20, 3/16) = 0.1875.
        float[] data = [-1, 1, 3, 5, 18, 22];
        Assert.Equal((0.5 + 0.5 + 0.1875) / 3, ClusterMetrics.DaviesBouldin(data, 1, [0, 0, 1, 1, 2, 2]), 6);
    }

    [Fact]
    public void Metrics_MatchScikitLearn()
    {
        // Reference values from scikit-learn 1.2.1 (Debian python3-sklearn), computed once on the same points in float64:
        //   silhouette_score(X, a), davies_bouldin_score(X, a), and the same for b, with X, a, b built as below.
        const int n = 60, d = 3;
        var data = new float[n * d];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < d; j++)
            {
                data[(i * d) + j] = (float)((i % 3 * 4.0) + (Math.Sin((i * 1.3) + (j * 0.7)) * 1.5) + j);
            }
        }

        var a = Enumerable.Range(0, n).Select(i => i % 3).ToArray();
        var b = Enumerable.Range(0, n).Select(i => i * 7 % 4).ToArray();
        Assert.Equal(0.6173961320622411, ClusterMetrics.Silhouette(data, d, a), 5);
        Assert.Equal(0.5222564479888914, ClusterMetrics.DaviesBouldin(data, d, a), 5);
        Assert.Equal(-0.06970935204708115, ClusterMetrics.Silhouette(data, d, b), 5);
        Assert.Equal(41.493438115645674, ClusterMetrics.DaviesBouldin(data, d, b), 3);
    }

    [Fact]
    public void Silhouette_Sampled_IsSeededAndCloseToExact()
    {
        var (data, labels) = KMeansTests.Blobs(n: 3_000, k: 4, d: 5, seed: 21, spread: 3);
        var exact = ClusterMetrics.Silhouette(data, 5, labels, sampleSize: 3_000);
        var sampled = ClusterMetrics.Silhouette(data, 5, labels, sampleSize: 800, seed: 4);
        Assert.Equal(sampled, ClusterMetrics.Silhouette(data, 5, labels, sampleSize: 800, seed: 4));
        Assert.NotEqual(sampled, ClusterMetrics.Silhouette(data, 5, labels, sampleSize: 800, seed: 5));
        Assert.InRange(sampled - exact, -0.03, 0.03);
    }

    [Fact]
    public void Metrics_RejectDegenerateLabelings()
    {
        Assert.Throws<ArgumentException>(() => ClusterMetrics.Silhouette(s_line, 1, [1, 1, 1, 1]));
        Assert.Throws<ArgumentException>(() => ClusterMetrics.DaviesBouldin(s_line, 1, [0, 1, 2, 3]));
        Assert.Throws<ArgumentException>(() => ClusterMetrics.Inertia(s_line, 1, [1, 11], [0, 1]));
    }

    [Fact]
    public void BetterClusterings_ScoreBetter()
    {
        var (data, labels) = KMeansTests.Blobs(n: 1_200, k: 4, d: 3, seed: 8);
        var shuffled = labels.Select((l, i) => i % 2 == 0 ? l : (l + 1) % 4).ToArray();
        Assert.True(ClusterMetrics.Silhouette(data, 3, labels) > ClusterMetrics.Silhouette(data, 3, shuffled));
        Assert.True(ClusterMetrics.DaviesBouldin(data, 3, labels) < ClusterMetrics.DaviesBouldin(data, 3, shuffled));
    }
}
