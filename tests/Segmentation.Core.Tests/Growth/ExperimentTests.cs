using Segmentation.Core.Experiments;

namespace Segmentation.Core.Tests.Growth;

public sealed class ExperimentTests
{
    private static readonly Experiment s_ab = new() { Id = "winback", Arms = [new("control", 1), new("b", 1)], Salt = "s1" };

    [Fact]
    public void Assignment_IsAFunctionOfSaltExperimentAndUser_AndFollowsTheShares()
    {
        var users = Enumerable.Range(0, 20_000).Select(i => $"u{i:D5}").ToArray();
        var first = users.Select(u => ArmAssignment.Assign(s_ab, u)).ToArray();
        Assert.Equal(first, users.Select(u => ArmAssignment.Assign(s_ab with { }, u)));

        // 50/50: within four standard deviations (sd = 0.5·√n ≈ 71).
        Assert.InRange(first.Count(a => a == 1), 10_000 - 283, 10_000 + 283);

        var resalted = users.Select(u => ArmAssignment.Assign(s_ab with { Salt = "s2" }, u)).ToArray();
        var agreement = first.Zip(resalted).Count(p => p.First == p.Second) / (double)users.Length;
        Assert.InRange(agreement, 0.47, 0.53); // another salt: an independent split

        var holdout = new Experiment { Id = "h", Arms = [new("holdout", 1), new("a", 4), new("b", 5)] };
        var shares = users.Select(u => ArmAssignment.Assign(holdout, u)).GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count() / (double)users.Length);
        Assert.InRange(shares[0], 0.09, 0.11);
        Assert.InRange(shares[1], 0.38, 0.42);
        Assert.InRange(shares[2], 0.48, 0.52);
    }

    [Fact]
    public void Assignment_IsPinned_SoEveryHostAndReleaseAgrees()
    {
        // SHA-256("s1/winback/u00042") begins 0x… : changing the hash or its layout would move users between arms of
        // running experiments, so the position is pinned.
        var position = ArmAssignment.Position(s_ab, "u00042");
        Assert.Equal(position, ArmAssignment.Position(new Experiment { Id = "winback", Salt = "s1", Arms = [new("x", 3), new("y", 1)] }, "u00042"));
        var expected = BitConverter.ToUInt64(System.Security.Cryptography.SHA256.HashData("s1/winback/u00042"u8).AsSpan(0, 8).ToArray().Reverse().ToArray()) >> 11;
        Assert.Equal(expected / (double)(1UL << 53), position);
    }

    [Fact]
    public void Analysis_GivesTheTextbookTwoProportionNumbers()
    {
        var result = ExperimentAnalysis.Analyze(s_ab, [new ArmCounts(1000, 100), new ArmCounts(1000, 130)]);

        var b = result.Arms[1];
        Assert.Equal(0.03, b.Lift, 12);
        Assert.Equal(0.3, b.RelativeLift, 12);
        // Wald interval, unpooled: 0.03 ± 1.959964·√(0.13·0.87/1000 + 0.1·0.9/1000).
        Assert.Equal(0.03 - (1.959964 * 0.0142513), b.Low, 5);
        Assert.Equal(0.03 + (1.959964 * 0.0142513), b.High, 5);
        // Pooled z = 0.03 / √(0.115·0.885·2/1000) = 2.10272; two-sided p = 0.03549.
        Assert.Equal(0.03549, b.PValue, 4);
        Assert.True(b.Significant);
        Assert.False(result.SampleRatioMismatch);
    }

    [Fact]
    public void SampleRatioMismatch_IsFlaggedWhenTheSplitIsOff()
    {
        Assert.True(ExperimentAnalysis.Analyze(s_ab, [new ArmCounts(5200, 100), new ArmCounts(4800, 100)]).SampleRatioMismatch);
        Assert.False(ExperimentAnalysis.Analyze(s_ab, [new ArmCounts(5030, 100), new ArmCounts(4970, 100)]).SampleRatioMismatch);
        // chi² = 16 with 1 degree of freedom.
        Assert.Equal(6.334e-5, ExperimentAnalysis.SampleRatio(s_ab, [new ArmCounts(5200, 0), new ArmCounts(4800, 0)]), 7);
    }

    [Fact]
    public void HundredSimulations_CoverTheTrueLift_AndAnAaTestIsRarelySignificant()
    {
        var random = new Random(11);
        var users = Enumerable.Range(0, 8_000).Select(i => ($"u{i}", 0.05 + (0.2 * random.NextDouble()))).ToArray();

        var (covered, rightSign, _, mismatches) = CampaignSimulation.Repeat(s_ab, users, lift: 0.04, runs: 100, seed: 1);
        Assert.True(covered >= 90, $"covered {covered}/100");
        Assert.True(rightSign >= 95, $"right sign {rightSign}/100");
        Assert.True(mismatches <= 3, $"SRM {mismatches}/100");

        var (aaCovered, _, aaSignificant, _) = CampaignSimulation.Repeat(s_ab, users, lift: 0, runs: 100, seed: 1_000);
        Assert.True(aaSignificant <= 10, $"A/A significant {aaSignificant}/100");
        Assert.Equal(100 - aaSignificant, aaCovered);
    }

    [Fact]
    public void BadDefinitions_NameTheField()
    {
        var problems = new Experiment { Id = "", Arms = [new("a", 1), new("a", -1)] }.Problems();
        Assert.Contains(problems, p => p.StartsWith("id:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("arms[1].name:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("arms[1].share:", StringComparison.Ordinal));
        Assert.Contains("arms: at least two", new Experiment { Id = "x", Arms = [new("a", 1)] }.Problems()[0], StringComparison.Ordinal);
        Assert.Empty(s_ab.Problems());
    }
}
