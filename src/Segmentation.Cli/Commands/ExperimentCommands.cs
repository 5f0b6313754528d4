using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary><c>seg experiment create|show|list</c>, through <c>ExperimentService</c>.</summary>
internal static class ExperimentCommands
{
    public static Command Create(Option<Uri> address, Option<bool> json)
    {
        var id = new Argument<string>("id") { Description = "The experiment's id (a-z, 0-9, '-', '_', '.')." };
        var segment = new Option<string>("--segment") { Description = "Members of this segment take part (churn:high, lifecycle:at-risk, ml:3, rule:<id>); empty: everyone.", DefaultValueFactory = _ => "" };
        var arms = new Option<string>("--arms") { Description = "Arms with traffic shares, control first: control:50,b:50 (an arm named holdout gets nothing).", DefaultValueFactory = _ => "control:50,treatment:50" };
        var salt = new Option<string>("--salt") { Description = "Mixed into the assignment hash (default: the id).", DefaultValueFactory = _ => "" };
        var start = new Option<DateTimeOffset?>("--start") { Description = "When counting starts, event time (ISO 8601; default: the server's now)." };
        var conversion = new Option<string>("--conversion") { Description = "The event type that converts: purchase, add_to_cart, view, …", DefaultValueFactory = _ => "purchase" };
        var create = new Command("create", "Define an experiment on a segment.") { id, segment, arms, salt, start, conversion };
        create.SetAction((parse, ct) =>
        {
            var definition = new ExperimentDefinition
            {
                Id = parse.GetValue(id) ?? "",
                Segment = parse.GetValue(segment) ?? "",
                Salt = parse.GetValue(salt) ?? "",
                Conversion = ParseEventType(parse.GetValue(conversion) ?? ""),
            };
            if (parse.GetValue(start) is { } from)
            {
                definition.Start = Timestamp.FromDateTimeOffset(from);
            }

            foreach (var arm in (parse.GetValue(arms) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var colon = arm.LastIndexOf(':');
                definition.Arms.Add(colon < 0
                    ? new ExperimentArm { Name = arm, Share = 1 }
                    : new ExperimentArm { Name = arm[..colon], Share = double.TryParse(arm[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var share) ? share : double.NaN });
            }

            return SegmentationCommands.CallAsync<CreateExperimentResponse>(
                parse, address, json, (client, token) => client.Experiments.CreateExperimentAsync(definition, cancellationToken: token).ResponseAsync, ct,
                r => Console.WriteLine($"created experiment {r.Experiment.Id} on {(r.Experiment.Segment.Length > 0 ? r.Experiment.Segment : "everyone")}, arms {string.Join(", ", r.Experiment.Arms.Select(a => $"{a.Name} {a.Share.ToString(CultureInfo.InvariantCulture)}"))}, counting from {r.Experiment.Start.ToDateTimeOffset():u}"));
        });

        var showId = new Argument<string>("id") { Description = "The experiment's id." };
        var show = new Command("show", "Results per arm: exposed, converted, conversion rate, lift with its 95 % interval, p-value; the sample-ratio check.") { showId };
        show.SetAction((parse, ct) => SegmentationCommands.CallAsync<ExperimentResults>(
            parse, address, json, (client, token) => client.Experiments.GetExperimentAsync(new GetExperimentRequest { Id = parse.GetValue(showId) ?? "" }, cancellationToken: token).ResponseAsync, ct, PrintResults));

        var list = new Command("list", "The experiments of the caller's tenant.");
        list.SetAction((parse, ct) => SegmentationCommands.CallAsync<ListExperimentsResponse>(
            parse, address, json, (client, token) => client.Experiments.ListExperimentsAsync(new ListExperimentsRequest(), cancellationToken: token).ResponseAsync, ct,
            r =>
            {
                var table = new Table().AddColumns("id", "segment", "arms", "start", "conversion");
                foreach (var e in r.Experiments)
                {
                    table.AddRow(
                        Markup.Escape(e.Id),
                        Markup.Escape(e.Segment.Length > 0 ? e.Segment : "everyone"),
                        Markup.Escape(string.Join(", ", e.Arms.Select(a => $"{a.Name} {a.Share.ToString(CultureInfo.InvariantCulture)}"))),
                        e.Start.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture),
                        e.Conversion.ToString());
                }

                AnsiConsole.Write(table);
            }));
        return new Command("experiment", "Experiments on segments: create, show (results), list.") { create, show, list };
    }

    private static EventType ParseEventType(string text)
    {
        // "add_to_cart", "add-to-cart" and "AddToCart" all name EventType.AddToCart; anything else is sent as an unknown
        // value, which the server refuses naming the field.
        var name = text.Trim().Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
        return System.Enum.TryParse<EventType>(name, ignoreCase: true, out var type) && type != EventType.Unspecified ? type : (EventType)(-1);
    }

    private static void PrintResults(ExperimentResults r)
    {
        var e = r.Experiment;
        Console.WriteLine($"experiment {e.Id} on {(e.Segment.Length > 0 ? e.Segment : "everyone")}, counting from {e.Start.ToDateTimeOffset():u}, conversion {e.Conversion}");
        var table = new Table().AddColumns("arm", "exposed", "converted", "rate", "lift", "95 % interval", "p-value", "significant");
        foreach (var a in r.Arms)
        {
            table.AddRow(
                Markup.Escape(a.Arm),
                a.Exposed.ToString("N0", CultureInfo.InvariantCulture),
                a.Converted.ToString("N0", CultureInfo.InvariantCulture),
                a.ConversionRate.ToString("P2", CultureInfo.InvariantCulture),
                a.Arm == r.Arms[0].Arm ? "control" : (a.Lift * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture) + " pts",
                a.Arm == r.Arms[0].Arm ? "" : $"[{(a.LiftLow * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture)}, {(a.LiftHigh * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture)}] pts",
                a.Arm == r.Arms[0].Arm ? "" : a.PValue.ToString("0.0000", CultureInfo.InvariantCulture),
                a.Arm == r.Arms[0].Arm ? "" : a.Significant ? "yes" : "no");
        }

        AnsiConsole.Write(table);
        Console.WriteLine(r.SampleRatioMismatch
            ? $"SAMPLE RATIO MISMATCH (p = {r.SampleRatioPValue:0.0000}): exposures do not follow the shares; do not trust the lifts."
            : $"sample ratio: p = {r.SampleRatioPValue.ToString("0.0000", CultureInfo.InvariantCulture)} (no mismatch)");
        Console.WriteLine($"method: {r.Method}");
    }
}
