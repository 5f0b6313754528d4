namespace Segmentation.Core.Churn;

/// <summary>One input's share of a churn score: how far the probability moves from the average user's because of it.</summary>
/// <param name="Feature">The input's name (<see cref="ChurnFeatures.Names"/>).</param>
/// <param name="Description">Its value in words ("no visit for 41 days").</param>
/// <param name="Contribution">Probability with this input as it is, minus with it at the training mean; positive raises the risk.</param>
public sealed record ChurnReason(string Feature, string Description, double Contribution)
{
    /// <summary>"no visit for 41 days: +0.22".</summary>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Description}: {(Contribution >= 0 ? "+" : "−")}{Math.Abs(Contribution):F2}");
}

/// <summary>A churn score and the inputs that made it, largest effect first.</summary>
/// <param name="Probability">Probability of no activity in the next <see cref="ChurnModel.HorizonDays"/> days.</param>
/// <param name="Reasons">Every input's contribution, by decreasing absolute size.</param>
public sealed record ChurnScore(double Probability, IReadOnlyList<ChurnReason> Reasons);

/// <summary>
/// A trained churn model: logistic regression over standardised <see cref="ChurnFeatures"/>. Immutable and
/// thread-safe; stored as JSON by its version, like the user encoder's model folders.
/// </summary>
/// <remarks>
/// Explained by construction: the log-odds are <c>b + Σ wᵢ·zᵢ</c> with <c>zᵢ = (xᵢ − μᵢ)/σᵢ</c> clipped to ±<see cref="MaxStandardScore"/>, so each input's term is its own, and a
/// reason is the change in probability when that one input is replaced by the training mean (the others kept).
/// </remarks>
public sealed record ChurnModel
{
    /// <summary>Version label (e.g. "churn-20261206T101500Z").</summary>
    public required string Version { get; init; }

    /// <summary>The horizon the labels were made with: churn = no activity in the next this many days.</summary>
    public required int HorizonDays { get; init; }

    /// <summary>Input names, in order; must equal <see cref="ChurnFeatures.Names"/> to be served.</summary>
    public required IReadOnlyList<string> Features { get; init; }

    /// <summary>Training means of the inputs.</summary>
    public required double[] Means { get; init; }

    /// <summary>Training standard deviations (1 where an input did not vary).</summary>
    public required double[] Scales { get; init; }

    /// <summary>Weights per standardised input.</summary>
    public required double[] Weights { get; init; }

    /// <summary>Log-odds of the average user.</summary>
    public required double Intercept { get; init; }

    /// <summary>Examples trained on, and the share of them that churned.</summary>
    public required int TrainingExamples { get; init; }

    /// <summary>Share of training examples labelled churned.</summary>
    public required double TrainingChurnRate { get; init; }

    /// <summary>When the training labels were cut (event time).</summary>
    public DateTimeOffset TrainingCutoff { get; init; }

    /// <summary>Probability for already computed inputs.</summary>
    public double Probability(ReadOnlySpan<double> inputs) => Sigmoid(LogOdds(inputs));

    /// <summary>Probability and reasons for <paramref name="profile"/> at <paramref name="now"/>.</summary>
    public ChurnScore Score(UserProfile profile, DateTimeOffset now)
    {
        Span<double> inputs = stackalloc double[ChurnFeatures.Count];
        Span<double> raw = stackalloc double[ChurnFeatures.Count];
        ChurnFeatures.Compute(profile, now, inputs, raw);
        return Score(inputs, raw);
    }

    /// <summary>Probability and reasons for computed inputs and their raw values.</summary>
    public ChurnScore Score(ReadOnlySpan<double> inputs, ReadOnlySpan<double> raw)
    {
        var logOdds = LogOdds(inputs);
        var probability = Sigmoid(logOdds);
        var reasons = new ChurnReason[Weights.Length];
        for (var i = 0; i < Weights.Length; i++)
        {
            var term = Weights[i] * Standardised(inputs[i], i);
            reasons[i] = new ChurnReason(Features[i], ChurnFeatures.Describe(i, raw[i]), probability - Sigmoid(logOdds - term));
        }

        Array.Sort(reasons, static (a, b) => Math.Abs(b.Contribution).CompareTo(Math.Abs(a.Contribution)));
        return new ChurnScore(probability, reasons);
    }

    private double LogOdds(ReadOnlySpan<double> inputs)
    {
        var z = Intercept;
        for (var i = 0; i < Weights.Length; i++)
        {
            z += Weights[i] * Standardised(inputs[i], i);
        }

        return z;
    }

    // Clipped to ±MaxStandardScore: a user beyond anything the model was trained on (a tenure no training user had)
    // counts as the most extreme it saw, instead of a linear extrapolation that saturates the probability.
    private double Standardised(double input, int i) => Math.Clamp((input - Means[i]) / Scales[i], -MaxStandardScore, MaxStandardScore);

    /// <summary>Standardised inputs are clipped to ± this many training standard deviations.</summary>
    public const double MaxStandardScore = 4;

    internal static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
}
