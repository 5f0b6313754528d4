using System.Globalization;
using Segmentation.Bench.Growth;

// Verbs: churn | value | experiments | anomalies | all   (options: --users N for the shop, default 5000; --horizon DAYS, default 60; --ridge R,R for churn)
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var verb = args.Length > 0 ? args[0] : "all";
var users = Option("--users", 5_000);
var horizon = Option("--horizon", 60);
// --ridge R[,R...]: the churn model's ridge per example (default: the trainer's); several values show the sensitivity.
var ridgeAt = Array.IndexOf(args, "--ridge");
var ridges = ridgeAt >= 0 && ridgeAt + 1 < args.Length
    ? args[ridgeAt + 1].Split(',').Select(r => double.Parse(r, CultureInfo.InvariantCulture)).ToArray()
    : [Segmentation.Core.Churn.ChurnTrainer.DefaultRidgePerExample];
if (verb is not ("churn" or "value" or "experiments" or "anomalies" or "all"))
{
    Console.Error.WriteLine("usage: churn | value | experiments | anomalies | all [--users N] [--horizon DAYS] [--ridge R[,R...]]");
    return 2;
}

Console.WriteLine($"# growth models evaluation ({verb}); {Report.LoadAverage()}");
var (shop, personas) = Datasets.Shop(users);
if (verb is "churn" or "all")
{
    foreach (var ridge in ridges)
    {
        ChurnEvaluation.Run(Datasets.MovieLens(), horizon, ridge);
        ChurnEvaluation.Run(shop, horizon, ridge, personas);
    }
}

if (verb is "value" or "all")
{
    ValueEvaluation.Run(Datasets.OnlineRetail(), 2, 8);
    ValueEvaluation.Run(shop, 2, 8);
}

if (verb is "experiments" or "all")
{
    ExperimentEvaluation.Run(shop, personas, lift: 0.02, runs: 100);
}

if (verb is "anomalies" or "all")
{
    AnomalyEvaluation.Run(shop, bots: 50, cardTesters: 50, threshold: Segmentation.Core.Anomalies.AnomalyFeatures.DefaultThreshold);
}

Console.WriteLine();
Console.WriteLine($"# done; {Report.LoadAverage()}");
return 0;

int Option(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
