using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests.Clustering;

/// <summary>Choosing k honestly: silhouette with a minimum gain, a minimum segment size, a warning without structure, unique labels.</summary>
public sealed class KSelectionTests
{
    [Fact]
    public void FlatSilhouettes_RisingSlowlyWithK_DoNotDriftToTheTopOfTheRange_AndWarn()
    {
        // The case: 43 users, silhouette 0.02 to 0.05 and rising with k; the top of the range used to win.
        var scores = Enumerable.Range(2, 7).Select(k => (k, 0.021 + (0.0045 * (k - 2)), (43L / k) - 1)).ToList();
        var choice = KSelection.Choose(scores, 43, skipped: [9, 10, 11, 12]);

        Assert.Equal(5, choice.MinimumSegmentSize);
        Assert.Equal(8, KSelection.LargestSupportedK(43));
        Assert.Equal(2, choice.K); // below 0.25 the differences are noise: the smallest eligible k
        Assert.Contains(choice.Warnings, w => w.StartsWith("no clear cluster structure: the best silhouette is 0.048", StringComparison.Ordinal));
        Assert.Contains(choice.Warnings, w => w.StartsWith("k = 8–12 not eligible", StringComparison.Ordinal)); // k = 8 leaves 4 users
        Assert.Contains(choice.Warnings, w => w.StartsWith("k = 2, the smallest eligible, chosen over k = 7", StringComparison.Ordinal));
        Assert.Equal(7, choice.Candidates.Count);
        Assert.False(choice.Candidates.Single(c => c.K == 8).Eligible);
    }

    [Fact]
    public void WithStructure_ALargerK_MustGainAtLeastTheMinimum()
    {
        var choice = KSelection.Choose([(2, 0.40, 40), (3, 0.55, 30), (4, 0.565, 20), (5, 0.50, 12)], 100, []);

        Assert.Equal(3, choice.K); // k = 4 adds 0.015, less than 0.02
        Assert.Contains(choice.Warnings, w => w.StartsWith("k = 3 (silhouette 0.550) chosen over k = 4 (0.565)", StringComparison.Ordinal));
    }

    [Fact]
    public void AClearlyBetterK_IsChosen_WithoutAStructureWarning()
    {
        var choice = KSelection.Choose([(2, 0.30, 40), (3, 0.62, 30), (4, 0.55, 20), (5, 0.61, 12)], 100, []);

        Assert.Equal(3, choice.K);
        Assert.Empty(choice.Warnings);
        Assert.Contains("minimum gain", choice.Criterion, StringComparison.Ordinal);
    }

    [Fact]
    public void ASegmentUnderTheMinimumSize_RulesTheKOut_EvenWithTheBestSilhouette()
    {
        var choice = KSelection.Choose([(2, 0.40, 50), (3, 0.70, 2)], 100, []);

        Assert.Equal(2, choice.K);
        Assert.Contains(choice.Warnings, w => w.Contains("k = 3 not eligible", StringComparison.Ordinal));
    }

    [Fact]
    public void RealKMeans_ThreeSeparateGroups_ChoosesThree_AndUniformPoints_WarnAndStayLow()
    {
        var random = new Random(5);
        const int dimensions = 8;
        var grouped = new float[90 * dimensions];
        for (var i = 0; i < 90; i++)
        {
            // Three tight groups around three axes.
            grouped[(i * dimensions) + (i % 3)] = 1;
            for (var d = 0; d < dimensions; d++)
            {
                grouped[(i * dimensions) + d] += (float)(random.NextDouble() - 0.5) * 0.1f;
            }
        }

        var uniform = new float[90 * dimensions];
        for (var i = 0; i < uniform.Length; i++)
        {
            uniform[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var structured = ChooseFromKMeans(grouped, dimensions);
        Assert.Equal(3, structured.K);
        Assert.DoesNotContain(structured.Warnings, w => w.StartsWith("no clear cluster structure", StringComparison.Ordinal));

        var flat = ChooseFromKMeans(uniform, dimensions);
        Assert.Contains(flat.Warnings, w => w.StartsWith("no clear cluster structure", StringComparison.Ordinal));
        Assert.True(flat.K < flat.Candidates.Max(c => c.K), $"k = {flat.K}: drifted to the top of the range");
    }

    private static KChoice ChooseFromKMeans(float[] data, int dimensions)
    {
        var users = data.Length / dimensions;
        var scores = new List<(int, double, long)>();
        for (var k = 2; k <= Math.Min(12, KSelection.LargestSupportedK(users)); k++)
        {
            var fit = KMeans.Fit(data, dimensions, new KMeansOptions { K = k, Seed = 1 });
            var sizes = fit.Assignments.GroupBy(a => a).Select(g => (long)g.Count()).ToList();
            scores.Add((k, ClusterMetrics.Silhouette(data, dimensions, fit.Assignments), sizes.Count < k ? 0 : sizes.Min()));
        }

        return KSelection.Choose(scores, users, []);
    }

    [Fact]
    public void LabelAll_TellsApartSegmentsWithTheSameLabel_ByTheTraitTheyDifferIn()
    {
        SegmentStatistics Browsers(double recencyDays)
        {
            var s = new SegmentStatistics(2);
            for (var i = 0; i < 10; i++)
            {
                s.Add(new MemberTraits([1, 0], 0, 0, 0, recencyDays, LifecycleStage.New, "", []));
            }

            return s;
        }

        var segments = new[] { Browsers(3), Browsers(41), Browsers(41) };
        var everyone = new SegmentStatistics(2);
        foreach (var s in segments)
        {
            everyone.Merge(s);
        }

        Assert.All(segments, s => Assert.Equal("browsers, mostly new", SegmentLabeler.Label(s, everyone)));
        var labels = SegmentLabeler.LabelAll(segments, everyone);

        Assert.Equal(
            ["browsers, mostly new (last seen 3 days ago)", "browsers, mostly new (last seen 41 days ago) #1", "browsers, mostly new (last seen 41 days ago) #2"],
            labels);
    }
}
