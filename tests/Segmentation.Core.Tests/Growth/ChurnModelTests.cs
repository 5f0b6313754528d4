using Segmentation.Core.Churn;
using Segmentation.Core.Statistics;

namespace Segmentation.Core.Tests.Growth;

public sealed class ChurnModelTests
{
    [Fact]
    public void LogisticRegression_RecoversTheWeightsThatGeneratedTheLabels()
    {
        // Two standard-normal inputs, true log-odds -0.5 + 2·x1 − 1·x2; no penalty worth the name at this size.
        var random = new Random(7);
        const int n = 20_000;
        var inputs = new double[n * 2];
        var labels = new bool[n];
        for (var i = 0; i < n; i++)
        {
            var x1 = Gaussian(random);
            var x2 = Gaussian(random);
            inputs[i * 2] = x1;
            inputs[(i * 2) + 1] = x2;
            labels[i] = random.NextDouble() < 1 / (1 + Math.Exp(-(-0.5 + (2 * x1) - x2)));
        }

        var fit = LogisticRegression.Train(inputs, 2, labels, l2: 1e-6);

        // Weights are per standardised input; the inputs have unit variance, so they are the generating weights.
        Assert.InRange(fit.Weights[0] / fit.Scales[0], 1.9, 2.1);
        Assert.InRange(fit.Weights[1] / fit.Scales[1], -1.1, -0.9);
        var intercept = fit.Intercept - (fit.Weights[0] * fit.Means[0] / fit.Scales[0]) - (fit.Weights[1] * fit.Means[1] / fit.Scales[1]);
        Assert.InRange(intercept, -0.6, -0.4);
    }

    [Fact]
    public void LabelsFromHistory_UseOnlyEventsBeforeTheCutoff_AndLeaveOutUsersNotYetSeen()
    {
        var cutoff = Events.T0.AddDays(100);
        var users = new List<(string, IReadOnlyList<BehaviorEvent>)>
        {
            ("stays", [Events.Make(EventType.View, 10), Events.Make(EventType.View, 95), Events.Make(EventType.View, 120)]),
            ("leaves", [Events.Make(EventType.View, 10), Events.Make(EventType.View, 50), Events.Make(EventType.View, 200)]),
            ("later", [Events.Make(EventType.View, 130)]),
        };

        var examples = ChurnExample.AtCutoff(users, cutoff, horizonDays: 60, new ProfileOptions());

        Assert.Equal(["stays", "leaves"], examples.Select(e => e.UserId));
        Assert.False(examples[0].Churned);
        Assert.True(examples[1].Churned); // her day-200 visit is after the 60-day horizon
        Assert.Equal(5, examples[0].Raw[0], 6); // days since last activity at the cut-off, not counting day 120
        Assert.Equal(50, examples[1].Raw[0], 6);
    }

    [Fact]
    public void TrainedModel_RanksTheQuietAboveTheRegular_AndExplainsItWithReasonsThatAddUp()
    {
        var (train, cutoff) = Population(seed: 1);
        var model = ChurnTrainer.Train(train, 60, "test", cutoff);
        var (test, _) = Population(seed: 2);

        var auc = BinaryClassification.Auc(test.Select(e => model.Probability(e.Inputs)).ToArray(), test.Select(e => e.Churned).ToArray());
        Assert.True(auc > 0.8, $"AUC {auc:F3}");

        var regular = Fold("regular", Enumerable.Range(0, 30).Select(d => Events.Make(EventType.View, 60 + (d * 2))).ToArray());
        var quiet = Fold("quiet", Enumerable.Range(0, 5).Select(d => Events.Make(EventType.View, d * 3)).ToArray());
        var now = Events.T0.AddDays(120);
        var regularScore = model.Score(regular, now);
        var quietScore = model.Score(quiet, now);
        Assert.True(quietScore.Probability > regularScore.Probability, $"quiet {quietScore.Probability:F3}, regular {regularScore.Probability:F3}");
        Assert.Equal(ChurnFeatures.Count, quietScore.Reasons.Count);
        Assert.Contains(quietScore.Reasons.Take(3), r => r.Feature == "days_since_last_activity" && r.Contribution > 0);
        Assert.Contains(quietScore.Reasons, r => r.Description == "no visit for 108 days");
        Assert.Matches(@"^no visit for 108 days: \+0\.\d\d$", quietScore.Reasons.Single(r => r.Feature == "days_since_last_activity").ToString());
        Assert.True(Math.Abs(quietScore.Reasons[0].Contribution) >= Math.Abs(quietScore.Reasons[^1].Contribution));
    }

    [Fact]
    public void Reasons_CountWholeDays_AsTheLifecycleExplanationDoes()
    {
        var profile = Fold("u", [Events.Make(EventType.Purchase, 0), Events.Make(EventType.View, 1)]);
        var now = Events.T0.AddDays(92.7); // 92.7 days after her purchase, 91.7 after her visit

        Assert.Equal("last purchase 92 days ago", ChurnFeatures.Describe(1, 92.7));
        Assert.Equal("no visit for 91 days", ChurnFeatures.Describe(0, 91.7));
        Assert.Contains("last activity 91 days ago (last purchase 92 days ago)", profile.AssessLifecycle(now).Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void RecencyBaseline_UsesRecencyAlone()
    {
        var (train, cutoff) = Population(seed: 3);
        var baseline = ChurnTrainer.TrainRecencyBaseline(train, 60, cutoff);
        Assert.NotEqual(0, baseline.Weights[0]);
        Assert.All(baseline.Weights.Skip(1), w => Assert.Equal(0, w));
    }

    // Users who visit every `gap` days from a day in the first 80 and stop at a random day; the cut-off is day 100, horizon 60.
    private static (List<ChurnExample> Examples, DateTimeOffset Cutoff) Population(int seed)
    {
        var random = new Random(seed);
        var users = new List<(string, IReadOnlyList<BehaviorEvent>)>();
        for (var u = 0; u < 400; u++)
        {
            var gap = 1 + random.Next(10);
            var stop = random.Next(20, 200);
            var events = new List<BehaviorEvent>();
            for (var d = random.Next(80); d < stop; d += gap)
            {
                events.Add(Events.Make(EventType.View, d) with { UserId = $"u{u}", EventId = $"u{u}-{d}" });
            }

            users.Add(($"u{u}", events));
        }

        var cutoff = Events.T0.AddDays(100);
        return (ChurnExample.AtCutoff(users, cutoff, 60, new ProfileOptions()), cutoff);
    }

    private static UserProfile Fold(string user, BehaviorEvent[] events)
    {
        var profile = new UserProfile(user, new ProfileOptions());
        foreach (var e in events)
        {
            profile.Apply(e);
        }

        return profile;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
