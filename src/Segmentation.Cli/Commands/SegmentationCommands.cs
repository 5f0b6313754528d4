using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary>
/// <c>seg model list|train|activate</c> (the user encoders a server serves), <c>seg recluster</c> and
/// <c>seg segment list|show</c> (its ML segments).
/// </summary>
internal static class SegmentationCommands
{
    private static readonly JsonFormatter s_json = new(JsonFormatter.Settings.Default.WithIndentation());

    public static Command Model(Option<Uri> address, Option<bool> json)
    {
        var list = new Command("list", "The model versions in the server's models folder.");
        list.SetAction((parse, ct) => CallAsync<ListModelsResponse>(parse, address, json, (client, token) => client.Admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: token).ResponseAsync, ct, PrintModels));

        var dimension = new Option<int>("--dimension") { Description = "D (0: the server's default)." };
        var seed = new Option<int>("--seed") { Description = "Training seed.", DefaultValueFactory = _ => 42 };
        var activate = new Option<bool>("--activate") { Description = "Serve it at once (hot swap)." };
        var train = new Command("train", "Train a user encoder on the server's event log.") { dimension, seed, activate };
        train.SetAction((parse, ct) => CallAsync<ModelVersion>(
            parse, address, json, (client, token) => client.Admin.TrainModelAsync(new TrainModelRequest { Dimension = parse.GetValue(dimension), Seed = parse.GetValue(seed), Activate = parse.GetValue(activate) }, cancellationToken: token).ResponseAsync, ct,
            PrintActivated));

        var version = new Argument<long>("version") { Description = "The version to serve." };
        var activateCommand = new Command("activate", "Serve another model version without a restart.") { version };
        activateCommand.SetAction((parse, ct) => CallAsync<ModelVersion>(
            parse, address, json, (client, token) => client.Admin.ActivateModelAsync(new ActivateModelRequest { Version = parse.GetValue(version) }, cancellationToken: token).ResponseAsync, ct, PrintActivated));
        return new Command("model", "User-encoder models: list, train, activate.") { list, train, activateCommand };
    }

    public static Command Recluster(Option<Uri> address, Option<bool> json)
    {
        var k = new Option<int>("--k") { Description = "Segments (0: choose between --k-min and --k-max: the smallest k within 0.02 of the best silhouette whose segments all have the minimum size).", DefaultValueFactory = _ => 8 };
        var kMin = new Option<int>("--k-min") { DefaultValueFactory = _ => 2 };
        var kMax = new Option<int>("--k-max") { DefaultValueFactory = _ => 12 };
        var dryRun = new Option<bool>("--dry-run") { Description = "Report what would change; publish nothing." };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var command = new Command("recluster", "Full k-means over every user's embedding; ids stay stable.") { k, kMin, kMax, dryRun, seed };
        command.SetAction((parse, ct) => CallAsync<ReclusterResponse>(
            parse,
            address,
            json,
            (client, token) => client.Admin.ReclusterAsync(
                new ReclusterRequest { K = parse.GetValue(k), KMin = parse.GetValue(kMin), KMax = parse.GetValue(kMax), DryRun = parse.GetValue(dryRun), Seed = parse.GetValue(seed) },
                cancellationToken: token).ResponseAsync,
            ct,
            r =>
            {
                var c = CultureInfo.InvariantCulture;
                Console.WriteLine(string.Create(c, $"{(r.Published ? "published" : "dry run, nothing published:")} segmentation v{r.ModelVersion}, k = {r.K}, {r.Users:N0} users, {r.UsersMoved:N0} moved, {r.Seconds:F1} s"));
                Console.WriteLine(string.Create(c, $"inertia {r.Inertia:F2}, silhouette {r.Silhouette:F3}, Davies-Bouldin {r.DaviesBouldin:F3}"));
                if (r.Criterion.Length > 0)
                {
                    Console.WriteLine("k chosen by " + r.Criterion);
                }

                foreach (var candidate in r.Candidates)
                {
                    Console.WriteLine(string.Create(c, $"  k = {candidate.K,2}: silhouette {candidate.Silhouette:F3}, smallest segment {candidate.SmallestSegment:N0}{(candidate.Eligible ? "" : " (under the minimum)")}{(candidate.K == r.K ? "  <- chosen" : "")}"));
                }

                foreach (var warning in r.Warnings)
                {
                    Console.WriteLine("warning: " + warning);
                }

                var table = new Table().AddColumns("id", "status", "size", "before", "shift", "label");
                foreach (var s in r.Segments)
                {
                    table.AddRow(s.SegmentId.ToString(c), s.Status, s.Size.ToString("N0", c), s.PreviousSize.ToString("N0", c), double.IsNaN(s.CentroidShift) ? "" : s.CentroidShift.ToString("F3", c), Markup.Escape(s.Label));
                }

                AnsiConsole.Write(table);
            }));
        return command;
    }

    public static Command Segment(Option<Uri> address, Option<bool> json)
    {
        var list = new Command("list", "Every segmentation's segments (ML, value, lifecycle, rules) with live sizes and business metrics next to the shop's.");
        list.SetAction((parse, ct) => CallAsync<ListSegmentsResponse>(parse, address, json, (client, token) => client.Segments.ListSegmentsAsync(new ListSegmentsRequest(), cancellationToken: token).ResponseAsync, ct, r =>
        {
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(r.ModelVersion == 0 ? "no ML segmentation for this tenant yet: seg recluster --k 0 clusters its users (with no user encoder served, seg model train --activate first)" : $"ML segmentation v{r.ModelVersion} over user encoder v{r.EmbeddingModelVersion}");
            AnsiConsole.Write(MetricsTable(r.Segments.Select(s => ("ml:" + s.SegmentId.ToString(c), s.Label, s.Size, s.Metrics)), r.Shop));
            Console.WriteLine(r.ValueModelVersion.Length == 0 ? "no value segmentation for this tenant yet: seg value train" : $"value (RFM) segmentation {r.ValueModelVersion}");
            AnsiConsole.Write(MetricsTable(r.ValueSegments.Select(s => (s.SegmentId, s.Label, s.Size, s.Metrics)), r.Shop));
            Console.WriteLine("lifecycle");
            AnsiConsole.Write(MetricsTable(r.LifecycleSegments.Select(s => (s.SegmentId, s.Label, s.Size, s.Metrics)), r.Shop));
            Console.WriteLine("rules");
            AnsiConsole.Write(MetricsTable(r.RuleSegments.Select(s => (s.SegmentId, s.Label, s.Size, s.Metrics)), r.Shop));
            Console.WriteLine($"business metrics as of {r.MetricsAsOf?.ToDateTimeOffset().ToString("u", c)} (domain time): conversion = share who bought, AOV = spend per order, frequency = orders per buyer, retention = of members first seen 30+ days ago, active in the last 30");
        }));

        var id = new Argument<int>("id") { Description = "The segment id." };
        var show = new Command("show", "One ML segment: size, label, statistics.") { id };
        show.SetAction((parse, ct) => CallAsync<Segment>(parse, address, json, (client, token) => client.Segments.GetSegmentAsync(new GetSegmentRequest { SegmentId = parse.GetValue(id) }, cancellationToken: token).ResponseAsync, ct, s =>
        {
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"segment {s.SegmentId} '{s.Label}' (model v{s.ModelVersion}): {s.Size:N0} users"));
            Console.WriteLine(string.Create(c, $"buyers {s.BuyerShare:P0}, mean spend {s.MeanMonetary:F2}, orders {s.MeanOrders:F2}, order value {s.MeanOrderValue:F2}, last seen {s.MeanRecencyDays:F0} days ago"));
            Console.WriteLine("top categories: " + string.Join(", ", s.TopCategories.Select(t => string.Create(c, $"{t.Category} {t.Share:P0}"))));
            Console.WriteLine("top items: " + string.Join(", ", s.TopItems.Select(t => $"{t.ItemId} ({t.Buyers})")));
            Console.WriteLine("lifecycle: " + string.Join(", ", s.LifecycleMix.Select(l => $"{l.Stage} {l.Members}")));
        }));
        return new Command("segment", "ML segments: list, show.") { list, show };
    }

    private static Table MetricsTable(IEnumerable<(string Id, string Label, long Size, SegmentBusinessMetrics Metrics)> rows, SegmentBusinessMetrics? shop)
    {
        var c = CultureInfo.InvariantCulture;
        string P(double v) => double.IsNaN(v) ? "-" : v.ToString("P1", c);
        var table = new Table().AddColumns("id", "label", "size", "conversion", "AOV", "revenue", "orders/buyer", "retention 30d", "churned");
        void Add(string id, string label, long size, SegmentBusinessMetrics? m) => table.AddRow(
            Markup.Escape(id), Markup.Escape(label), size.ToString("N0", c), P(m?.ConversionRate ?? 0), (m?.AverageOrderValue ?? 0).ToString("N2", c),
            P(m?.RevenueShare ?? 0), (m?.PurchaseFrequency ?? 0).ToString("N2", c), P(m?.Retention30D ?? double.NaN), P(m?.ChurnRate ?? 0));
        foreach (var (id, label, size, metrics) in rows)
        {
            Add(id, label, size, metrics);
        }

        if (shop is not null)
        {
            Add("shop", "average of every user", shop.Users, shop);
        }

        return table;
    }

    /// <summary><c>seg churn train</c>: the server trains its churn model on its own event log and serves it.</summary>
    public static Command Churn(Option<Uri> address, Option<bool> json)
    {
        var train = new Command("train", "Train the churn model on the server's event log (labels from history) and serve it.");
        train.SetAction((parse, ct) => CallAsync<ChurnModelInfo>(
            parse,
            address,
            json,
            (client, token) => client.Admin.TrainChurnModelAsync(new TrainChurnModelRequest(), cancellationToken: token).ResponseAsync,
            ct,
            m =>
            {
                var c = CultureInfo.InvariantCulture;
                Console.WriteLine(string.Create(c, $"served churn model {m.Version}: horizon {m.HorizonDays} days, {m.Examples:N0} labelled users up to {m.Cutoff.ToDateTimeOffset():yyyy-MM-dd}, churn rate {m.ChurnRate:P1}"));
                for (var i = 0; i < m.Features.Count; i++)
                {
                    Console.WriteLine(string.Create(c, $"  {m.Features[i],-28} {m.Weights[i],7:+0.000;-0.000} per standard deviation"));
                }
            }));
        return new Command("churn", "The churn-risk model.") { train };
    }

    public static Command Anomaly(Option<Uri> address, Option<bool> json)
    {
        var train = new Command("train", "Grow the anomaly model (an Isolation Forest over every user's profile rates) and serve it.");
        train.SetAction((parse, ct) => CallAsync<AnomalyModelInfo>(
            parse,
            address,
            json,
            (client, token) => client.Admin.TrainAnomalyModelAsync(new TrainAnomalyModelRequest(), cancellationToken: token).ResponseAsync,
            ct,
            m => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"served anomaly model {m.Version}: {m.Users:N0} users, {m.Flagged:N0} flagged at score {m.FlagThreshold} or more (segment anomaly:flagged); inputs {string.Join(", ", m.Features)}"))));
        return new Command("anomaly", "The anomaly model (bots, card testing).") { train };
    }

    public static Command Value(Option<Uri> address, Option<bool> json)
    {
        var train = new Command("train", "Segment the buyers by value (RFM: k-means and a Gaussian mixture) and serve it.");
        train.SetAction((parse, ct) => CallAsync<ValueSegmentationInfo>(
            parse,
            address,
            json,
            (client, token) => client.Admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest(), cancellationToken: token).ResponseAsync,
            ct,
            m =>
            {
                var c = CultureInfo.InvariantCulture;
                Console.WriteLine(string.Create(c, $"served value segmentation {m.Version}: {m.Method}, k {m.K}, silhouette {m.Silhouette:0.000}, Davies-Bouldin {m.DaviesBouldin:0.000}, {m.Customers:N0} buyers"));
                foreach (var s in m.Segments.OrderByDescending(s => s.Size))
                {
                    Console.WriteLine(string.Create(c, $"  value:{s.SegmentId,-3} {s.Label,-20} {s.Size,7:N0} buyers  last order {s.RecencyDays,6:0} days ago  {s.Frequency,6:0.0} orders  {s.Monetary,10:0.00} spent"));
                }

                Console.WriteLine("candidates (k-means best by silhouette, mixture best by BIC; the higher silhouette of the two is served):");
                foreach (var candidate in m.Candidates)
                {
                    Console.WriteLine(string.Create(c, $"  {candidate.Method,-7} k {candidate.K}  silhouette {candidate.Silhouette:0.000}  Davies-Bouldin {candidate.DaviesBouldin:0.000}{(candidate.Method == "gmm" ? $"  BIC {candidate.Bic:0}" : "")}"));
                }
            }));
        return new Command("value", "The value (RFM) segmentation.") { train };
    }

    internal static async Task<int> CallAsync<TResponse>(
        ParseResult parse, Option<Uri> address, Option<bool> json, Func<SegmentationClient, CancellationToken, Task<TResponse>> call, CancellationToken cancellationToken, Action<TResponse> print)
        where TResponse : class, IMessage<TResponse>
    {
        using var client = new SegmentationClient(parse.GetValue(address)!);
        return await QueryCommands.RunAsync(async () =>
        {
            var response = await call(client, cancellationToken);
            if (parse.GetValue(json))
            {
                Console.WriteLine(s_json.Format(response));
            }
            else
            {
                print(response);
            }
        });
    }

    /// <summary>The model, and what its activation did to the ML segments.</summary>
    private static void PrintActivated(ModelVersion model)
    {
        PrintModels(new ListModelsResponse { Models = { model } });
        if (model.Segmentation is { } segmentation)
        {
            Console.WriteLine($"ML segments: {segmentation.Message}");
        }
    }

    private static void PrintModels(ListModelsResponse response)
    {
        var c = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("version", "active", "created", "producer", "D", "L", "items", "metrics");
        foreach (var m in response.Models)
        {
            table.AddRow(
                m.Version.ToString(c), m.Active ? "yes" : "", m.CreatedAt?.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", c) ?? "", Markup.Escape(m.Producer),
                m.Dimension.ToString(c), m.HistoryLength.ToString(c), m.ItemCount.ToString("N0", c),
                Markup.Escape(string.Join(", ", m.Metrics.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(c, $"{p.Key} {p.Value:G4}")))));
        }

        AnsiConsole.Write(table);
    }
}
