namespace Segmentation.Core.Experiments;

/// <summary>
/// A simulated campaign with a known truth: users are split by <see cref="ArmAssignment"/>, each converts with her
/// own base probability, plus <c>lift</c> (absolute) in every arm but the control, drawn from a seeded generator.
/// The check of the analysis: the true lift must fall in the 95 % interval in about 95 of 100 seeds, and an A/A run
/// (lift 0) must be called significant in about 5.
/// </summary>
public static class CampaignSimulation
{
    /// <summary>One run: counts per arm and their analysis.</summary>
    public static ExperimentResult Run(Experiment experiment, IReadOnlyList<(string UserId, double BaseRate)> users, double lift, int seed)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(users);
        var random = new Random(seed);
        var exposed = new long[experiment.Arms.Count];
        var converted = new long[experiment.Arms.Count];
        foreach (var (userId, baseRate) in users)
        {
            var arm = ArmAssignment.Assign(experiment, userId);
            exposed[arm]++;
            var rate = Math.Clamp(baseRate + (arm == 0 ? 0 : lift), 0, 1);
            converted[arm] += random.NextDouble() < rate ? 1 : 0;
        }

        var counts = new ArmCounts[exposed.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = new ArmCounts(exposed[i], converted[i]);
        }

        return ExperimentAnalysis.Analyze(experiment, counts);
    }

    /// <summary>
    /// <paramref name="runs"/> runs, each with its own salt (a fresh split) and seed: how often the interval of the
    /// first treatment covered <paramref name="lift"/>, had its sign (lower end above 0 for a positive lift), and was
    /// significant.
    /// </summary>
    public static (int Covered, int RightSign, int Significant, int SampleRatioMismatches) Repeat(
        Experiment experiment, IReadOnlyList<(string UserId, double BaseRate)> users, double lift, int runs, int seed)
    {
        var covered = 0;
        var rightSign = 0;
        var significant = 0;
        var mismatches = 0;
        for (var r = 0; r < runs; r++)
        {
            var run = experiment with { Salt = $"{experiment.Salt}#{seed}-{r}" };
            var result = Run(run, users, lift, seed + r);
            var arm = result.Arms[1];
            covered += arm.Low <= lift && lift <= arm.High ? 1 : 0;
            rightSign += Math.Sign(arm.Lift) == Math.Sign(lift) ? 1 : 0;
            significant += arm.Significant ? 1 : 0;
            mismatches += result.SampleRatioMismatch ? 1 : 0;
        }

        return (covered, rightSign, significant, mismatches);
    }
}
