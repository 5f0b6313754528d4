namespace Segmentation.Core.Churn;

/// <summary>Trains <see cref="ChurnModel"/>s from labelled examples.</summary>
public static class ChurnTrainer
{
    /// <summary>
    /// The default ridge, per training example, on the standardised weights (the L2 penalty is this times the number
    /// of examples, so its pull does not fade as the log grows). Strong on purpose: the model is scored months after
    /// the cut-offs it learned from, on a population that has aged since, and a strong prior towards the base rate
    /// keeps its probabilities from being confidently wrong about users unlike any it saw (measured in the README).
    /// </summary>
    public const double DefaultRidgePerExample = 0.1;

    /// <summary>The model over every input.</summary>
    public static ChurnModel Train(
        IReadOnlyList<ChurnExample> examples, int horizonDays, string version, DateTimeOffset cutoff, double ridgePerExample = DefaultRidgePerExample) =>
        TrainOn(examples, horizonDays, version, cutoff, ridgePerExample * examples.Count, Enumerable.Range(0, ChurnFeatures.Count).ToArray());

    /// <summary>
    /// The recency-only baseline: a logistic curve over days since the last activity alone (the other weights 0), so
    /// its ranking is recency's and its probabilities are calibrated the same way as the full model's.
    /// </summary>
    public static ChurnModel TrainRecencyBaseline(IReadOnlyList<ChurnExample> examples, int horizonDays, DateTimeOffset cutoff) =>
        TrainOn(examples, horizonDays, "recency-only", cutoff, 1.0, [0]);

    private static ChurnModel TrainOn(IReadOnlyList<ChurnExample> examples, int horizonDays, string version, DateTimeOffset cutoff, double l2, int[] used)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0)
        {
            throw new ArgumentException("no examples: no user was seen before the cut-off.", nameof(examples));
        }

        var inputs = new double[examples.Count * used.Length];
        var labels = new bool[examples.Count];
        for (var r = 0; r < examples.Count; r++)
        {
            for (var j = 0; j < used.Length; j++)
            {
                inputs[(r * used.Length) + j] = examples[r].Inputs[used[j]];
            }

            labels[r] = examples[r].Churned;
        }

        var fit = LogisticRegression.Train(inputs, used.Length, labels, l2);
        var means = new double[ChurnFeatures.Count];
        var scales = Enumerable.Repeat(1.0, ChurnFeatures.Count).ToArray();
        var weights = new double[ChurnFeatures.Count];
        for (var j = 0; j < used.Length; j++)
        {
            means[used[j]] = fit.Means[j];
            scales[used[j]] = fit.Scales[j];
            weights[used[j]] = fit.Weights[j];
        }

        return new ChurnModel
        {
            Version = version,
            HorizonDays = horizonDays,
            Features = [.. ChurnFeatures.Names],
            Means = means,
            Scales = scales,
            Weights = weights,
            Intercept = fit.Intercept,
            TrainingExamples = examples.Count,
            TrainingChurnRate = labels.Count(l => l) / (double)labels.Length,
            TrainingCutoff = cutoff,
        };
    }
}
