using Segmentation.Core.Statistics;

namespace Segmentation.Core.Experiments;

/// <summary>What was counted for one arm: users exposed (assigned and seen) and how many of them converted.</summary>
public readonly record struct ArmCounts(long Exposed, long Converted);

/// <summary>One arm's result against the control.</summary>
/// <param name="Arm">The arm's name.</param>
/// <param name="Exposed">Users exposed.</param>
/// <param name="Converted">Of them, converted.</param>
/// <param name="Rate">Conversion rate.</param>
/// <param name="Lift">Rate minus the control's rate (absolute, in proportion points; 0 for the control).</param>
/// <param name="RelativeLift">Lift over the control's rate (NaN when the control's rate is 0).</param>
/// <param name="Low">Lower end of the 95 % interval of <paramref name="Lift"/>.</param>
/// <param name="High">Upper end of the 95 % interval of <paramref name="Lift"/>.</param>
/// <param name="PValue">Two-sided p-value of "no difference" (1 for the control).</param>
public sealed record ArmResult(string Arm, long Exposed, long Converted, double Rate, double Lift, double RelativeLift, double Low, double High, double PValue)
{
    /// <summary>Whether the interval excludes 0 (significant at the analysis' level).</summary>
    public bool Significant => Low > 0 || High < 0;
}

/// <summary>An experiment's results and its sample-ratio check.</summary>
/// <param name="Arms">Per arm, control first.</param>
/// <param name="SampleRatioPValue">Chi-square goodness-of-fit p-value of the exposures against the configured shares.</param>
/// <param name="SampleRatioMismatch">Whether that p-value is below <see cref="ExperimentAnalysis.SampleRatioThreshold"/>: the split is broken and the lifts are not to be trusted.</param>
public sealed record ExperimentResult(IReadOnlyList<ArmResult> Arms, double SampleRatioPValue, bool SampleRatioMismatch);

/// <summary>
/// Results of an experiment from its counts. Each treatment is compared with the control (the first arm) by the
/// two-proportion z-test: the p-value uses the pooled rate under "no difference"; the 95 % interval of the
/// difference is Wald's with unpooled variances, p₁(1−p₁)/n₁ + p₀(1−p₀)/n₀ (the textbook pair, as in
/// statsmodels' <c>proportions_ztest</c> and <c>confint_proportions_2indep(method="wald")</c>).
/// </summary>
public static class ExperimentAnalysis
{
    /// <summary>p-value below which the exposures are said not to follow the shares (the usual, strict, SRM level).</summary>
    public const double SampleRatioThreshold = 0.001;

    /// <summary>Analyses <paramref name="counts"/> (one per arm, in the experiment's order) at confidence <paramref name="confidence"/>.</summary>
    public static ExperimentResult Analyze(Experiment experiment, IReadOnlyList<ArmCounts> counts, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Count != experiment.Arms.Count)
        {
            throw new ArgumentException($"need counts for {experiment.Arms.Count} arms, got {counts.Count}.");
        }

        var z = Distributions.NormalQuantile(1 - ((1 - confidence) / 2));
        var control = counts[0];
        var p0 = Rate(control);
        var results = new List<ArmResult>(counts.Count) { new(experiment.Arms[0].Name, control.Exposed, control.Converted, p0, 0, 0, 0, 0, 1) };
        for (var i = 1; i < counts.Count; i++)
        {
            var arm = counts[i];
            var p1 = Rate(arm);
            var lift = p1 - p0;
            var se = Math.Sqrt((Variance(p1) / Math.Max(1, arm.Exposed)) + (Variance(p0) / Math.Max(1, control.Exposed)));
            var pooled = (arm.Converted + control.Converted) / (double)Math.Max(1, arm.Exposed + control.Exposed);
            var sePooled = Math.Sqrt(Variance(pooled) * ((1.0 / Math.Max(1, arm.Exposed)) + (1.0 / Math.Max(1, control.Exposed))));
            var pValue = sePooled > 0 ? 2 * Distributions.NormalCdf(-Math.Abs(lift) / sePooled) : 1;
            results.Add(new ArmResult(experiment.Arms[i].Name, arm.Exposed, arm.Converted, p1, lift, p0 > 0 ? lift / p0 : double.NaN, lift - (z * se), lift + (z * se), pValue));
        }

        var srm = SampleRatio(experiment, counts);
        return new ExperimentResult(results, srm, srm < SampleRatioThreshold);
    }

    /// <summary>Chi-square goodness-of-fit p-value of the arms' exposures against their normalised shares (1 with no exposures).</summary>
    public static double SampleRatio(Experiment experiment, IReadOnlyList<ArmCounts> counts)
    {
        var total = counts.Sum(c => c.Exposed);
        if (total == 0)
        {
            return 1;
        }

        var shares = experiment.Arms.Sum(a => a.Share);
        var chi = 0.0;
        for (var i = 0; i < counts.Count; i++)
        {
            var expected = total * experiment.Arms[i].Share / shares;
            var d = counts[i].Exposed - expected;
            chi += d * d / expected;
        }

        return Distributions.ChiSquareSurvival(chi, counts.Count - 1);
    }

    private static double Rate(ArmCounts c) => c.Exposed > 0 ? c.Converted / (double)c.Exposed : 0;

    private static double Variance(double p) => p * (1 - p);
}
