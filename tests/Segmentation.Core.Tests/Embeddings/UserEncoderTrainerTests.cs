using System.Globalization;
using System.IO.Compression;
using System.Numerics.Tensors;
using Segmentation.Core.Embeddings;
using Segmentation.Core.Recommendations;
using Segmentation.Core.Recommendations.Evaluation;
using Xunit.Abstractions;

namespace Segmentation.Core.Tests.Embeddings;

public sealed class UserEncoderTrainerTests
{
    private static readonly DateTimeOffset s_now = Events.T0.AddDays(10);
    private readonly ITestOutputHelper _output;

    public UserEncoderTrainerTests(ITestOutputHelper output) => _output = output;

    /// <summary>Users 0-19 view items a0-a9, users 20-39 items b0-b9, each skipping one item of their group.</summary>
    private static (List<(string, Interaction)> Interactions, List<EncoderTrainingUser> Users) TwoGroups()
    {
        var interactions = new List<(string, Interaction)>();
        var users = new List<EncoderTrainingUser>();
        for (var u = 0; u < 40; u++)
        {
            var user = "u" + u.ToString("D2", CultureInfo.InvariantCulture);
            var group = u < 20 ? "a" : "b";
            var history = new List<Interaction>();
            for (var i = 0; i < 10; i++)
            {
                if (i != u % 10)
                {
                    var x = new Interaction(group + i, i % 3 == 0 ? EventType.Purchase : EventType.View, Events.T0.AddHours((u * 10) + i));
                    history.Add(x);
                    interactions.Add((user, x));
                }
            }

            // Dense features that differ per user, so the projection has something to fit.
            float[] dense = [u % 5, 1, u < 20 ? 1 : 0, MathF.Log(10), 0.3f, 2];
            users.Add(new EncoderTrainingUser(user, history, dense));
        }

        return (interactions, users);
    }

    private static TrainedUserEncoder TrainTwoGroups(int seed = 42, int parallelism = -1)
    {
        var (interactions, users) = TwoGroups();
        var options = new UserEncoderTrainingOptions { Dimension = 8, Iterations = 8, Seed = seed, MaxDegreeOfParallelism = parallelism, Features = new EncoderFeatures(6, TimeSpan.FromDays(30), InteractionWeights.Default) };
        return UserEncoderTrainer.Train(interactions, users, s_now, options);
    }

    [Fact]
    public void Train_IndexesItemsInOrdinalOrder_WithUnitVectorsAndAZeroPaddingRow()
    {
        var model = TrainTwoGroups();

        Assert.Equal(20, model.ItemIds.Count);
        Assert.Equal(model.ItemIds.Order(StringComparer.Ordinal), model.ItemIds);
        Assert.Equal(1, model.IndexOf("a0"));
        Assert.Equal(0, model.IndexOf("nope"));
        for (var i = 0; i < model.ItemIds.Count; i++)
        {
            Assert.Equal(1f, TensorPrimitives.Norm(model.ItemVectors.Slice(i * 8, 8)), 5);
        }

        var table = model.EncoderTable();
        Assert.Equal(21 * 8, table.Length);
        Assert.All(table[..8], x => Assert.Equal(0f, x));
        Assert.Equal(model.ItemVectors.ToArray(), table[8..]);
        Assert.Equal(EncoderFeatures.FeatureCount * 8, model.DenseProjection.Length);
    }

    [Fact]
    public void Train_GroupsEmbedTogether_AndAUsersEmbeddingPrefersHerGroupsUnseenItem()
    {
        var model = TrainTwoGroups();
        var (_, users) = TwoGroups();

        Assert.True(Cosine(model, "a1", "a2") > Cosine(model, "a1", "b2") + 0.3f, $"a1·a2 {Cosine(model, "a1", "a2"):F3}, a1·b2 {Cosine(model, "a1", "b2"):F3}");
        Assert.All(model.Neighbours("b4", 5), n => Assert.StartsWith("b", n.ItemId));
        foreach (var user in users)
        {
            var u = int.Parse(user.UserId[1..], CultureInfo.InvariantCulture);
            var embedding = Embed(model, user);
            var own = (u < 20 ? "a" : "b") + (u % 10);
            var other = (u < 20 ? "b" : "a") + (u % 10);
            Assert.True(Dot(model, embedding, own) > Dot(model, embedding, other), $"{user.UserId}: {own} vs {other}");
            Assert.Equal(1f, TensorPrimitives.Norm(embedding), 5);
        }
    }

    [Fact]
    public void Train_TheProjectionBringsTheEncoderCloserToTheUserFactors()
    {
        var model = TrainTwoGroups();

        // Ridge minimises the squared error of the pre-normalisation sum; with features it cannot do worse than W = 0
        // on the training users, and these features carry the group.
        Assert.True(model.Metrics["projection_explained"] > 0, $"explained {model.Metrics["projection_explained"]:F3}");
        Assert.True(model.Metrics["cosine_encoder_to_user_factor"] >= model.Metrics["cosine_history_to_user_factor"] - 1e-3,
            $"encoder {model.Metrics["cosine_encoder_to_user_factor"]:F3} vs history only {model.Metrics["cosine_history_to_user_factor"]:F3}");
        Assert.Equal(40, model.Metrics["projection_users"]);
        Assert.Equal(20, model.Metrics["items"]);
        Assert.Equal(360, model.Metrics["interactions"]);
    }

    [Fact]
    public void Train_IsDeterministicForASeed_WhateverTheParallelism()
    {
        var one = TrainTwoGroups(seed: 5, parallelism: 1);
        var many = TrainTwoGroups(seed: 5, parallelism: 4);
        var other = TrainTwoGroups(seed: 6);

        Assert.Equal(one.ItemVectors.ToArray(), many.ItemVectors.ToArray());
        Assert.Equal(one.DenseProjection.ToArray(), many.DenseProjection.ToArray());
        Assert.Equal(one.Metrics, many.Metrics);
        Assert.NotEqual(one.ItemVectors.ToArray(), other.ItemVectors.ToArray());
    }

    [Fact]
    public void Embed_IsTheNormalisedWeightedSumPlusTheProjection_OutOfRangeIdsArePadding()
    {
        var model = TrainTwoGroups();
        long[] ids = [3, 7, 0, 999, -4, 0];
        float[] weights = [0.25f, 0.75f, 0, 5, 5, 0];
        float[] dense = [1, 2, 0, 0.5f, 0, -1];
        var expected = new double[8];
        for (var k = 0; k < 8; k++)
        {
            expected[k] = (0.25 * model.ItemVectors[(2 * 8) + k]) + (0.75 * model.ItemVectors[(6 * 8) + k]);
            for (var f = 0; f < dense.Length; f++)
            {
                expected[k] += dense[f] * model.DenseProjection[(f * 8) + k];
            }
        }

        var norm = Math.Sqrt(expected.Sum(x => x * x));
        var actual = new float[8];
        model.Embed(ids, weights, dense, actual);

        for (var k = 0; k < 8; k++)
        {
            Assert.Equal(expected[k] / norm, actual[k], 5);
        }

        model.Embed(new long[6], new float[6], new float[6], actual);
        Assert.All(actual, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Train_RejectsNoSignal_AndDenseRowsOfTheWrongLength()
    {
        var (interactions, users) = TwoGroups();
        var options = new UserEncoderTrainingOptions { Dimension = 4, Iterations = 1 };

        Assert.Throws<ArgumentException>(() => UserEncoderTrainer.Train([("u", new Interaction("i", EventType.Search, s_now))], [], s_now, options));
        Assert.Throws<ArgumentException>(() => UserEncoderTrainer.Train(interactions, [users[0] with { Dense = [1, 2] }], s_now, options));
    }

    [Fact]
    public void MovieLensU1_EncoderEmbeddingsBeatPopularity_AndNeighboursAreSensible()
    {
        var (model, hitRates, _) = TrainMovieLensU1();

        _output.WriteLine($"u1: hit-rate@10 encoder {hitRates.Encoder:F3}, popularity {hitRates.Popularity:F3} over {hitRates.Users} users");
        foreach (var (key, value) in model.Metrics)
        {
            _output.WriteLine($"{key} = {value:G4}");
        }

        Assert.True(hitRates.Users > 400, $"{hitRates.Users} users scored");
        Assert.True(hitRates.Encoder > hitRates.Popularity, $"encoder hit-rate@10 {hitRates.Encoder:F3} does not beat popularity {hitRates.Popularity:F3}");

        // Star Wars (50): its nearest items include The Empire Strikes Back (172) or Return of the Jedi (181).
        var neighbours = model.Neighbours("50", 5).Select(n => n.ItemId).ToList();
        _output.WriteLine("Star Wars neighbours: " + string.Join(", ", neighbours));
        Assert.True(neighbours.Contains("172") || neighbours.Contains("181"), "neighbours of Star Wars: " + string.Join(", ", neighbours));
    }

    /// <summary>
    /// u1.base as events folded in time order into profiles, trained with the defaults, every user embedded at the
    /// last training time, scored against u1.test.
    /// </summary>
    internal static (TrainedUserEncoder Model, EncoderHitRates HitRates, Dictionary<string, float[]> Embeddings) TrainMovieLensU1()
    {
        var train = Read("u1.base.gz");
        var test = Read("u1.test.gz");
        var ordered = train.Select((r, i) => (Rating: r, Line: i)).OrderBy(x => x.Rating.UnixTime).ThenBy(x => x.Line).Select(x => x.Rating).ToList();
        var profiles = new Dictionary<string, UserProfile>(StringComparer.Ordinal);
        var interactions = new List<(string, Interaction)>(ordered.Count);
        foreach (var r in ordered)
        {
            var user = r.UserId.ToString(CultureInfo.InvariantCulture);
            var x = r.ToInteraction();
            interactions.Add((user, x));
            if (!profiles.TryGetValue(user, out var profile))
            {
                profiles[user] = profile = new UserProfile(user, new ProfileOptions());
            }

            profile.Apply(new BehaviorEvent { EventId = $"{user}-{x.ItemId}", UserId = user, Type = x.Type, ItemId = x.ItemId, Rating = x.Rating, Timestamp = x.Timestamp });
        }

        var now = ordered[^1].ToInteraction().Timestamp;
        var users = profiles.Values.Select(p => EncoderTrainingUser.From(p, now)).ToList();
        var model = UserEncoderTrainer.Train(interactions, users, now, new UserEncoderTrainingOptions());
        var embeddings = profiles.ToDictionary(p => p.Key, p => model.Embed(p.Value, now), StringComparer.Ordinal);
        var seen = interactions.GroupBy(x => x.Item1).ToDictionary(g => g.Key, g => g.Select(x => x.Item2.ItemId).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var held = test.GroupBy(r => r.UserId.ToString(CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Select(r => r.ItemId.ToString(CultureInfo.InvariantCulture)).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        return (model, EncoderEvaluation.HitRate(model, embeddings, seen, held), embeddings);
    }

    private static float[] Embed(TrainedUserEncoder model, EncoderTrainingUser user)
    {
        var l = model.Features.HistoryLength;
        var ids = new long[l];
        var weights = new float[l];
        model.Features.History(user.History, s_now, model.IndexOf, ids, weights);
        var embedding = new float[model.Dimension];
        model.Embed(ids, weights, user.Dense, embedding);
        return embedding;
    }

    private static float Dot(TrainedUserEncoder model, float[] embedding, string item) =>
        TensorPrimitives.Dot(embedding, model.ItemVectors.Slice((model.IndexOf(item) - 1) * model.Dimension, model.Dimension));

    private static float Cosine(TrainedUserEncoder model, string a, string b) =>
        TensorPrimitives.Dot(
            model.ItemVectors.Slice((model.IndexOf(a) - 1) * model.Dimension, model.Dimension),
            model.ItemVectors.Slice((model.IndexOf(b) - 1) * model.Dimension, model.Dimension));

    private static List<MovieLensRating> Read(string file)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Segmentation.sln")))
        {
            directory = directory.Parent;
        }

        Assert.True(directory is not null, "Segmentation.sln not found");
        var path = Path.GetFullPath(Path.Combine(directory.FullName, "..", "shared", "datasets", "movielens-100k", file));
        Assert.True(File.Exists(path), $"Dataset missing: {path} (CI has ../shared/datasets next to the repository).");
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var rows = new List<MovieLensRating>();
        while (reader.ReadLine() is { } line)
        {
            rows.Add(MovieLensRating.Parse(line));
        }

        return rows;
    }
}
