using System.Diagnostics;
using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Storage;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Trains the served item model from the event log: EASEᴿ on every (user, item) the log holds with a positive weight
/// (views, carts, wishlists, purchases, ratings), bounded to <see cref="ItemModelOptions.MaxItems"/> items, and the blend
/// weights of EASEᴿ, co-occurrence, recency and popularity tuned on a held-out split (<see cref="BlendTuning"/>): for
/// up to <see cref="ItemModelOptions.ValidationUsers"/> users some interactions are held out, the sources learn from
/// everything else, and the weights that rank the held-out items best (NDCG@10) win. Two kinds of validation user,
/// alternating by id, so the weights serve both questions a shop asks: for one half a quarter of their items (chosen by
/// a stable hash of user and item; every interaction with them goes), "what else will she like"; for the other, if
/// they browse (views, carts, wishlists), the last fifth of their interactions in time (earlier interactions with those
/// items stay), "what will she do next", where an item she viewed yesterday may well be the one she buys today. Validation requests carry her category
/// affinities from the kept interactions, so popularity is tuned as it is served (<see cref="PersonalPopularity"/>).
/// The model served is then trained on the whole log. Deterministic for the same log.
/// </summary>
internal static class ItemModelTrainer
{
    /// <summary>The sources tuned, in blend order; "ease" is the served model (weight fixed at 1).</summary>
    public static readonly string[] SourceNames = ["ease", "coOccurrence", "recentlyViewed", "popularity"];

    // A validation user needs interactions to keep and to hold out.
    private const int MinInteractions = 4;

    // The weight of discovery (hit rate on next items new to her) beside NDCG's 1 in the tuning's objective: a shop asks
    // both "what will she do next" and "what new will she like" of one list (issue 16's two bars). 1 chose a discovery
    // split of 0.8 on the shop, whose served NDCG fell below recently viewed (0.267 vs 0.280) for 0.224 new-item hit rate.
    private const double Discovery = 0.5;

    // Cuts per "what next" validation user: her next item is asked at each of her first held-out interactions.
    private const int NextCuts = 3;

    // Recency half-lives tried besides the configured one: from "newest first" (minutes apart count) to "this week".
    // Popularity's alternatives: how much of its score an item outside her top categories keeps, and whether it proposes
    // only items new to her (discovery; what she looked at is recency's to propose). Few, since each costs a pass over the cases.
    private static readonly (double OutsideWeight, bool NewItemsOnly)[] s_popularityVariants = [(0.1, true), (0.3, true), (1, true)];

    // The discovery splits tried (the share of the ten places kept for items new to her), "no split" first.
    private static readonly double[] s_discoveryShares = [0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

    private static readonly TimeSpan[] s_recentHalfLives = [TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(3)];

    /// <summary>
    /// Trains on <paramref name="tenant"/>'s events in <paramref name="log"/> (each tenant has its own item model: trained
    /// on every tenant's events, it would recommend one tenant's items to another's users); null when it holds fewer than
    /// <see cref="ItemModelOptions.MinUsers"/> users with four interactions.
    /// </summary>
    public static async Task<(EaseModel Model, ItemModelManifest Manifest)?> TrainAsync(
        IEventLog log, RecommendationOptions options, CancellationToken cancellationToken, string tenant = TenantKeys.DefaultTenant)
    {
        var stopwatch = Stopwatch.StartNew();
        var weights = InteractionWeights.Default;
        var users = new Dictionary<string, List<Interaction>>(StringComparer.Ordinal);
        var catalog = new ItemCatalog();
        long interactions = 0;
        var tenantPrefix = tenant + "/";
        await foreach (var record in log.ReadAllAsync(0, cancellationToken))
        {
            if (!record.StreamId.StartsWith(tenantPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var e = EventCodec.Decode(record.Payload.Span);
            var x = Interaction.From(e);
            if (e.ItemId.Length == 0 || weights.Of(x) <= 0)
            {
                continue;
            }

            if (!users.TryGetValue(e.UserId, out var list))
            {
                users.Add(e.UserId, list = []);
            }

            list.Add(x);
            catalog.Observe(e.ItemId, e.Category);
            interactions++;
        }

        var settings = options.ItemModel;
        var eligible = users.Where(p => p.Value.Count >= MinInteractions).Select(p => p.Key).Order(StringComparer.Ordinal).ToArray();
        if (eligible.Length < settings.MinUsers)
        {
            return null;
        }

        return await Task.Run(() => Train(users, catalog, eligible, interactions, options, stopwatch), cancellationToken);
    }

    private static (EaseModel, ItemModelManifest) Train(
        Dictionary<string, List<Interaction>> users, ItemCatalog catalog, string[] eligible, long interactions, RecommendationOptions options, Stopwatch stopwatch)
    {
        var settings = options.ItemModel;
        foreach (var list in users.Values)
        {
            // Time order, stable for ties (the log's order): a held-out tail is the last interactions she made.
            var ordered = list.OrderBy(x => x.Timestamp).ToList();
            list.Clear();
            list.AddRange(ordered);
        }

        // Evenly spaced over the users by id: the same users for the same log.
        var step = Math.Max(1, eligible.Length / Math.Max(1, settings.ValidationUsers));
        var heldOut = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < eligible.Length && heldOut.Count < settings.ValidationUsers; i += step)
        {
            heldOut.Add(eligible[i]);
        }

        // Every other validation user (by id) who browses (views, carts, wishlists) is asked for her next interactions:
        // her last fifth in time is held out, and an item she viewed before may be the one she buys next. The others
        // hold out a quarter of their items, by a stable hash (every interaction with a held-out item goes). A user who
        // only consumes (ratings, purchases: never shown again) has no "seen before" to reward, so for her the two
        // questions are the same one on different items, and the random quarter is the less noisy estimate of it.
        var validation = heldOut.Order(StringComparer.Ordinal).ToArray();
        var tail = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 1; i < validation.Length; i += 2)
        {
            var list = users[validation[i]];
            if (list.Exists(static x => x.Type is EventType.View or EventType.AddToCart or EventType.Wishlist))
            {
                tail[validation[i]] = list.Count - Math.Max(1, list.Count / 5);
            }
        }

        bool HeldOut(string user, int position, string item) =>
            tail.TryGetValue(user, out var from) ? position >= from : heldOut.Contains(user) && StableHash(user, item) % 4 == 0;
        var training = users.SelectMany(p => p.Value.Where((x, i) => !HeldOut(p.Key, i, x.ItemId)).Select(x => (p.Key, x))).ToList();
        var cases = new List<ValidationCase>();
        foreach (var u in validation)
        {
            var list = users[u];
            if (tail.TryGetValue(u, out var from))
            {
                // "What will she do next", asked as the shop asks it: at each of her first held-out interactions, her
                // next item given everything before it, and once, her next purchase. Single targets, as a storefront's
                // next click is one item; several cuts per user steady the estimate.
                for (var cut = from; cut < Math.Min(list.Count, from + NextCuts); cut++)
                {
                    AddCase(u, list.Take(cut).ToArray(), [list[cut].ItemId], next: true);
                }

                var purchase = list.Skip(from).Where(static x => x.Type == EventType.Purchase).Select(static x => x.ItemId).FirstOrDefault();
                if (purchase is not null)
                {
                    AddCase(u, list.Take(from).ToArray(), [purchase], next: true);
                }

                continue;
            }

            AddCase(u, list.Where((x, i) => !HeldOut(u, i, x.ItemId)).ToArray(), list.Where((x, i) => HeldOut(u, i, x.ItemId)).Select(x => x.ItemId));
        }

        void AddCase(string user, Interaction[] history, IEnumerable<string> targets, bool next = false)
        {
            var relevant = targets.ToHashSet(StringComparer.Ordinal);
            if (history.Length == 0 || relevant.Count == 0)
            {
                return;
            }

            // Items she rated are consumed, like those she bought (which the blender leaves out): a rated film is not
            // shown again. Viewed and carted items stay candidates ("continue where you left off").
            var consumed = history.Where(x => x.Type == EventType.Rating).Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal);
            var now = history[^1].Timestamp;
            cases.Add(new ValidationCase(
                new RecommendationRequest { UserId = user, History = history, ExcludedItems = consumed, CategoryAffinities = AffinitiesOf(history, catalog, options, now), Count = 10, Now = now },
                relevant)
            { AsksNext = next });
        }

        // The online sources' knobs are tuned with the weights: recency's half-life (how strongly "newest first" she
        // is; each variant is a tuning of its own, the best NDCG wins, ties to the configured one) and the personal
        // ranking's affinity boost and category cap (coordinate ascent inside the tuning). The cap stays at most 0.8,
        // so her top category never fills the list (the diversity rule).
        var sources = TrainSources(training, catalog, options);
        var configured = LiveRecommender.PersonalRankingOf(options);
        PersonalRanking[] rankings =
        [
            configured,
            .. new[] { 0, 0.5, 1, 2, 4 }.SelectMany(boost => new[] { 0.5, 0.7, 0.8 }.Select(cap => configured with { AffinityBoost = boost, MaxCategoryShare = cap }))
                .Where(r => r != configured),
        ];
        var halfLives = s_recentHalfLives.Where(h => h != options.RecentlyViewedHalfLife).ToArray();
        var popularity = (PersonalPopularity)sources[3];
        var tuned = BlendTuning.Tune(sources, cases, rankings: rankings, catalog: catalog, discovery: Discovery, discoveryShares: s_discoveryShares, variants:
        [
            new SourceVariants(Array.IndexOf(SourceNames, "recentlyViewed"), [.. halfLives.Select(h => new RecentlyViewed(h))]),
            new SourceVariants(Array.IndexOf(SourceNames, "popularity"), [.. s_popularityVariants.Select(v => popularity.With(v.OutsideWeight, v.NewItemsOnly))]),
        ]);
        var halfLife = tuned.Variants[0] is { } h ? halfLives[h] : options.RecentlyViewedHalfLife;
        var (outsideWeight, newItemsOnly) = tuned.Variants[1] is { } p ? s_popularityVariants[p] : (PersonalPopularity.OutsideWeight, false);

        var model = TrainEase(users.SelectMany(p => p.Value.Select(x => (p.Key, x.ItemId))), settings);
        var manifest = new ItemModelManifest
        {
            TrainedAt = TimeProvider.System.GetUtcNow(),
            Interactions = interactions,
            Users = users.Count,
            Items = model.ItemCount,
            LogItems = users.Values.SelectMany(l => l).Select(x => x.ItemId).Distinct(StringComparer.Ordinal).Count(),
            MaxItems = settings.MaxItems,
            WeightBytes = model.WeightBytes,
            Neighbours = model.Neighbours == 0 ? null : model.Neighbours,
            Lambda = settings.Lambda,
            BlendWeights = SourceNames.Select((name, i) => (name, tuned.Weights[i])).ToDictionary(p => p.name, p => p.Item2),
            ValidationCases = tuned.Cases,
            ValidationNdcg = tuned.Ndcg,
            ValidationHitRate = tuned.HitRate,
            ValidationNewHitRate = double.IsNaN(tuned.NewHitRate) ? null : tuned.NewHitRate,
            SourceAloneNdcg = SourceNames.Select((name, i) => (name, tuned.SourceAloneNdcg[i])).ToDictionary(p => p.name, p => p.Item2),
            RecentlyViewedHalfLife = halfLife,
            AffinityBoost = tuned.Ranking?.AffinityBoost,
            MaxCategoryShare = tuned.Ranking?.MaxCategoryShare,
            PopularityOutsideWeight = outsideWeight,
            PopularityNewItemsOnly = newItemsOnly,
            DiscoveryShare = tuned.DiscoveryShare,
            TrainingSeconds = stopwatch.Elapsed.TotalSeconds,
        };
        return (model, manifest);
    }

    // FNV-1a over the UTF-16 code units, the same on every machine and run (string.GetHashCode is not), then
    // MurmurHash3's finaliser: FNV's low bits depend only on the characters' low bits, so without it "hash % 4" held
    // out the same quarter of the catalogue for whole classes of users, a pattern EASEᴿ learned instead of tastes.
    private static uint StableHash(string user, string item)
    {
        var hash = 2166136261;
        foreach (var c in user)
        {
            hash = (hash ^ c) * 16777619;
        }

        hash = (hash ^ '\t') * 16777619;
        foreach (var c in item)
        {
            hash = (hash ^ c) * 16777619;
        }

        hash ^= hash >> 16;
        hash *= 0x85ebca6b;
        hash ^= hash >> 13;
        hash *= 0xc2b2ae35;
        return hash ^ (hash >> 16);
    }

    /// <summary>
    /// EASEᴿ as served: trained on at most <see cref="ItemModelOptions.MaxItems"/> items, and pruned to each item's
    /// <see cref="ItemModelOptions.Neighbours"/> strongest weights when it has more than
    /// <see cref="ItemModelOptions.DenseMaxItems"/>. The tuning's model is made the same way, so the blend is tuned on
    /// the scores the shop will see.
    /// </summary>
    internal static EaseModel TrainEase(IEnumerable<(string UserId, string ItemId)> interactions, ItemModelOptions settings)
    {
        var model = EaseModel.Train(interactions, settings.Lambda, maxItems: settings.MaxItems);
        return model.ItemCount > settings.DenseMaxItems ? model.Prune(settings.Neighbours) : model;
    }

    // The live path's sources, learned from the training interactions: EASEᴿ, co-occurrence (live settings, in time
    // order), recency (stateless) and popularity over everyone.
    private static ICandidateSource[] TrainSources(List<(string User, Interaction X)> training, ItemCatalog catalog, RecommendationOptions options)
    {
        var ease = TrainEase(training.Select(t => (t.User, t.X.ItemId)), options.ItemModel);
        var coOccurrence = new ItemCoOccurrence(LiveRecommender.CoOccurrenceOptionsOf(options));
        var popularity = new SegmentPopularity(catalog, options.PopularityHalfLife);
        foreach (var (user, x) in training.OrderBy(t => t.X.Timestamp))
        {
            coOccurrence.Record(user, x);
            popularity.Record([SegmentPopularity.Everyone], x);
        }

        return [ease, coOccurrence, new RecentlyViewed(options.RecentlyViewedHalfLife), new PersonalPopularity(popularity, catalog, LiveRecommender.PersonalRankingOf(options))];
    }

    // Her decayed top-level category affinities over `history`, as her profile keeps them (interaction weights instead of
    // the profile's event weights: the two agree on views, carts, wishlists and purchases).
    private static CategoryAffinity[] AffinitiesOf(Interaction[] history, ItemCatalog catalog, RecommendationOptions options, DateTimeOffset now)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var x in history)
        {
            var category = catalog.CategoryOf(x.ItemId);
            if (category.Length > 0)
            {
                var top = ItemCatalog.Truncate(category, 1);
                values[top] = values.GetValueOrDefault(top) + (InteractionWeights.Default.Of(x) * Math.Pow(2, -Math.Max(0, (now - x.Timestamp).Ticks) / (double)options.AffinityHalfLife.Ticks));
            }
        }

        var total = values.Values.Sum();
        return total <= 0 ? [] : [.. values.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(PersonalRanking.MaxCategories)
            .Select(p => new CategoryAffinity(p.Key, p.Value, p.Value / total))];
    }
}
