using Segmentation.Core.ValueSegments;

namespace Segmentation.Core.Tests.Growth;

public sealed class ValueSegmentationTests
{
    [Theory]
    [InlineData(5, 5, "Champions")]
    [InlineData(4, 5, "Champions")]
    [InlineData(4, 4, "Loyal")]
    [InlineData(3, 5, "Loyal")]
    [InlineData(5, 2, "Potential loyalists")]
    [InlineData(5, 1, "New")]
    [InlineData(4, 1, "Promising")]
    [InlineData(3, 2, "Need attention")]
    [InlineData(2, 4, "At risk")]
    [InlineData(1, 5, "Can't lose them")]
    [InlineData(2, 1, "Hibernating")]
    [InlineData(1, 2, "Lost")]
    public void Labels_FollowTheDocumentedMap(int r, int fm, string label) => Assert.Equal(label, RfmLabels.Of(r, fm));

    [Fact]
    public void EveryCellOfTheMapHasALabel_AndEveryLabelIsUsed()
    {
        var used = new HashSet<string>();
        for (var r = 1; r <= 5; r++)
        {
            for (var fm = 1; fm <= 5; fm++)
            {
                used.Add(RfmLabels.Of(r, fm));
            }
        }

        Assert.Equal(RfmLabels.All.Order(), used.Order());
    }

    [Fact]
    public void Quintiles_GiveTiesOneScore()
    {
        Assert.Equal([1, 2, 3, 4, 5], RfmLabels.Quintiles([10, 20, 30, 40, 50]));
        Assert.Equal([5, 4, 3, 2, 1], RfmLabels.Quintiles([10, 20, 30, 40, 50], descending: true));
        var tied = RfmLabels.Quintiles([1, 1, 1, 1, 9]);
        Assert.Single(tied.Take(4).Distinct());
    }

    [Fact]
    public void ThreeClearGroups_AreFoundAndNamed_AndIdsSurviveARerun()
    {
        var customers = Groups(seed: 1);
        var result = ValueSegmentation.Fit(customers, kMin: 2, kMax: 5);

        Assert.Equal(3, result.BestKMeans.K);
        Assert.True(result.BestKMeans.Silhouette > 0.6, $"silhouette {result.BestKMeans.Silhouette:F3}");
        Assert.True(result.BestMixture.Bic is not null);
        Assert.Contains(result.Chosen, new[] { result.BestKMeans, result.BestMixture });
        var labels = result.BestKMeans.Segments.Select(s => s.Label).ToHashSet();
        Assert.Contains("Champions", labels);
        Assert.Contains("Lost", labels);
        Assert.Equal("Champions", result.CustomerLabels[0]);

        // A rerun on other draws of the same groups, with a different seed (so a different cluster order), keeps ids.
        var first = result.BestKMeans;
        var again = ValueSegmentation.Fit(Groups(seed: 2), kMin: 3, kMax: 3, seed: 9, previous: (first.Centroids, first.Segments.Select(s => s.Id).ToArray()));
        foreach (var segment in again.BestKMeans.Segments)
        {
            Assert.Equal(first.Segments.Single(s => s.Label == segment.Label).Id, segment.Id);
        }
    }

    [Fact]
    public void Mixture_RecoversTwoGaussians()
    {
        var random = new Random(3);
        var data = new double[2_000 * 2];
        var truth = new int[2_000];
        for (var i = 0; i < 2_000; i++)
        {
            truth[i] = i % 2;
            data[i * 2] = (truth[i] * 6) + Gaussian(random);
            data[(i * 2) + 1] = (truth[i] * -4) + (0.5 * Gaussian(random));
        }

        var start = Enumerable.Range(0, 2_000).Select(i => data[i * 2] > 3 ? 1 : 0).ToArray();
        var fit = GaussianMixture.Fit(data, 2, 2, start);
        Assert.InRange(fit.Means[2], 5.8, 6.2);
        Assert.InRange(fit.Means[3], -4.1, -3.9);
        Assert.InRange(fit.Covariances[(1 * 4) + 3], 0.2, 0.3); // variance 0.25 of the second coordinate
        Assert.Equal(truth, GaussianMixture.Predict(fit, data, 2));
        var one = GaussianMixture.Fit(data, 2, 1, new int[2_000]);
        Assert.True(fit.Bic(2_000, 2) < one.Bic(2_000, 2));
    }

    // Champions (recent, many orders, big spend), one-off lost buyers, and a middle group, 200 each.
    private static List<RfmCustomer> Groups(int seed)
    {
        var random = new Random(seed);
        var customers = new List<RfmCustomer>();
        for (var i = 0; i < 600; i++)
        {
            var group = i % 3;
            var jitter = Math.Exp(0.2 * Gaussian(random));
            customers.Add(group switch
            {
                0 => new RfmCustomer($"c{i}", 2 * jitter, 30 + random.Next(10), 3_000 * jitter),
                1 => new RfmCustomer($"c{i}", 300 * jitter, 1, 15 * jitter),
                _ => new RfmCustomer($"c{i}", 40 * jitter, 4 + random.Next(3), 250 * jitter),
            });
        }

        return customers;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
