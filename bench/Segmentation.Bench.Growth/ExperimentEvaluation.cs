using Segmentation.Core.Experiments;

namespace Segmentation.Bench.Growth;

/// <summary>
/// A campaign on the synthetic shop's users with a known lift: each user converts with her persona's base rate (the
/// share of her sessions that end in an order, from the shop's own history), plus the true lift in arm B.
/// </summary>
internal static class ExperimentEvaluation
{
    public static void Run(UserEvents shop, Dictionary<string, string> personas, double lift, int runs)
    {
        // Base rate per persona: users of the persona with an order over the persona's users, in the shop's history.
        var rates = shop.Users.GroupBy(u => personas[u.UserId])
            .ToDictionary(g => g.Key, g => g.Count(u => u.Events.Any(e => e.Type == Core.EventType.Purchase)) / (double)g.Count());
        var users = shop.Users.Select(u => (u.UserId, BaseRate: rates[personas[u.UserId]] * 0.2)).ToArray();
        var experiment = new Experiment { Id = "campaign", Arms = [new("control", 1), new("b", 1)], Salt = "eval" };
        Report.Heading($"experiments, {shop.Name}: base conversion {users.Average(u => u.BaseRate):F4} (a fifth of each persona's buyer share), true lift {lift:+0.000;-0.000}, {runs} seeded simulations");
        var (covered, rightSign, significant, mismatches) = CampaignSimulation.Repeat(experiment, users, lift, runs, seed: 1);
        Console.WriteLine($"A/B: true lift inside the 95% interval in {covered}/{runs}; right sign {rightSign}/{runs}; significant {significant}/{runs}; SRM flagged {mismatches}/{runs}");
        var (aaCovered, _, aaSignificant, aaMismatches) = CampaignSimulation.Repeat(experiment, users, 0, runs, seed: 10_000);
        Console.WriteLine($"A/A: no significant lift in {runs - aaSignificant}/{runs} (interval covers 0 in {aaCovered}); SRM flagged {aaMismatches}/{runs}");
        var one = CampaignSimulation.Run(experiment, users, lift, seed: 1);
        foreach (var arm in one.Arms)
        {
            Console.WriteLine($"  seed 1, {arm.Arm}: {arm.Converted}/{arm.Exposed} = {arm.Rate:F4}; lift {arm.Lift:+0.0000;-0.0000} [{arm.Low:+0.0000;-0.0000}, {arm.High:+0.0000;-0.0000}], p {arm.PValue:F4}");
        }

        Console.WriteLine($"  SRM p {one.SampleRatioPValue:F3}; arm of u00042 for this experiment: {experiment.Arms[ArmAssignment.Assign(experiment, "u00042")].Name} (position {ArmAssignment.Position(experiment, "u00042"):F6})");
    }
}
