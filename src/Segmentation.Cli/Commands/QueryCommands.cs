using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary><c>seg profile USER</c>, <c>seg segments USER</c>, <c>seg recommend [USER]</c>, <c>seg similar ITEM</c>.</summary>
internal static class QueryCommands
{
    private static readonly JsonFormatter s_json = new(JsonFormatter.Settings.Default.WithIndentation());

    public static Command Profile(Option<Uri> address, Option<bool> json)
    {
        var user = new Argument<string>("user") { Description = "The user id." };
        var command = new Command("profile", "Show a user's live profile.") { user };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = new SegmentationClient(parse.GetValue(address)!);
            return await RunAsync(async () =>
            {
                var profile = await client.GetProfileAsync(parse.GetValue(user)!, cancellationToken);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(s_json.Format(profile));
                    return;
                }

                var table = new Table().AddColumns("field", "value").HideHeaders();
                table.AddRow("user", Markup.Escape(profile.UserId));
                table.AddRow("lifecycle", Markup.Escape($"{Stage(profile.Lifecycle.Stage)} since {Date(profile.Lifecycle.Since)}"));
                table.AddRow("why", Markup.Escape(profile.Lifecycle.Explanation));
                table.AddRow("seen", $"{Date(profile.FirstSeen)} .. {Date(profile.LastSeen)} ({profile.EventCount:N0} events)");
                table.AddRow("events", Markup.Escape(string.Join(", ", profile.Counts.Select(c => $"{Type(c.Type)} {c.Count}"))));
                table.AddRow("orders", $"{profile.Orders:N0}, spend {profile.Spend:N2}, returned {profile.Returned:N2}, AOV {profile.AverageOrderValue:N2}");
                table.AddRow("RFM", $"recency {profile.Rfm.RecencyDays} d, frequency {profile.Rfm.Frequency}, monetary {profile.Rfm.Monetary:N2} → scores {profile.Rfm.RecencyScore}{profile.Rfm.FrequencyScore}{profile.Rfm.MonetaryScore}");
                table.AddRow("categories", Markup.Escape(string.Join(", ", profile.TopCategories.Take(5).Select(c => $"{c.Category} {c.Share:P0}"))));
                table.AddRow("recent", Markup.Escape(string.Join(", ", profile.RecentItems.Take(5).Select(i => $"{i.ItemId} ({Type(i.Type)})"))));
                table.AddRow("as of", Date(profile.AsOf));
                AnsiConsole.Write(table);
            });
        });
        return command;
    }

    public static Command Segments(Option<Uri> address, Option<bool> json)
    {
        var user = new Argument<string>("user") { Description = "The user id." };
        var command = new Command("segments", "Show which segments a user is in, and why.") { user };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = new SegmentationClient(parse.GetValue(address)!);
            return await RunAsync(async () =>
            {
                var segments = await client.GetUserSegmentsAsync(parse.GetValue(user)!, cancellationToken);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(s_json.Format(segments));
                    return;
                }

                Console.WriteLine($"user       {segments.UserId}");
                Console.WriteLine($"lifecycle  {Stage(segments.Lifecycle.Stage)} (since {Date(segments.Lifecycle.Since)})");
                Console.WriteLine($"why        {segments.Lifecycle.Explanation}");
                if (segments.MlSegment is { } ml)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ML segment {ml.SegmentId} '{ml.Label}' (model v{ml.ModelVersion}, confidence {ml.Confidence:F2})"));
                    foreach (var line in ml.Explanation)
                    {
                        Console.WriteLine($"           {line}");
                    }
                }
                else
                {
                    Console.WriteLine("ML segment none: her tenant has no ML segmentation yet (seg recluster --k 0 makes one), or she has no embedding yet");
                }

                foreach (var rule in segments.RuleSegments)
                {
                    Console.WriteLine($"rule       {rule.Id} ({rule.Name}): {string.Join("; ", rule.Reasons)}");
                }

                if (segments.Churn is { } churn)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"churn      churn:{churn.Band}, {churn.Probability:P0} chance of no activity in {churn.HorizonDays} days ({churn.ModelVersion})"));
                    foreach (var reason in churn.Reasons)
                    {
                        Console.WriteLine($"           {reason}");
                    }
                }

                if (segments.ValueSegment is { } value)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"value      value:{value.SegmentId} {value.Label}: last order {value.RecencyDays:0} days ago, {value.Frequency} orders, {value.Monetary:0.00} spent ({value.ModelVersion})"));
                }

                if (segments.Anomaly is { } anomaly)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"anomaly    {(anomaly.Flagged ? "anomaly:flagged" : "not flagged")}, score {anomaly.Score:0.000} ({anomaly.ModelVersion})"));
                    foreach (var reason in anomaly.Flagged ? anomaly.Reasons : [])
                    {
                        Console.WriteLine($"           {reason}");
                    }
                }

                Console.WriteLine($"as of      {Date(segments.AsOf)}");
            });
        });
        return command;
    }

    public static Command Recommend(Option<Uri> address, Option<bool> json)
    {
        var user = new Argument<string>("user") { Description = "The user id; omit for an anonymous visitor (then give --item or --category).", Arity = ArgumentArity.ZeroOrOne };
        var count = new Option<int>("--count", "-n") { Description = "How many items (1 to 100).", DefaultValueFactory = _ => 10 };
        var item = new Option<string>("--item") { Description = "The item on screen (context)." };
        var category = new Option<string>("--category") { Description = "The category on screen (context)." };
        var placement = new Option<string>("--placement") { Description = "A configured placement (its caps and category scope)." };
        var exclude = new Option<string[]>("--exclude") { Description = "Items not to recommend.", AllowMultipleArgumentsPerToken = true };
        var command = new Command("recommend", "Recommend items to a user now, each with the reason it was chosen.") { user, count, item, category, placement, exclude };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = new SegmentationClient(parse.GetValue(address)!);
            return await RunAsync(async () =>
            {
                var request = new RecommendRequest
                {
                    UserId = parse.GetValue(user) ?? "",
                    Count = parse.GetValue(count),
                    Context = new RecommendationContext
                    {
                        ItemId = parse.GetValue(item) ?? "",
                        Category = parse.GetValue(category) ?? "",
                        Placement = parse.GetValue(placement) ?? "",
                        ExcludedItemIds = { parse.GetValue(exclude) ?? [] },
                    },
                };
                var response = await client.RecommendAsync(request, cancellationToken);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(s_json.Format(response));
                    return;
                }

                var who = response.UserId.Length == 0 ? "an anonymous visitor" : response.UserId;
                Console.WriteLine($"for {who}{(response.ColdStart ? " (no history: cold start)" : "")}, as of {Date(response.AsOf)}");
                AnsiConsole.Write(ItemTable(response.Items));
            });
        });
        return command;
    }

    public static Command Similar(Option<Uri> address, Option<bool> json)
    {
        var item = new Argument<string>("item") { Description = "The item id." };
        var count = new Option<int>("--count", "-n") { Description = "How many items (1 to 100).", DefaultValueFactory = _ => 10 };
        var command = new Command("similar", "Items often bought together with an item.") { item, count };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = new SegmentationClient(parse.GetValue(address)!);
            return await RunAsync(async () =>
            {
                var response = await client.SimilarItemsAsync(new SimilarItemsRequest { ItemId = parse.GetValue(item)!, Count = parse.GetValue(count) }, cancellationToken);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(s_json.Format(response));
                    return;
                }

                AnsiConsole.Write(ItemTable(response.Items));
            });
        });
        return command;
    }

    private static Table ItemTable(IEnumerable<RecommendedItem> items)
    {
        var table = new Table().AddColumns("#", "item", "category", "score", "why");
        var rank = 0;
        foreach (var x in items)
        {
            table.AddRow($"{++rank}", Markup.Escape(x.ItemId), Markup.Escape(x.Category), x.Score.ToString("F3", CultureInfo.InvariantCulture), Markup.Escape(x.Reason.Text));
        }

        return table;
    }

    /// <summary>Runs a call; a gRPC error becomes a one-line message and exit code 1.</summary>
    public static async Task<int> RunAsync(Func<Task> call)
    {
        try
        {
            await call();
            return 0;
        }
        catch (RpcException ex)
        {
            Console.Error.WriteLine($"error: {ex.StatusCode} ({(int)ex.StatusCode}): {ex.Status.Detail}");
            if (ex.StatusCode == StatusCode.NotFound && string.IsNullOrEmpty(SegmentationClient.Tenant) && string.IsNullOrEmpty(SegmentationClient.ApiKey))
            {
                // The newcomer's first try: the users ./run.sh printed live in tenant demo, apart from real data.
                Console.Error.WriteLine("hint: this asked tenant 'default'; the synthetic shop ./run.sh seeds is tenant 'demo': add --tenant demo (or export SEG_TENANT=demo)");
            }

            return 1;
        }
    }

    private static string Stage(LifecycleStage stage) => stage switch
    {
        LifecycleStage.New => "new",
        LifecycleStage.Active => "active",
        LifecycleStage.AtRisk => "at-risk",
        LifecycleStage.Churned => "churned",
        LifecycleStage.Reactivated => "reactivated",
        _ => "unknown",
    };

    private static string Type(EventType type) =>
        string.Concat(type.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static string Date(Google.Protobuf.WellKnownTypes.Timestamp? timestamp) =>
        timestamp is null ? "-" : timestamp.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
}
