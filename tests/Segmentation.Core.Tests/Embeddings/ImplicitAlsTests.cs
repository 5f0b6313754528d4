using System.IO.Compression;
using System.Numerics.Tensors;
using Segmentation.Core.Embeddings;
using Xunit.Abstractions;

namespace Segmentation.Core.Tests.Embeddings;

public sealed class ImplicitAlsTests
{
    private readonly ITestOutputHelper _output;

    public ImplicitAlsTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void TwoTasteGroups_UsersScoreTheirOwnGroupsItemsHigher()
    {
        // Users 0-19 use items 0-9, users 20-39 use items 10-19, each skipping one item of their group.
        var interactions = new List<(int, int, double)>();
        for (var u = 0; u < 40; u++)
        {
            var first = u < 20 ? 0 : 10;
            for (var i = first; i < first + 10; i++)
            {
                if (i - first != u % 10)
                {
                    interactions.Add((u, i, 1));
                }
            }
        }

        var model = ImplicitAls.Train(interactions, 40, 20, new ImplicitAlsOptions { Factors = 8, Iterations = 10 });
        for (var u = 0; u < 40; u++)
        {
            var skipped = (u < 20 ? 0 : 10) + (u % 10);
            var other = u < 20 ? 15 : 5;
            var own = TensorPrimitives.Dot(model.User(u), model.Item(skipped));
            var foreign = TensorPrimitives.Dot(model.User(u), model.Item(other));
            Assert.True(own > foreign + 0.1f, $"user {u}: unseen own-group item {own:F3} vs other group {foreign:F3}");
        }
    }

    [Fact]
    public void SameSeed_SameFactors_WhateverTheParallelism()
    {
        var random = new Random(3);
        var interactions = Enumerable.Range(0, 2_000).Select(_ => (random.Next(100), random.Next(60), 1.0 + random.Next(5))).ToList();
        var one = ImplicitAls.Train(interactions, 100, 60, new ImplicitAlsOptions { Factors = 16, Iterations = 4, MaxDegreeOfParallelism = 1 });
        var many = ImplicitAls.Train(interactions, 100, 60, new ImplicitAlsOptions { Factors = 16, Iterations = 4, MaxDegreeOfParallelism = 4 });
        var otherSeed = ImplicitAls.Train(interactions, 100, 60, new ImplicitAlsOptions { Factors = 16, Iterations = 4, Seed = 7 });
        Assert.Equal(one.UserFactors, many.UserFactors);
        Assert.Equal(one.ItemFactors, many.ItemFactors);
        Assert.NotEqual(one.ItemFactors, otherSeed.ItemFactors);
    }

    [Fact]
    public void Train_RejectsIndicesOutsideTheDeclaredSizes()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ImplicitAls.Train([(0, 5, 1.0)], 1, 5, new ImplicitAlsOptions()));
        Assert.Contains("(0, 5)", error.Message);
    }

    [Fact]
    public void MovieLensU1_HitRateAt10_BeatsPopularity_AndNeighboursAreSensible()
    {
        var train = Read("u1.base.gz");
        var test = Read("u1.test.gz");
        var model = ImplicitAls.Train(train.Select(r => (r.User - 1, r.Item - 1, (double)r.Rating)), 943, 1682,
            new ImplicitAlsOptions { Factors = 64, Iterations = 12, Regularization = 0.1, Alpha = 2 });

        var seen = train.GroupBy(r => r.User).ToDictionary(g => g.Key, g => g.Select(r => r.Item).ToHashSet());
        var held = test.GroupBy(r => r.User).ToDictionary(g => g.Key, g => g.Select(r => r.Item).ToHashSet());
        var popularity = train.GroupBy(r => r.Item).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Select(g => g.Key).ToList();
        int alsHits = 0, popularHits = 0;
        var scores = new float[1682];
        foreach (var (user, items) in held)
        {
            var mine = seen.GetValueOrDefault(user) ?? [];
            for (var i = 0; i < 1682; i++)
            {
                scores[i] = TensorPrimitives.Dot(model.User(user - 1), model.Item(i));
            }

            var top = Enumerable.Range(1, 1682).Where(i => !mine.Contains(i)).OrderByDescending(i => scores[i - 1]).ThenBy(i => i).Take(10);
            alsHits += top.Any(items.Contains) ? 1 : 0;
            popularHits += popularity.Where(i => !mine.Contains(i)).Take(10).Any(items.Contains) ? 1 : 0;
        }

        var alsRate = alsHits / (double)held.Count;
        var popularRate = popularHits / (double)held.Count;
        _output.WriteLine($"u1: hit-rate@10 ALS {alsRate:F3}, popularity {popularRate:F3} over {held.Count} users");
        Assert.True(alsRate > popularRate, $"ALS hit-rate@10 {alsRate:F3} does not beat popularity {popularRate:F3}");

        // Star Wars (50): its nearest items by cosine include The Empire Strikes Back (172) or Return of the Jedi (181).
        var starWars = model.Item(49).ToArray();
        var neighbours = Enumerable.Range(0, 1682).Where(i => i != 49)
            .OrderByDescending(i => TensorPrimitives.CosineSimilarity(starWars, model.Item(i))).Take(5).Select(i => i + 1).ToList();
        _output.WriteLine("Star Wars neighbours: " + string.Join(", ", neighbours));
        Assert.True(neighbours.Contains(172) || neighbours.Contains(181), "neighbours of Star Wars: " + string.Join(", ", neighbours));
    }

    private static List<(int User, int Item, int Rating)> Read(string file)
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
        var rows = new List<(int, int, int)>();
        while (reader.ReadLine() is { } line)
        {
            var fields = line.Split('\t');
            rows.Add((int.Parse(fields[0]), int.Parse(fields[1]), int.Parse(fields[2])));
        }

        return rows;
    }
}
