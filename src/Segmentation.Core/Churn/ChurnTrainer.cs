namespace Segmentation.Core.Churn;

/// <summary>Trains <see cref="ChurnModel"/>s from labelled examples.</summary>
public static class ChurnTrainer
{
    /// <summary>The default L2 penalty on standardised weights: light, it only keeps rare inputs from running away.</summary>
    public const double DefaultL2 = 1.0;

    /// <summary>The model over every input.</summary>
    public static ChurnModel Train(IReadOnlyList<ChurnExample> examples, int horizonDays, string version, DateTimeOffset cutoff, double l2 = DefaultL2) =>
        TrainOn(examples, horizonDays, version, cutoff, l2, Enumerable.Range(0, ChurnFeatures.Count).ToArray());

    /// <summary>
    /// The recency-only baseline: a logistic curve over days since the last activity alone (the other weights 0), so
    /// its ranking is recency's and its probabilities are calibrated the same way as the full model's.
    /// </summary>
    public static ChurnModel TrainRecencyBaseline(IReadOnlyList<ChurnExample> examples, int horizonDays, DateTimeOffset cutoff) =>
        TrainOn(examples, horizonDays, "recency-only", cutoff, DefaultL2, [0]);

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
