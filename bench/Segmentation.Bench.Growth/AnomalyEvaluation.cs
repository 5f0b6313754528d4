using Segmentation.Core;
using Segmentation.Core.Anomalies;

namespace Segmentation.Bench.Growth;

/// <summary>
/// The shop's users plus injected bots (hundreds of views within an hour, no purchase) and card testers (many tiny
/// orders within minutes): an Isolation Forest over every profile, flagged at the default threshold; precision and
/// recall against the injected accounts.
/// </summary>
internal static class AnomalyEvaluation
{
    public static void Run(UserEvents shop, int bots, int cardTesters, double threshold)
    {
        var random = new Random(42);
        var users = new List<(string UserId, IReadOnlyList<BehaviorEvent> Events, string Kind)>();
        users.AddRange(shop.Users.Select(u => (u.UserId, u.Events, "human")));
        for (var b = 0; b < bots; b++)
        {
            users.Add(($"bot-{b}", Bot($"bot-{b}", random, shop.Last), "bot"));
        }

        for (var c = 0; c < cardTesters; c++)
        {
            users.Add(($"card-{c}", CardTester($"card-{c}", random, shop.Last), "card-testing"));
        }

        var options = new ProfileOptions();
        var inputs = new double[users.Count * AnomalyFeatures.Count];
        for (var i = 0; i < users.Count; i++)
        {
            var profile = new UserProfile(users[i].UserId, options);
            foreach (var e in users[i].Events)
            {
                profile.Apply(e);
            }

            AnomalyFeatures.Compute(profile, inputs.AsSpan(i * AnomalyFeatures.Count, AnomalyFeatures.Count));
        }

        var forest = IsolationForest.Fit(inputs, AnomalyFeatures.Count, AnomalyFeatures.Names);
        Report.Heading($"anomalies, {shop.Name} + {bots} bots + {cardTesters} card testers; Isolation Forest (100 trees, ψ 256), threshold {threshold}");
        var flagged = new bool[users.Count];
        var scores = new double[users.Count];
        for (var i = 0; i < users.Count; i++)
        {
            scores[i] = forest.Score(inputs.AsSpan(i * AnomalyFeatures.Count, AnomalyFeatures.Count));
            flagged[i] = scores[i] >= threshold;
        }

        var injected = users.Select(u => u.Kind != "human").ToArray();
        var truePositives = flagged.Zip(injected).Count(p => p.First && p.Second);
        var flaggedCount = flagged.Count(f => f);
        Console.WriteLine($"flagged {flaggedCount} of {users.Count}; precision {truePositives / (double)Math.Max(1, flaggedCount):F3}; recall {truePositives / (double)injected.Count(x => x):F3}");
        foreach (var kind in new[] { "bot", "card-testing", "human" })
        {
            var members = Enumerable.Range(0, users.Count).Where(i => users[i].Kind == kind).ToArray();
            Console.WriteLine($"  {kind}: {members.Count(i => flagged[i])}/{members.Length} flagged, mean score {members.Average(i => scores[i]):F3}");
        }

        foreach (var kind in new[] { "bot", "card-testing" })
        {
            var i = users.FindIndex(u => u.Kind == kind);
            var (score, contributions) = forest.Explain(inputs.AsSpan(i * AnomalyFeatures.Count, AnomalyFeatures.Count));
            Console.WriteLine($"  {users[i].UserId}: score {score:F3}; " + string.Join(", ", contributions.Take(3).Select(c => $"{c.Feature} {c.Share:P0}")));
        }
    }

    private static List<BehaviorEvent> Bot(string user, Random random, DateTimeOffset end)
    {
        var at = end - TimeSpan.FromDays(random.Next(1, 60)) - TimeSpan.FromHours(random.NextDouble() * 24);
        var events = new List<BehaviorEvent>();
        var views = random.Next(300, 1_500);
        for (var i = 0; i < views; i++)
        {
            at += TimeSpan.FromMilliseconds(random.Next(200, 3_000));
            events.Add(Event(user, i, EventType.View, $"sku-{random.Next(1_000):D5}", 20 + (random.NextDouble() * 100), 0, at, ""));
        }

        return events;
    }

    private static List<BehaviorEvent> CardTester(string user, Random random, DateTimeOffset end)
    {
        var at = end - TimeSpan.FromDays(random.Next(1, 60)) - TimeSpan.FromHours(random.NextDouble() * 24);
        var events = new List<BehaviorEvent>();
        var orders = random.Next(15, 60);
        for (var i = 0; i < orders; i++)
        {
            var item = $"sku-{random.Next(1_000):D5}";
            at += TimeSpan.FromSeconds(random.Next(5, 90));
            if (random.NextDouble() < 0.5)
            {
                events.Add(Event(user, 2 * i, EventType.View, item, 0.5 + random.NextDouble(), 0, at, ""));
            }

            events.Add(Event(user, (2 * i) + 1, EventType.Purchase, item, 0.5 + random.NextDouble(), 1, at + TimeSpan.FromSeconds(2), $"o-{user}-{i}"));
        }

        return events;
    }

    private static BehaviorEvent Event(string user, int sequence, EventType type, string item, double price, int quantity, DateTimeOffset at, string order) => new()
    {
        EventId = $"{user}-{sequence}",
        UserId = user,
        Type = type,
        ItemId = item,
        Category = "home.essentials",
        Price = price,
        Quantity = quantity,
        Timestamp = at,
        Attributes = order.Length > 0 ? new Dictionary<string, string> { ["order_id"] = order } : new Dictionary<string, string>(),
    };
}
