namespace Segmentation.Core.Statistics;

/// <summary>One bin of a reliability table: predictions in [Low, High), their mean, and the observed positive rate.</summary>
public sealed record ReliabilityBin(double Low, double High, int Count, double MeanPredicted, double ObservedRate);

/// <summary>Quality of probabilistic binary predictions: ranking (AUC-ROC) and calibration (Brier score, reliability).</summary>
public static class BinaryClassification
{
    /// <summary>
    /// Area under the ROC curve: the probability that a random positive scores above a random negative, ties
    /// counting one half (the Mann–Whitney U statistic over the mid-ranks). NaN when either class is empty.
    /// </summary>
    public static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        var n = Check(scores, labels);
        var order = Enumerable.Range(0, n).OrderBy(i => scores[i]).ToArray();
        double positiveRankSum = 0;
        long positives = 0;
        for (var start = 0; start < n;)
        {
            var end = start;
            while (end + 1 < n && scores[order[end + 1]] == scores[order[start]])
            {
                end++;
            }

            var midRank = ((start + end) / 2.0) + 1;
            for (var i = start; i <= end; i++)
            {
                if (labels[order[i]])
                {
                    positiveRankSum += midRank;
                    positives++;
                }
            }

            start = end + 1;
        }

        var negatives = n - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        return (positiveRankSum - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
    }

    /// <summary>Mean squared difference between the predicted probability and the outcome (0 or 1); lower is better.</summary>
    public static double Brier(IReadOnlyList<double> probabilities, IReadOnlyList<bool> labels)
    {
        var n = Check(probabilities, labels);
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            var d = probabilities[i] - (labels[i] ? 1 : 0);
            sum += d * d;
        }

        return sum / n;
    }

    /// <summary>Predictions in <paramref name="bins"/> equal-width bins of [0, 1]; empty bins are left out.</summary>
    public static List<ReliabilityBin> Reliability(IReadOnlyList<double> probabilities, IReadOnlyList<bool> labels, int bins = 10)
    {
        var n = Check(probabilities, labels);
        var count = new int[bins];
        var predicted = new double[bins];
        var observed = new double[bins];
        for (var i = 0; i < n; i++)
        {
            var b = Math.Clamp((int)(probabilities[i] * bins), 0, bins - 1);
            count[b]++;
            predicted[b] += probabilities[i];
            observed[b] += labels[i] ? 1 : 0;
        }

        var table = new List<ReliabilityBin>();
        for (var b = 0; b < bins; b++)
        {
            if (count[b] > 0)
            {
                table.Add(new ReliabilityBin(b / (double)bins, (b + 1) / (double)bins, count[b], predicted[b] / count[b], observed[b] / count[b]));
            }
        }

        return table;
    }

    private static int Check(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        if (scores.Count != labels.Count || scores.Count == 0)
        {
            throw new ArgumentException($"need as many labels as scores, at least one; got {scores.Count} scores and {labels.Count} labels.");
        }

        return scores.Count;
    }
}
