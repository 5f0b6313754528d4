using Segmentation.Core.Statistics;

namespace Segmentation.Core.Tests.Growth;

public sealed class StatisticsTests
{
    [Fact]
    public void Auc_IsTheShareOfPositiveNegativePairsRankedRight_TiesCountingHalf()
    {
        // Pairs (pos, neg): (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, 0.1) right, (0.8, 0.4) right: 3 of 4.
        Assert.Equal(0.75, BinaryClassification.Auc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 12);
        Assert.Equal(0.5, BinaryClassification.Auc([0.5, 0.5], [false, true]), 12);
        Assert.True(double.IsNaN(BinaryClassification.Auc([0.5, 0.7], [true, true])));
        Assert.Throws<ArgumentException>(() => BinaryClassification.Auc([0.5], [true, false]));
    }

    [Fact]
    public void Brier_AndReliability_MeasureCalibration()
    {
        Assert.Equal(((0.1 * 0.1) + (0.2 * 0.2)) / 2, BinaryClassification.Brier([0.9, 0.2], [true, false]), 12);
        var table = BinaryClassification.Reliability([0.05, 0.07, 0.95, 1.0], [false, true, true, true]);
        Assert.Equal(2, table.Count);
        Assert.Equal(2, table[0].Count);
        Assert.Equal(0.5, table[0].ObservedRate, 12);
        Assert.Equal(0.975, table[1].MeanPredicted, 12);
    }

    [Fact]
    public void Distributions_MatchTabulatedValues()
    {
        Assert.Equal(0.975, Distributions.NormalCdf(1.959964), 6);
        Assert.Equal(0.5, Distributions.NormalCdf(0), 7);
        Assert.Equal(1.959964, Distributions.NormalQuantile(0.975), 5);
        Assert.Equal(-2.326348, Distributions.NormalQuantile(0.01), 5);
        Assert.Equal(0.05, Distributions.ChiSquareSurvival(3.841459, 1), 6);
        Assert.Equal(0.05, Distributions.ChiSquareSurvival(5.991465, 2), 6);
        Assert.Equal(0.01, Distributions.ChiSquareSurvival(11.344867, 3), 6);
        Assert.Equal(1, Distributions.ChiSquareSurvival(0, 4));
    }
}
