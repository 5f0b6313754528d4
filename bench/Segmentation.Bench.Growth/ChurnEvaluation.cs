using System.Diagnostics;
using Segmentation.Core;
using Segmentation.Core.Churn;
using Segmentation.Core.Statistics;

namespace Segmentation.Bench.Growth;

/// <summary>
/// Churn on held-out time: the model is trained on labels at cut-off c₁ (inputs from events up to c₁, label = no event
/// in (c₁, c₁ + H]) and evaluated at c₂ = c₁ + H (inputs up to c₂, label from (c₂, c₂ + H]), where c₂ + H is the
/// dataset's last event. No label of the evaluation period is seen in training.
/// </summary>
internal static class ChurnEvaluation
{
    public static void Run(UserEvents data, int horizonDays, double ridgePerExample, Dictionary<string, string>? personas = null)
    {
        var options = new ProfileOptions();
        var horizon = TimeSpan.FromDays(horizonDays);
        var evalCutoff = data.Last - horizon;
        var trainCutoff = evalCutoff - horizon;
        Report.Heading($"churn, {data.Name}: {data.Users.Count} users, {data.EventCount} events, {data.First:yyyy-MM-dd}..{data.Last:yyyy-MM-dd}, horizon {horizonDays} days");
        var train = ChurnExample.AtCutoffs(data.Users, ChurnExample.TrainingCutoffs(trainCutoff), horizonDays, options);
        var test = ChurnExample.AtCutoff(data.Users, evalCutoff, horizonDays, options);
        Console.WriteLine($"train: cut-offs {trainCutoff - TimeSpan.FromDays(ChurnExample.CutoffStepDays * (ChurnExample.TrainingCutoffCount - 1)):yyyy-MM-dd}..{trainCutoff:yyyy-MM-dd} every {ChurnExample.CutoffStepDays} days, {train.Count} user-cut-offs, churn rate {train.Count(e => e.Churned) / (double)train.Count:F3}");
        Console.WriteLine($"test:  cut-off {evalCutoff:yyyy-MM-dd}, {test.Count} users, churn rate {test.Count(e => e.Churned) / (double)test.Count:F3}");
        var model = ChurnTrainer.Train(train, horizonDays, "eval", trainCutoff, ridgePerExample);
        var baseline = ChurnTrainer.TrainRecencyBaseline(train, horizonDays, trainCutoff);
        var labels = test.Select(e => e.Churned).ToArray();
        var ours = test.Select(e => model.Probability(e.Inputs)).ToArray();
        var recency = test.Select(e => baseline.Probability(e.Inputs)).ToArray();
        Console.WriteLine($"ridge {ridgePerExample} per example (L2 {ridgePerExample * train.Count:F0})");
        Report.Row("model", "AUC-ROC", "Brier");
        Report.Row("logistic", BinaryClassification.Auc(ours, labels), BinaryClassification.Brier(ours, labels));
        Report.Row("recency-only", BinaryClassification.Auc(recency, labels), BinaryClassification.Brier(recency, labels));
        Report.Row("base rate", 0.5, BinaryClassification.Brier(test.Select(_ => model.TrainingChurnRate).ToArray(), labels));
        Console.WriteLine("reliability (logistic | recency-only): bin, users, mean predicted, observed churn rate");
        var a = BinaryClassification.Reliability(ours, labels);
        var b = BinaryClassification.Reliability(recency, labels);
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            Report.Row(
                i < a.Count ? $"[{a[i].Low:F1},{a[i].High:F1})" : "", i < a.Count ? a[i].Count : "", i < a.Count ? a[i].MeanPredicted : "", i < a.Count ? a[i].ObservedRate : "",
                "|", i < b.Count ? $"[{b[i].Low:F1},{b[i].High:F1})" : "", i < b.Count ? b[i].Count : "", i < b.Count ? b[i].MeanPredicted : "", i < b.Count ? b[i].ObservedRate : "");
        }

        Console.WriteLine("weights per standardised input: " + string.Join(", ", model.Features.Select((f, i) => $"{f} {model.Weights[i]:+0.00;-0.00}")));
        if (personas is not null)
        {
            Console.WriteLine("mean predicted churn by persona at the test cut-off (observed rate):");
            foreach (var group in test.Select((e, i) => (Persona: personas[e.UserId], P: ours[i], e.Churned)).GroupBy(x => x.Persona).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                Report.Row(group.Key, group.Count(), group.Average(x => x.P), group.Average(x => x.Churned ? 1.0 : 0.0));
            }
        }

        var example = test.OrderByDescending(e => model.Probability(e.Inputs)).Skip(test.Count / 4).First();
        var score = model.Score(example.Inputs, example.Raw);
        Console.WriteLine($"example {example.UserId}: churn {score.Probability:F2}; " + string.Join("; ", score.Reasons.Take(3)));
        ScoringCost(data, model);
    }

    // Events/s of folding every event alone, and of folding it and scoring the user after it (what the grain does on
    // ingest), in one process, one after the other: the ratio is the cost of scoring.
    private static void ScoringCost(UserEvents data, ChurnModel model)
    {
        var options = new ProfileOptions();
        var events = data.EventCount;
        double Measure(bool score)
        {
            var sink = 0.0;
            var watch = Stopwatch.StartNew();
            foreach (var (userId, list) in data.Users)
            {
                var profile = new UserProfile(userId, options);
                foreach (var e in list)
                {
                    profile.Apply(e);
                    sink += score ? model.Score(profile, e.Timestamp).Probability : 0;
                }
            }

            GC.KeepAlive(sink);
            return events / watch.Elapsed.TotalSeconds;
        }

        Measure(false);
        Measure(true); // warm-up
        var off = Measure(false);
        var on = Measure(true);
        var offAgain = Measure(false);
        var baseline = (off + offAgain) / 2;
        Console.WriteLine($"fold only {baseline:F0} events/s; fold + churn score {on:F0} events/s; ratio {on / baseline:F3}; scoring costs {(1 / on) - (1 / baseline):E2} s per event");
    }
}
