using System.IO.Compression;
using Segmentation.Cli.Formats;
using Segmentation.Core;
using Segmentation.Core.Recommendations.Evaluation;
using Segmentation.Host.Seeding;
using Segmentation.Storage;

namespace Segmentation.Bench.Growth;

/// <summary>A dataset as each user's events, oldest first.</summary>
internal sealed record UserEvents(string Name, List<(string UserId, IReadOnlyList<BehaviorEvent> Events)> Users)
{
    public DateTimeOffset First => Users.Min(u => u.Events[0].Timestamp);

    public DateTimeOffset Last => Users.Max(u => u.Events[^1].Timestamp);

    public long EventCount => Users.Sum(u => (long)u.Events.Count);
}

/// <summary>Loads the shared datasets and the synthetic shop as domain events.</summary>
internal static class Datasets
{
    /// <summary>The shop seed and end <c>./run.sh</c> uses (its end is "a minute ago"; a fixed instant here, so runs repeat).</summary>
    public const int ShopSeed = 20_101_201;

    public static readonly DateTimeOffset ShopEnd = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    public static string Folder(string name)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "datasets", name);
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException($"no shared/datasets/{name} above {Directory.GetCurrentDirectory()}");
    }

    /// <summary>MovieLens-100k: each rating is an activity (a rating event) at its time.</summary>
    public static UserEvents MovieLens()
    {
        var path = Path.Combine(Folder("movielens-100k"), "u.data.gz");
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var byUser = new Dictionary<string, List<BehaviorEvent>>();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            var r = MovieLensRating.Parse(line);
            var user = "ml" + r.UserId;
            if (!byUser.TryGetValue(user, out var list))
            {
                byUser[user] = list = [];
            }

            list.Add(new BehaviorEvent
            {
                EventId = $"{user}-{r.ItemId}",
                UserId = user,
                Type = EventType.Rating,
                ItemId = "m" + r.ItemId,
                Rating = r.Rating,
                Timestamp = DateTimeOffset.FromUnixTimeSeconds(r.UnixTime),
            });
        }

        return Sorted("MovieLens-100k", byUser);
    }

    /// <summary>The Online Retail sample through seg's reader (the rows <c>seg ingest</c> sends); rows without a customer left out.</summary>
    public static UserEvents OnlineRetail()
    {
        var path = Path.Combine(Folder("online-retail-sample"), "online_retail.first19999.csv.gz");
        var byUser = new Dictionary<string, List<BehaviorEvent>>();
        var rows = EventFileReader.ReadAsync(path, EventFileFormat.OnlineRetail, CancellationToken.None).ToBlockingEnumerable();
        foreach (var wire in rows)
        {
            var e = EventCodec.FromWire(wire, out var error);
            if (error is not null || EventValidator.Validate(e, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero), DateTimeOffset.UnixEpoch) is not null)
            {
                continue;
            }

            if (!byUser.TryGetValue(e.UserId, out var list))
            {
                byUser[e.UserId] = list = [];
            }

            list.Add(e);
        }

        return Sorted("Online Retail (first 19,999 rows)", byUser);
    }

    /// <summary>The synthetic shop of <c>./run.sh</c> (same generator and seed), with each user's persona.</summary>
    public static (UserEvents Events, Dictionary<string, string> Personas) Shop(int users)
    {
        var shop = new SyntheticShop(ShopSeed, ShopEnd);
        var byUser = new Dictionary<string, List<BehaviorEvent>>();
        var personas = new Dictionary<string, string>();
        for (var u = 0; u < users; u++)
        {
            var id = SyntheticShop.UserId(u);
            personas[id] = SyntheticShop.PersonaOf(u);
            byUser[id] = [.. shop.UserEvents(u).Select(w => EventCodec.FromWire(w, out _))];
        }

        return (Sorted($"synthetic shop ({users} users)", byUser), personas);
    }

    private static UserEvents Sorted(string name, Dictionary<string, List<BehaviorEvent>> byUser) =>
        new(name, [.. byUser.Where(p => p.Value.Count > 0).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => (p.Key, (IReadOnlyList<BehaviorEvent>)[.. p.Value.OrderBy(e => e.Timestamp)]))]);
}
