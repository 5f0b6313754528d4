using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Segmentation.Core.Recommendations.Evaluation;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary>
/// <c>seg eval movielens [--data DIR] [--protocol folds|split|both]</c>: offline top-10 quality of our recommenders
/// on MovieLens-100k, next to the published Microsoft Recommenders numbers (DESIGN §11), labelled by protocol.
/// </summary>
internal static class EvalCommand
{
    /// <summary>
    /// Published P@10 / R@10 / NDCG@10 / MAP on MovieLens-100k, random 75/25 split, k = 10: Microsoft Recommenders'
    /// README "Algorithm Comparison" table (DESIGN §11), made by its benchmark notebook
    /// (examples/06_benchmarks/movielens.ipynb) with <c>python_stratified_split(ratio=0.75, filter_by="item")</c>, seed 42.
    /// </summary>
    internal static readonly (string Model, double Precision, double Recall, double Ndcg, double Map)[] Published =
    [
        ("BiVAE", 0.412, 0.219, 0.475, 0.146),
        ("BPR", 0.388, 0.213, 0.442, 0.132),
        ("SAR", 0.331, 0.176, 0.382, 0.111),
    ];

    internal const string UserSplitProtocol = "75/25 per user, seed 42";

    internal const string ItemSplitProtocol = "75/25 per item, seed 42";

    internal const string FoldsProtocol = "u1..u5 folds, mean";

    public static Command Create(Option<Uri> address)
    {
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = "The movielens-100k folder (u.data[.gz], u1..u5.base/.test[.gz]); default: ../shared/datasets/movielens-100k found upwards.",
        };
        var protocol = new Option<string>("--protocol")
        {
            Description = "folds (canonical u1..u5), split (random 75/25 stratified per user and per item, seed 42) or both.",
            DefaultValueFactory = _ => "both",
        };
        protocol.AcceptOnlyFromAmong("folds", "split", "both");
        var live = new Option<string?>("--live")
        {
            Description = "Evaluate the served list through a running, empty service at --address instead, on one split: item (75/25 per item, the published table's), user, or u1..u5.",
        };
        live.AcceptOnlyFromAmong("item", "user", "u1", "u2", "u3", "u4", "u5");
        var movielens = new Command("movielens", "Precision/recall/NDCG/MAP@10 on MovieLens-100k next to published numbers.") { data, protocol, live };
        movielens.SetAction(async (parse, cancellationToken) =>
        {
            var directory = parse.GetValue(data)?.FullName ?? FindDataset();
            if (directory is null || !Directory.Exists(directory))
            {
                Console.Error.WriteLine($"error: MovieLens-100k folder not found ({directory ?? "no ../shared/datasets/movielens-100k above the current or program folder"}); pass --data DIR.");
                return 2;
            }

            try
            {
                if (parse.GetValue(live) is { } split)
                {
                    await RunLiveAsync(directory, split, parse.GetValue(address)!, Console.Out, cancellationToken);
                }
                else
                {
                    Run(directory, parse.GetValue(protocol)!, Console.Out);
                }

                return 0;
            }
            catch (Exception ex) when (ex is IOException or FormatException or InvalidDataException)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return 2;
            }
            catch (Grpc.Core.RpcException ex)
            {
                Console.Error.WriteLine($"error: {ex.StatusCode}: {ex.Status.Detail}");
                return 1;
            }
        });
        return new Command("eval", "Offline evaluation of the recommenders.") { movielens };
    }

    /// <summary>Runs the protocols and writes the table; returns the rows (protocol, model, metrics).</summary>
    internal static List<(string Protocol, string Model, RankingMetrics Metrics)> Run(string directory, string protocol, TextWriter output)
    {
        var rows = new List<(string Protocol, string Model, RankingMetrics Metrics)>();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 150;
        var table = new Table().Title($"MovieLens-100k, k = {MovieLensEvaluation.K}, training items excluded")
            .AddColumns("protocol", "model", "P@10", "R@10", "NDCG@10", "MAP", "MAP@10", "users", "train s", "score s");
        var total = Stopwatch.StartNew();
        if (protocol is "split" or "both")
        {
            var all = Read(directory, "u.data");
            foreach (var (by, label) in new[] { (StratifyBy.User, UserSplitProtocol), (StratifyBy.Item, ItemSplitProtocol) })
            {
                var (train, test) = MovieLensEvaluation.RandomSplit(all, by);
                foreach (var model in MovieLensEvaluation.Default)
                {
                    var (metrics, trainTime, scoreTime) = Measure(model, train, test);
                    rows.Add((label, model.Name, metrics));
                    AddRow(table, label, model.Name, metrics, trainTime, scoreTime);
                }
            }

            foreach (var (name, p, r, ndcg, map) in Published)
            {
                table.AddRow(Markup.Escape(ItemSplitProtocol), $"{name} (published)", F(p), F(r), F(ndcg), F(map), "", "", "", "");
            }
        }

        if (protocol is "folds" or "both")
        {
            foreach (var model in MovieLensEvaluation.Default)
            {
                var folds = new List<RankingMetrics>();
                for (var fold = 1; fold <= 5; fold++)
                {
                    var train = Read(directory, $"u{fold}.base");
                    var test = Read(directory, $"u{fold}.test");
                    var (metrics, trainTime, scoreTime) = Measure(model, train, test);
                    folds.Add(metrics);
                    AddRow(table, $"u{fold} fold", model.Name, metrics, trainTime, scoreTime);
                }

                var mean = new RankingMetrics(
                    MovieLensEvaluation.K,
                    (int)Math.Round(folds.Average(m => m.Users)),
                    folds.Average(m => m.Precision),
                    folds.Average(m => m.Recall),
                    folds.Average(m => m.Ndcg),
                    folds.Average(m => m.Map),
                    folds.Average(m => m.MapAtK));
                rows.Add((FoldsProtocol, model.Name, mean));
                AddRow(table, FoldsProtocol, model.Name, mean, null, null);
            }
        }

        console.Write(table);
        output.WriteLine("MAP = Recommenders' map (normalised by all relevant items; the published tables' MAP); MAP@10 = its map_at_k (by min(relevant, 10)).");
        output.WriteLine("Published: Microsoft Recommenders' table (benchmark notebook: 75/25 split stratified per item, seed 42). The per-user split is");
        output.WriteLine("python_stratified_split's default; the u1..u5 folds are a different protocol again (20% test per fold): compare numbers only within a protocol.");
        output.WriteLine($"total {total.Elapsed.TotalSeconds:F1} s on {Environment.ProcessorCount} cores");
        return rows;
    }

    /// <summary>
    /// The served list of one split through the live gRPC path, next to SAR, popularity and offline EASEᴿ on the same
    /// split in the same run.
    /// </summary>
    internal static async Task<List<(string Model, RankingMetrics Metrics)>> RunLiveAsync(string directory, string split, Uri address, TextWriter output, CancellationToken cancellationToken)
    {
        var (train, test, label) = split switch
        {
            "item" => Split(MovieLensEvaluation.RandomSplit(Read(directory, "u.data"), StratifyBy.Item), ItemSplitProtocol),
            "user" => Split(MovieLensEvaluation.RandomSplit(Read(directory, "u.data"), StratifyBy.User), UserSplitProtocol),
            _ => (Read(directory, $"{split}.base"), Read(directory, $"{split}.test"), $"{split} fold"),
        };
        output.WriteLine($"MovieLens-100k {label}: {train.Count:N0} training and {test.Count:N0} test ratings; served list from {address}");
        var rows = new List<(string Model, RankingMetrics Metrics)>
        {
            ("served: Recommend over gRPC (live)", await LiveEvaluation.RunAsync(address, train, test, output, cancellationToken)),
        };
        foreach (var model in new[] { MovieLensEvaluation.Sar, MovieLensEvaluation.Popularity, MovieLensEvaluation.Ease })
        {
            rows.Add((model.Name + ", offline", Measure(model, train, test).Metrics));
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 150;
        var table = new Table().Title($"MovieLens-100k, {label}, k = {MovieLensEvaluation.K}, training items excluded")
            .AddColumns("model", "P@10", "R@10", "NDCG@10", "MAP", "MAP@10", "users");
        foreach (var (model, m) in rows)
        {
            table.AddRow(Markup.Escape(model), F(m.Precision), F(m.Recall), F(m.Ndcg), F(m.Map), F(m.MapAtK), m.Users.ToString(CultureInfo.InvariantCulture));
        }

        if (split == "item")
        {
            foreach (var (name, p, r, ndcg, map) in Published)
            {
                table.AddRow($"{name} (published)", F(p), F(r), F(ndcg), F(map), "", "");
            }
        }

        console.Write(table);
        return rows;

        static (List<MovieLensRating>, List<MovieLensRating>, string) Split((List<MovieLensRating> Train, List<MovieLensRating> Test) s, string label) => (s.Train, s.Test, label);
    }

    private static (RankingMetrics Metrics, TimeSpan Train, TimeSpan Score) Measure(RecommenderUnderTest model, List<MovieLensRating> train, List<MovieLensRating> test)
    {
        var watch = Stopwatch.StartNew();
        var source = model.Train(train);
        var trainTime = watch.Elapsed;
        watch.Restart();
        var metrics = MovieLensEvaluation.Evaluate(train, test, source);
        return (metrics, trainTime, watch.Elapsed);
    }

    private static void AddRow(Table table, string protocol, string model, RankingMetrics m, TimeSpan? train, TimeSpan? score) =>
        table.AddRow(
            Markup.Escape(protocol), Markup.Escape(model), F(m.Precision), F(m.Recall), F(m.Ndcg), F(m.Map), F(m.MapAtK),
            m.Users.ToString(CultureInfo.InvariantCulture),
            train is { } t ? t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) : "",
            score is { } s ? s.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) : "");

    private static string F(double value) => value.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>Reads <paramref name="name"/> or <paramref name="name"/>.gz from <paramref name="directory"/>, in file order.</summary>
    internal static List<MovieLensRating> Read(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        if (!File.Exists(path))
        {
            path += ".gz";
        }

        if (!File.Exists(path))
        {
            throw new IOException($"{Path.Combine(directory, name)}[.gz] not found.");
        }

        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream);
        var ratings = new List<MovieLensRating>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                ratings.Add(MovieLensRating.Parse(line));
            }
        }

        return ratings;
    }

    /// <summary>The first <c>shared/datasets/movielens-100k</c> above the current folder or the program's folder.</summary>
    internal static string? FindDataset()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "datasets", "movielens-100k");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
