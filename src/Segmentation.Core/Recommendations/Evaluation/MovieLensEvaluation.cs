using System.Globalization;

namespace Segmentation.Core.Recommendations.Evaluation;

/// <summary>One MovieLens rating line: <c>user \t item \t rating \t unix seconds</c>.</summary>
public readonly record struct MovieLensRating(int UserId, int ItemId, double Rating, long UnixTime)
{
    /// <summary>Parses one tab-separated line of <c>u.data</c> / <c>uN.base</c> / <c>uN.test</c>; throws <see cref="FormatException"/> on anything else.</summary>
    public static MovieLensRating Parse(ReadOnlySpan<char> line)
    {
        Span<Range> parts = stackalloc Range[5];
        if (line.Split(parts, '\t') != 4)
        {
            throw new FormatException($"expected 4 tab-separated fields: '{line}'.");
        }

        var c = CultureInfo.InvariantCulture;
        return new MovieLensRating(
            int.Parse(line[parts[0]], c),
            int.Parse(line[parts[1]], c),
            double.Parse(line[parts[2]], c),
            long.Parse(line[parts[3]], c));
    }

    /// <summary>As an interaction of the recommenders (item id in decimal, type <see cref="EventType.Rating"/>).</summary>
    public Interaction ToInteraction() =>
        new(ItemId.ToString(CultureInfo.InvariantCulture), EventType.Rating, DateTimeOffset.FromUnixTimeSeconds(UnixTime), Rating);
}

/// <summary>What a stratified split keeps in proportion.</summary>
public enum StratifyBy
{
    /// <summary>Each user's ratings are split 75/25.</summary>
    User,

    /// <summary>Each item's ratings are split 75/25.</summary>
    Item,
}

/// <summary>A recommender to evaluate: its name and how to train it on training ratings.</summary>
public sealed record RecommenderUnderTest(string Name, Func<IReadOnlyList<MovieLensRating>, ICandidateSource> Train);

/// <summary>
/// Offline evaluation on MovieLens, as Microsoft Recommenders' benchmarks do it: train on the training ratings
/// (every rating is an interaction), recommend k items to every test user excluding the items they rated in training
/// (<c>remove_seen=True</c>), and score the lists against the test ratings with <see cref="RankingEvaluation"/>
/// (every test rating counts as relevant). Recommendations go through the real <see cref="RecommendationBlender"/>
/// with the recommender as its only source. Pure: the caller reads the files.
/// </summary>
public static class MovieLensEvaluation
{
    /// <summary>The cut-off of the published tables.</summary>
    public const int K = 10;

    /// <summary>Half-life of affinity in the SAR baseline of the published tables (30 days).</summary>
    public static readonly TimeSpan SarAffinityHalfLife = TimeSpan.FromDays(30);

    /// <summary>EASEᴿ's L2 penalty used by default on MovieLens-100k.</summary>
    public const double EaseLambda = 500;

    /// <summary>
    /// SAR as in the published table: co-occurrence counts users (uniform weights, no decay), Jaccard similarity,
    /// affinity = rating × 2^(−age / 30 days) with age measured from the last training rating.
    /// </summary>
    public static RecommenderUnderTest Sar { get; } = new("SAR (co-occurrence, Jaccard, 30-day affinity)", train => TrainCoOccurrence(train, new ItemCoOccurrenceOptions
    {
        Weights = InteractionWeights.Uniform,
        AffinityWeights = InteractionWeights.Default,
        HalfLife = null,
        AffinityHalfLife = SarAffinityHalfLife,
        Similarity = ItemSimilarityKind.Jaccard,
        MaxItemsPerUser = int.MaxValue,
    }));

    /// <summary>EASEᴿ with <see cref="EaseLambda"/>.</summary>
    public static RecommenderUnderTest Ease { get; } = CreateEase(EaseLambda);

    /// <summary>The recommenders the CLI reports, strongest last.</summary>
    public static IReadOnlyList<RecommenderUnderTest> Default { get; } = [Sar, Ease];

    /// <summary>Popularity: items by how many users rated them in training, the same list for everyone.</summary>
    public static RecommenderUnderTest Popularity { get; } = new("popularity (users per item)", train =>
    {
        var popularity = new SegmentPopularity(new ItemCatalog(), halfLife: null, InteractionWeights.Uniform, everyoneWeight: 1);
        foreach (var r in train)
        {
            popularity.Record([SegmentPopularity.Everyone], r.ToInteraction());
        }

        return popularity;
    });

    /// <summary>EASEᴿ with a given λ.</summary>
    public static RecommenderUnderTest EaseWith(double lambda) => CreateEase(lambda);

    /// <summary>Feeds <paramref name="train"/> into a fresh <see cref="ItemCoOccurrence"/> in time order.</summary>
    public static ItemCoOccurrence TrainCoOccurrence(IReadOnlyList<MovieLensRating> train, ItemCoOccurrenceOptions options)
    {
        var model = new ItemCoOccurrence(options);
        foreach (var r in train.OrderBy(r => r.UnixTime).ThenBy(r => r.UserId).ThenBy(r => r.ItemId))
        {
            model.Record(r.UserId.ToString(CultureInfo.InvariantCulture), r.ToInteraction());
        }

        return model;
    }

    /// <summary>
    /// The random 75/25 split with seed 42, stratified per user (Recommenders' <c>python_stratified_split</c> default) or
    /// per item (<c>filter_by="item"</c>, as its MovieLens benchmark notebook that produced the published table does);
    /// <paramref name="all"/> in file order.
    /// </summary>
    public static (List<MovieLensRating> Train, List<MovieLensRating> Test) RandomSplit(
        IReadOnlyList<MovieLensRating> all, StratifyBy by = StratifyBy.User, double ratio = 0.75, uint seed = 42) =>
        by == StratifyBy.Item
            ? StratifiedSplit.ByGroup(all, r => r.ItemId, ratio, seed)
            : StratifiedSplit.ByGroup(all, r => r.UserId, ratio, seed);

    /// <summary>
    /// Recommends <paramref name="k"/> items to every user of <paramref name="test"/> with <paramref name="source"/>
    /// (history = their training ratings, training items excluded, "now" = the last training rating) and scores them.
    /// </summary>
    public static RankingMetrics Evaluate(IReadOnlyList<MovieLensRating> train, IReadOnlyList<MovieLensRating> test, ICandidateSource source, int k = K, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var now = DateTimeOffset.FromUnixTimeSeconds(train.Count == 0 ? 0 : train.Max(r => r.UnixTime));
        var history = train.GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => g.Select(r => r.ToInteraction()).ToArray());
        var relevant = test.GroupBy(r => r.UserId).ToDictionary(
            g => g.Key,
            g => (IReadOnlySet<string>)g.Select(r => r.ItemId.ToString(CultureInfo.InvariantCulture)).ToHashSet(StringComparer.Ordinal));
        var users = relevant.Keys.Order().ToArray();
        var lists = new IReadOnlyList<string>[users.Length];
        var blender = new RecommendationBlender([new BlendedSource(source, 1)], new ItemCatalog(), new BlendOptions { MinPoolSize = k });
        Parallel.For(0, users.Length, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, u =>
        {
            var seen = history.GetValueOrDefault(users[u]) ?? [];
            var request = new RecommendationRequest
            {
                UserId = users[u].ToString(CultureInfo.InvariantCulture),
                History = seen,
                ExcludedItems = seen.Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal),
                Count = k,
                Now = now,
            };
            lists[u] = blender.Recommend(request).Select(r => r.ItemId).ToArray();
        });

        var recommended = new Dictionary<int, IReadOnlyList<string>>(users.Length);
        for (var u = 0; u < users.Length; u++)
        {
            recommended[users[u]] = lists[u];
        }

        return RankingEvaluation.Evaluate(relevant, recommended, k);
    }

    private static RecommenderUnderTest CreateEase(double lambda) => new(
        $"EASE^R (lambda {lambda.ToString(CultureInfo.InvariantCulture)})",
        train => EaseModel.Train(train.Select(r => (r.UserId.ToString(CultureInfo.InvariantCulture), r.ItemId.ToString(CultureInfo.InvariantCulture))), lambda));
}
