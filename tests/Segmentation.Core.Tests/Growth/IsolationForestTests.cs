using Segmentation.Core.Anomalies;

namespace Segmentation.Core.Tests.Growth;

public sealed class IsolationForestTests
{
    [Fact]
    public void AveragePath_IsTheBinarySearchTreeConstant()
    {
        Assert.Equal(0, IsolationForest.AveragePath(1));
        Assert.Equal(1, IsolationForest.AveragePath(2));
        Assert.Equal(10.2448, IsolationForest.AveragePath(256), 3); // Liu et al.'s c(256)
    }

    [Fact]
    public void Outliers_ScoreHigh_InliersLow_AndTheOutlyingFeatureLeadsTheExplanation()
    {
        var random = new Random(5);
        const int n = 2_000;
        var data = new double[n * 3];
        for (var i = 0; i < n * 3; i++)
        {
            data[i] = Gaussian(random);
        }

        var forest = IsolationForest.Fit(data, 3, ["a", "b", "c"], new IsolationForestOptions { Seed = 2 });
        var inlier = forest.Score([0.1, -0.2, 0.0]);
        var (outlier, contributions) = forest.Explain([0.0, 8.0, 0.1]);

        Assert.True(outlier > 0.55 && outlier > inlier + 0.1, $"outlier {outlier:F3}, inlier {inlier:F3}");
        Assert.True(inlier < 0.5, $"inlier {inlier:F3}");
        Assert.Equal("b", contributions[0].Feature);
        Assert.Equal(1, contributions.Sum(c => c.Share), 9);
        Assert.Equal(outlier, forest.Score([0.0, 8.0, 0.1]), 12);
    }

    [Fact]
    public void SameSeed_SameForest()
    {
        var data = Enumerable.Range(0, 600).Select(i => (double)(i % 37)).ToArray();
        var a = IsolationForest.Fit(data, 2, ["x", "y"], new IsolationForestOptions { Seed = 4 });
        var b = IsolationForest.Fit(data, 2, ["x", "y"], new IsolationForestOptions { Seed = 4 });
        Assert.Equal(a.Score([3, 30]), b.Score([3, 30]));
        Assert.Throws<ArgumentException>(() => IsolationForest.Fit(data, 2, ["x"]));
    }

    [Fact]
    public void WrittenForest_ReadsBackScoringTheSame_AndDamagedBytesAreRefusedWithAReason()
    {
        var data = Enumerable.Range(0, 900).Select(i => (double)((i * 7) % 41)).ToArray();
        var forest = IsolationForest.Fit(data, 3, ["x", "y", "z"], new IsolationForestOptions { Seed = 9 });
        using var stream = new MemoryStream();
        forest.Write(stream);
        var bytes = stream.ToArray();

        var read = IsolationForest.Read(new MemoryStream(bytes));
        Assert.Equal(["x", "y", "z"], read.Features);
        Assert.Equal(forest.Explain([1, 40, 3]), read.Explain([1, 40, 3]), (a, b) => a.Score == b.Score && a.Contributions.SequenceEqual(b.Contributions));

        Assert.Contains("ends early", Assert.Throws<InvalidDataException>(() => IsolationForest.Read(new MemoryStream(bytes[..(bytes.Length / 2)]))).Message, StringComparison.Ordinal);
        var otherFormat = (byte[])bytes.Clone();
        otherFormat[0] = 7;
        Assert.Contains("format 7", Assert.Throws<InvalidDataException>(() => IsolationForest.Read(new MemoryStream(otherFormat))).Message, StringComparison.Ordinal);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
