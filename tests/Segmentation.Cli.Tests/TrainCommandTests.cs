using System.CommandLine;
using System.Globalization;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Segmentation.Cli.Commands;
using Segmentation.Cli.Formats;
using Segmentation.Core.Embeddings;
using Segmentation.Inference;
using Segmentation.Inference.Models;
using Spectre.Console;
using Xunit.Abstractions;

namespace Segmentation.Cli.Tests;

/// <summary><c>seg train</c> once on MovieLens-100k's u1 fold (u1.base, u1.test held out), shared by the tests that read it.</summary>
public sealed class MovieLensTraining : IAsyncLifetime
{
    public string Models { get; } = Directory.CreateTempSubdirectory("seg-train-").FullName;

    internal TrainOutcome Outcome { get; private set; } = null!;

    public string Output { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var directory = EvalCommand.FindDataset();
        Assert.True(directory is not null, "no shared/datasets/movielens-100k above the test folder; these tests need the shared datasets folder next to the repository.");
        var (outcome, output) = await TrainCommandTests.RunAsync(new TrainSettings
        {
            File = Path.Combine(directory, "u1.base.gz"),
            Holdout = Path.Combine(directory, "u1.test.gz"),
            Format = EventFileFormat.MovieLens,
            Models = Models,
        });
        Outcome = outcome;
        Output = output;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Models, recursive: true);
        return Task.CompletedTask;
    }
}

public sealed class TrainCommandTests : EventFiles, IClassFixture<MovieLensTraining>
{
    private static readonly InferenceOptions s_cpu = new() { Device = ExecutionProvider.Cpu, IntraOpThreads = 1 };
    private readonly MovieLensTraining _movieLens;
    private readonly ITestOutputHelper _log;

    public TrainCommandTests(MovieLensTraining movieLens, ITestOutputHelper log)
    {
        _movieLens = movieLens;
        _log = log;
    }

    internal static async Task<(TrainOutcome Outcome, string Output)> RunAsync(TrainSettings settings)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No });
        var outcome = await TrainCommand.RunAsync(settings, console, CancellationToken.None);
        return (outcome, output.ToString());
    }

    [Fact]
    public void MovieLensU1_TheEncodersHeldOutHitRateBeatsPopularity_AndTheManifestSaysSo()
    {
        var (outcome, output) = (_movieLens.Outcome, _movieLens.Output);
        _log.WriteLine(output);

        var hits = outcome.HitRates!;
        Assert.Equal(459, hits.Users);
        Assert.True(hits.Encoder > hits.Popularity, $"encoder hit-rate@10 {hits.Encoder:F3} vs popularity {hits.Popularity:F3}");
        var manifest = ModelFolder.ReadManifest(outcome.Folder);
        Assert.Equal(outcome.Manifest, manifest with { Training = outcome.Manifest.Training, Metrics = outcome.Manifest.Metrics, DenseFeatures = outcome.Manifest.DenseFeatures });
        Assert.Equal(1, manifest.Version);
        Assert.Equal(TrainCommand.Producer, manifest.Producer);
        Assert.Equal((64, 50, 1650), (manifest.Dimension, manifest.HistoryLength, manifest.ItemCount));
        Assert.Equal(EncoderFeatures.FeatureNames, manifest.DenseFeatures);
        Assert.StartsWith("sha256:", manifest.TrainingDataFingerprint, StringComparison.Ordinal);
        Assert.Equal(hits.Encoder, manifest.Metrics["hit_rate_at_10"]);
        Assert.Equal(hits.Popularity, manifest.Metrics["popularity_hit_rate_at_10"]);
        Assert.Equal("42", manifest.Training["seed"]);
        Assert.Equal("80000", manifest.Training["events_read"]);
        Assert.Equal("0", manifest.Training["events_rejected"]);
        Assert.Contains("version=1 ", output, StringComparison.Ordinal);
        Assert.Contains("nearest to Star Wars (1977) [50]: Return of the Jedi (1983) [181]", output, StringComparison.Ordinal);
    }

    [Fact]
    public void MovieLensU1_TheWrittenFolderHoldsTheTrainedItemsAndVectors()
    {
        var outcome = _movieLens.Outcome;

        Assert.Equal(outcome.Model.ItemIds, ModelFolder.ReadItemIds(outcome.Folder));
        Assert.Equal(outcome.Model.ItemVectors.ToArray(), ModelFolder.ReadItemVectors(outcome.Folder, outcome.Manifest));
        Assert.Equal(outcome.Folder, ModelFolder.ActiveFolder(_movieLens.Models));
    }

    [Fact]
    public void MovieLensU1_TheOnnxEncoderReproducesTheTrainersEmbeddingOfEveryUser()
    {
        var outcome = _movieLens.Outcome;
        var runtime = OnnxRuntime.Load(s_cpu);
        using var session = runtime.CreateSession(Path.Combine(outcome.Folder, ModelFolder.EncoderFile), s_cpu);
        var signature = UserEncoderContract.Validate(session);
        Assert.Equal(new UserEncoderSignature(64, 50, EncoderFeatures.FeatureCount, EncoderFeatures.FeatureNames), signature);

        // Inputs as a server would build them: the folder's item ids, the shared EncoderFeatures definition.
        var index = ModelFolder.ReadItemIds(outcome.Folder).Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i + 1, StringComparer.Ordinal);
        var users = outcome.Profiles.Keys.Order(StringComparer.Ordinal).ToArray();
        const int L = 50, F = EncoderFeatures.FeatureCount, D = 64;
        var ids = new long[users.Length * L];
        var weights = new float[users.Length * L];
        var dense = new float[users.Length * F];
        for (var u = 0; u < users.Length; u++)
        {
            outcome.Model.Features.Encode(outcome.Profiles[users[u]], outcome.AsOf, id => index.GetValueOrDefault(id), ids.AsSpan(u * L, L), weights.AsSpan(u * L, L), dense.AsSpan(u * F, F));
        }

        using var idsTensor = OrtValue.CreateTensorValueFromMemory(ids, [users.Length, L]);
        using var weightsTensor = OrtValue.CreateTensorValueFromMemory(weights, [users.Length, L]);
        using var denseTensor = OrtValue.CreateTensorValueFromMemory(dense, [users.Length, F]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, new Dictionary<string, OrtValue>
        {
            [UserEncoderContract.ItemIdsInput] = idsTensor,
            [UserEncoderContract.ItemWeightsInput] = weightsTensor,
            [UserEncoderContract.DenseInput] = denseTensor,
        }, [UserEncoderContract.EmbeddingOutput]);
        var actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();

        Assert.Equal(users.Length * D, actual.Length);
        var worst = 0f;
        for (var u = 0; u < users.Length; u++)
        {
            var expected = outcome.Model.Embed(outcome.Profiles[users[u]], outcome.AsOf);
            for (var k = 0; k < D; k++)
            {
                worst = Math.Max(worst, Math.Abs(expected[k] - actual[(u * D) + k]));
            }
        }

        _log.WriteLine($"{users.Length} users, largest difference ORT vs C#: {worst:E2}");
        Assert.True(worst <= 1e-5f, $"ORT and the trainer differ by {worst:E2}");
    }

    [Fact]
    public async Task SameFileAndSeed_GiveTheSameEncoderBytes_AnotherSeedDoesNot()
    {
        var file = Write("ratings.data", SyntheticRatings());
        var first = Path.Combine(Path.GetDirectoryName(file)!, "first");
        var second = Path.Combine(Path.GetDirectoryName(file)!, "second");
        var options = new UserEncoderTrainingOptions { Dimension = 8, Iterations = 3, Features = new EncoderFeatures(10, EncoderFeatures.DefaultHalfLife, Core.Recommendations.InteractionWeights.Default) };
        var settings = new TrainSettings { File = file, Format = EventFileFormat.MovieLens, Models = first, Training = options };

        var (a, _) = await RunAsync(settings);
        var (b, _) = await RunAsync(settings with { Models = second });
        var (c, output) = await RunAsync(settings with { Models = second, Training = options with { Seed = 7 } });

        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Folder, ModelFolder.EncoderFile)), File.ReadAllBytes(Path.Combine(b.Folder, ModelFolder.EncoderFile)));
        Assert.Equal(a.Manifest.TrainingDataFingerprint, b.Manifest.TrainingDataFingerprint);
        Assert.Equal(a.Manifest.Metrics, b.Manifest.Metrics);
        Assert.Equal(2, c.Manifest.Version);
        Assert.Contains("version=2 ", output, StringComparison.Ordinal);
        Assert.NotEqual(a.Manifest.TrainingDataFingerprint, c.Manifest.TrainingDataFingerprint);
        Assert.NotEqual(a.Model.ItemVectors.ToArray(), c.Model.ItemVectors.ToArray());
        Assert.Equal([1L, 2L], ModelFolder.List(second).Select(m => m.Version));
    }

    [Fact]
    public async Task RejectedRows_AreCountedAndReported_NotTrainedOn()
    {
        var file = Write("ratings.data", SyntheticRatings() + "1\tbroken\n9\t9\t4\tnot-a-time\n");
        var settings = new TrainSettings
        {
            File = file,
            Format = EventFileFormat.MovieLens,
            Models = Path.Combine(Path.GetDirectoryName(file)!, "models"),
            Training = new UserEncoderTrainingOptions { Dimension = 4, Iterations = 2 },
        };

        var (outcome, output) = await RunAsync(settings);

        Assert.Equal("2", outcome.Manifest.Training["events_rejected"]);
        Assert.Contains("rejected events", output, StringComparison.Ordinal);
        Assert.DoesNotContain("broken", outcome.Model.ItemIds);
    }

    [Theory]
    [InlineData("--format", "nonsense")]
    [InlineData("--dimension", "0")]
    public async Task BadArguments_ExitWith2(string option, string value)
    {
        var file = Write("ratings.data", SyntheticRatings());
        var models = Path.Combine(Path.GetDirectoryName(file)!, "models");
        var arguments = new List<string> { "train", file, "--models", models, "--iterations", "1" };
        if (option != "--format")
        {
            arguments.AddRange(["--format", "movielens"]);
        }

        arguments.AddRange([option, value]);

        var (exit, error) = await InvokeAsync(arguments);

        Assert.Equal(2, exit);
        Assert.Contains("error: ", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(models) && ModelFolder.List(models).Count > 0);
    }

    [Fact]
    public async Task AMissingFile_ExitsWith2()
    {
        var (exit, error) = await InvokeAsync(["train", "/nonexistent/ratings.data", "--format", "movielens"]);

        Assert.Equal(2, exit);
        Assert.Contains("file not found: /nonexistent/ratings.data", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Error)> InvokeAsync(IReadOnlyList<string> arguments)
    {
        var root = new RootCommand { TrainCommand.Create() };
        var saved = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            return (await root.Parse(arguments).InvokeAsync(), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    /// <summary>60 users in three taste groups of 10 items, 8 ratings each, a day apart, in MovieLens u.data format.</summary>
    private static string SyntheticRatings()
    {
        var text = new StringBuilder();
        var start = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        for (var u = 1; u <= 60; u++)
        {
            var group = u % 3;
            for (var j = 0; j < 8; j++)
            {
                var item = (group * 10) + ((u + j) % 10) + 1;
                text.Append(CultureInfo.InvariantCulture, $"{u}\t{item}\t{1 + ((u + j) % 5)}\t{start + (86_400L * ((u * 8) + j))}\n");
            }
        }

        return text.ToString();
    }
}
