using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using Segmentation.Core.Recommendations.Evaluation;
using Segmentation.Host.Seeding;
using Spectre.Console;

namespace Segmentation.Bench.Commands;

/// <summary>
/// <c>segbench eval-session</c>: the served list against session-aware baselines, on the synthetic shop (views, carts,
/// purchases) and on MovieLens-100k, through the live gRPC path. Per dataset: a fresh server in this process, the
/// training part of a time-ordered split per user (<see cref="SessionSplit"/>) ingested over gRPC, the item model trained
/// (<c>AdminService.TrainItemModel</c>, whose blend is tuned on its own held-out training interactions, never on the
/// test targets), then <c>Recommend</c> (10 items) asked for every evaluated user. Hit-rate@10 and NDCG@10 for her next
/// interaction and her next purchase, and hit-rate for targets new to her, next to <i>recently viewed by her</i>,
/// <i>popularity</i> and <i>item co-occurrence alone</i> computed from the same training events; on the shop also
/// co-occurrence alone in as many places as the served list gives items new to her (its ranking of new items compared
/// place for place, apart from the discovery split's share). On the shop also
/// personalisation: the share of each list in her top-3 affinity categories (quartiles) and catalogue coverage, for the
/// personalised list, the same service's unpersonalised placement (today's ranking) and popularity. Numbers, not thresholds.
/// </summary>
internal static class SessionEvalCommand
{
    private const int K = 10;
    private const int Callers = 8;
    private const string Unpersonalised = "unpersonalised";

    public static Command Create()
    {
        var users = new Option<int>("--users") { Description = "Users of the synthetic shop.", DefaultValueFactory = _ => 2_000 };
        var data = new Option<string?>("--movielens") { Description = "The movielens-100k folder (default: ../shared/datasets/movielens-100k beside the repository)." };
        var only = new Option<string?>("--only") { Description = "shop or movielens (default: both)." };
        only.AcceptOnlyFromAmong("shop", "movielens");
        var settings = new Option<string[]>("--set") { Description = "Server settings Key=Value (under Segmentation:), e.g. Recommendations:ItemModel:DenseMaxItems=0.", AllowMultipleArgumentsPerToken = true };
        var command = new Command("eval-session", "Served list vs recently viewed, popularity and co-occurrence: next interaction and next purchase, over gRPC.") { users, data, only, settings };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores; k = {K}; time-ordered split per user (80 % of her item events for training)");
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 140);
            var which = parse.GetValue(only);
            var set = (parse.GetValue(settings) ?? []).Select(s => "--Segmentation:" + s).ToArray();
            if (which is null or "shop")
            {
                var shop = new SyntheticShop(seed: 20_101_201, end: TimeProvider.System.GetUtcNow() - TimeSpan.FromMinutes(1));
                var events = Enumerable.Range(0, parse.GetValue(users)).SelectMany(shop.UserEvents).ToList();
                await RunAsync("synthetic shop", events, e => e.Type == EventType.Purchase, excludeSeen: false, shop.ItemCount, set, cancellationToken);
            }

            if (which is null or "movielens")
            {
                var directory = parse.GetValue(data) ?? Path.GetFullPath(Path.Combine(Paths.Root, "..", "shared", "datasets", "movielens-100k"));
                await RunAsync("MovieLens-100k", MovieLens(directory), e => e.Rating >= 4, excludeSeen: true, 1_682, set, cancellationToken);
            }

            return 0;
        });
        return command;
    }

    private static async Task RunAsync(string name, List<Event> events, Func<Event, bool> isPurchase, bool excludeSeen, int catalogue, string[] settings, CancellationToken cancellationToken)
    {
        var split = SessionSplit.Make(events, isPurchase);
        Console.WriteLine();
        Console.WriteLine($"{name}: {events.Count:N0} events, {split.Train.Count:N0} for training, {split.Cases.Count:N0} users evaluated "
            + $"({split.Cases.Count(c => c.NextPurchase is not null):N0} with a next {(excludeSeen ? "4-5 star rating" : "purchase")}); "
            + (excludeSeen ? "her training items excluded from every list (each movie is rated once)" : "nothing excluded but what she bought"));
        await using var temporary = await TemporaryServer.StartAsync("seg-eval-session-",
        [
            "--Segmentation:Clock=EventTime",
            "--Segmentation:EarliestEventTime=1995-01-01",
            "--Segmentation:Profiles:HistoryInteractions=1000",
            "--Segmentation:SqliteSynchronous=NORMAL",
            $"--Segmentation:Recommendations:Placements:{Unpersonalised}:Personalized=false",
            .. settings,
        ], cancellationToken);
        using var clients = new ServiceClients(temporary.Server.Address);
        var watch = Stopwatch.StartNew();
        foreach (var chunk in split.Train.Chunk(2_000))
        {
            var request = new IngestEventsRequest();
            request.Events.AddRange(chunk);
            var response = await clients.Events.IngestEventsAsync(request, cancellationToken: cancellationToken);
            if (response.Accepted + response.Duplicates != chunk.Length)
            {
                throw new InvalidOperationException($"the server stored {response.Accepted + response.Duplicates} of {chunk.Length} events: {response.Results.FirstOrDefault(r => r.Reason.Length > 0)?.Reason}");
            }
        }

        Console.WriteLine($"  ingested over gRPC in {watch.Elapsed.TotalSeconds:F1} s");
        watch.Restart();
        var model = await clients.Admin.TrainItemModelAsync(new TrainItemModelRequest(), cancellationToken: cancellationToken);
        Console.WriteLine($"  item model: {model.Items:N0} items ({(model.Neighbours == 0 ? "dense" : $"{model.Neighbours} neighbours each")}), validation NDCG@10 {model.ValidationNdcg:F3}, blend "
            + string.Join(", ", model.BlendWeights.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value.ToString(CultureInfo.InvariantCulture)}"))
            + $"; recency half-life {TimeSpan.FromSeconds(model.RecentlyViewedHalfLifeSeconds)}, affinity boost {model.AffinityBoost.ToString(CultureInfo.InvariantCulture)}, category cap {model.MaxCategoryShare.ToString(CultureInfo.InvariantCulture)}, popularity outside her top categories {model.PopularityOutsideWeight.ToString(CultureInfo.InvariantCulture)}{(model.PopularityNewItemsOnly ? " (new items only)" : "")}, discovery share {model.DiscoveryShare.ToString(CultureInfo.InvariantCulture)} (validation new-to-her HR {model.ValidationNewHitRate:F3}); {watch.Elapsed.TotalSeconds:F1} s");

        watch.Restart();
        var served = new ConcurrentDictionary<string, List<string>>();
        var plain = new ConcurrentDictionary<string, List<string>>();
        var top3 = new ConcurrentDictionary<string, HashSet<string>>();
        await Parallel.ForEachAsync(split.Cases, new ParallelOptions { MaxDegreeOfParallelism = Callers, CancellationToken = cancellationToken }, async (c, ct) =>
        {
            served[c.UserId] = await AskAsync(clients, c, "", excludeSeen, ct);
            if (!excludeSeen)
            {
                plain[c.UserId] = await AskAsync(clients, c, Unpersonalised, excludeSeen, ct);
                var profile = await clients.Profiles.GetProfileAsync(new GetProfileRequest { UserId = c.UserId }, cancellationToken: ct);
                top3[c.UserId] = [.. profile.TopCategories.Where(a => !a.Category.Contains('.', StringComparison.Ordinal)).Take(3).Select(a => a.Category)];
            }
        });
        Console.WriteLine($"  asked Recommend for {split.Cases.Count:N0} users over gRPC in {watch.Elapsed.TotalSeconds:F1} s");

        var baselines = new SessionBaselines(split.Train);
        var empty = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlySet<string> Excluded(SessionCase c) => excludeSeen ? c.Seen : empty;
        var methods = new List<(string Name, Func<SessionCase, IReadOnlyList<string>> Recommend)>
        {
            ("served: Recommend over gRPC", c => served[c.UserId]),
        };
        if (!excludeSeen)
        {
            methods.Add(($"served, placement '{Unpersonalised}' (no affinities)", c => plain[c.UserId]));
        }

        methods.Add(("recently viewed by her, newest first", c => SessionBaselines.RecentlyViewed(c, Excluded(c), K)));
        methods.Add(("popularity", c => baselines.Popularity(c, Excluded(c), K)));
        methods.Add(("item co-occurrence alone", c => baselines.CoOccurrence(c, Excluded(c), K)));
        if (!excludeSeen)
        {
            // Where her training items are excluded every place is for new items, and this row is the one above.
            methods.Add(("item co-occurrence alone, in as many places as the served list gives new items", c => baselines.CoOccurrenceInNewPlacesOf(served[c.UserId], c, Excluded(c))));
        }

        var table = new Table().Title($"{name}: HR@10 / NDCG@10 (new to her: HR@10 over targets she had not touched in training)")
            .AddColumns("method", "next: HR", "next: NDCG", "next, new: HR", "purchase: HR", "purchase: NDCG", "purchase, new: HR");
        foreach (var (method, recommend) in methods)
        {
            var next = new Score();
            var purchase = new Score();
            foreach (var c in split.Cases)
            {
                var list = recommend(c);
                next.Add(list, c.NextItem, !c.Seen.Contains(c.NextItem));
                if (c.NextPurchase is { } p)
                {
                    purchase.Add(list, p, !c.Seen.Contains(p));
                }
            }

            table.AddRow(Markup.Escape(method), F(next.HitRate), F(next.Ndcg), F(next.NewHitRate), F(purchase.HitRate), F(purchase.Ndcg), F(purchase.NewHitRate));
        }

        var first = split.Cases.Count > 0 ? split.Cases : [];
        var nextNew = first.Count(c => !c.Seen.Contains(c.NextItem));
        var purchaseNew = first.Count(c => c.NextPurchase is { } p && !c.Seen.Contains(p));
        AnsiConsole.Write(table);
        Console.WriteLine($"  cases: next {first.Count:N0} ({nextNew:N0} new to her); purchase {first.Count(c => c.NextPurchase is not null):N0} ({purchaseNew:N0} new to her)");

        if (!excludeSeen)
        {
            var personal = new Table().Title($"{name}: share of each user's top-10 in her top-3 affinity categories (her profile over gRPC), and catalogue coverage")
                .AddColumns("list", "share q1", "median", "q3", "mean", "coverage (distinct items / catalogue)");
            foreach (var (method, recommend) in methods.Where(m => !m.Name.StartsWith("recently", StringComparison.Ordinal)))
            {
                var shares = split.Cases.Where(c => top3[c.UserId].Count > 0).Select(c =>
                {
                    var list = recommend(c);
                    return list.Count == 0 ? 0 : list.Count(i => top3[c.UserId].Contains(TopCategoryOf(i, events))) / (double)list.Count;
                }).Order().ToArray();
                var distinct = split.Cases.SelectMany(recommend).Distinct(StringComparer.Ordinal).Count();
                personal.AddRow(Markup.Escape(method), F(Quantile(shares, 0.25)), F(Quantile(shares, 0.5)), F(Quantile(shares, 0.75)), F(shares.DefaultIfEmpty().Average()),
                    $"{distinct / (double)catalogue:F3} ({distinct:N0} / {catalogue:N0})");
            }

            AnsiConsole.Write(personal);
        }
    }

    private static async Task<List<string>> AskAsync(ServiceClients clients, SessionCase c, string placement, bool excludeSeen, CancellationToken cancellationToken)
    {
        var request = new RecommendRequest { UserId = c.UserId, Count = K, Context = new RecommendationContext { Placement = placement } };
        if (excludeSeen)
        {
            request.Context.ExcludedItemIds.AddRange(c.Seen);
        }

        var response = await clients.Recommendations.RecommendAsync(request, cancellationToken: cancellationToken);
        return [.. response.Items.Select(x => x.ItemId)];
    }

    private static Dictionary<string, string>? s_categories;

    // The top-level category of an item, from the events that name it.
    private static string TopCategoryOf(string item, List<Event> events)
    {
        s_categories ??= events.Where(e => e.ItemId.Length > 0 && e.Category.Length > 0).GroupBy(e => e.ItemId)
            .ToDictionary(g => g.Key, g => g.First().Category.Split('.')[0], StringComparer.Ordinal);
        return s_categories.GetValueOrDefault(item) ?? "";
    }

    private static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(q * (sorted.Length - 1)))];

    private static string F(double value) => double.IsNaN(value) ? "-" : value.ToString("F3", CultureInfo.InvariantCulture);

    private static List<Event> MovieLens(string directory)
    {
        var path = Path.Combine(directory, "u.data.gz");
        using var file = File.OpenRead(path);
        using var reader = new StreamReader(new GZipStream(file, CompressionMode.Decompress));
        var events = new List<Event>();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            var r = MovieLensRating.Parse(line);
            var (user, item) = (r.UserId.ToString(CultureInfo.InvariantCulture), r.ItemId.ToString(CultureInfo.InvariantCulture));
            events.Add(new Event
            {
                EventId = $"ml-{user}-{item}-{r.UnixTime}",
                Type = EventType.Rating,
                UserId = user,
                ItemId = item,
                Rating = r.Rating,
                Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeSeconds(r.UnixTime)),
            });
        }

        return events;
    }

    // Hits and NDCG of one target per case (rank r from 0: 1 / log2(r + 2)).
    private sealed class Score
    {
        private int _cases;
        private int _hits;
        private double _ndcg;
        private int _newCases;
        private int _newHits;

        public double HitRate => _cases == 0 ? double.NaN : _hits / (double)_cases;

        public double Ndcg => _cases == 0 ? double.NaN : _ndcg / _cases;

        public double NewHitRate => _newCases == 0 ? double.NaN : _newHits / (double)_newCases;

        public void Add(IReadOnlyList<string> list, string target, bool isNew)
        {
            _cases++;
            _newCases += isNew ? 1 : 0;
            for (var r = 0; r < Math.Min(K, list.Count); r++)
            {
                if (list[r] == target)
                {
                    _hits++;
                    _newHits += isNew ? 1 : 0;
                    _ndcg += 1 / Math.Log2(r + 2);
                    return;
                }
            }
        }
    }
}
