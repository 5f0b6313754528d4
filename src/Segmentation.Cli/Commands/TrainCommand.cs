using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Segmentation.Cli.Formats;
using Segmentation.Core;
using Segmentation.Core.Embeddings;
using Segmentation.Core.Recommendations;
using Segmentation.Inference.Export;
using Segmentation.Inference.Models;
using Segmentation.Storage;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary>What <c>seg train</c> does, as settings (the command line's options).</summary>
internal sealed record TrainSettings
{
    /// <summary>The event file.</summary>
    public required string File { get; init; }

    /// <summary>Its format.</summary>
    public required EventFileFormat Format { get; init; }

    /// <summary>The models folder a new version is written under.</summary>
    public string Models { get; init; } = Path.Combine("data", "models");

    /// <summary>Optional held-out events (same format) for hit-rate@10.</summary>
    public string? Holdout { get; init; }

    /// <summary>Optional item names: <c>id|name|...</c> lines (MovieLens <c>u.item</c>); found beside a MovieLens file when not given.</summary>
    public string? ItemNames { get; init; }

    /// <summary>Popular items whose nearest neighbours are printed.</summary>
    public int Neighbours { get; init; } = 5;

    /// <summary>Trainer settings (D, ALS, ridge, seed, encoder inputs).</summary>
    public UserEncoderTrainingOptions Training { get; init; } = new();
}

/// <summary>What <c>seg train</c> produced.</summary>
internal sealed record TrainOutcome(
    ModelManifest Manifest,
    string Folder,
    TrainedUserEncoder Model,
    DateTimeOffset AsOf,
    IReadOnlyDictionary<string, UserProfile> Profiles,
    EncoderHitRates? HitRates);

/// <summary>
/// <c>seg train FILE --format F [--holdout FILE] [--models DIR] [--dimension D] [--seed S]</c>: trains the user
/// encoder (DESIGN §7) from an event file and writes it as a new model version.
/// </summary>
/// <remarks>
/// <para>Events are read with <see cref="EventFileReader"/> (any format <c>seg ingest</c> knows), checked with the
/// server's rules (<see cref="EventValidator"/>, event times from 1970 on, at most a day past the wall clock) and
/// the rejected ones counted. The accepted events are folded, in event-time order (file order on ties), into one
/// <see cref="UserProfile"/> per user with the default <see cref="ProfileOptions"/>; "now" is the last event time
/// (DESIGN §5: event time, never the wall clock). Everything is held in memory.</para>
/// <para>The model is trained by <see cref="UserEncoderTrainer"/>, exported with <see cref="UserEncoderExporter"/>
/// and written with <see cref="ModelFolder.Write"/> through <see cref="TrainedModelWriter"/> (encoder, item ids, unit item vectors, manifest). The same file,
/// settings and seed give the same encoder bytes when written as the same version; the fingerprint is SHA-256 of the
/// file's bytes and the settings.</para>
/// </remarks>
internal static class TrainCommand
{
    /// <summary>The manifest's producer.</summary>
    public const string Producer = "seg train";

    /// <summary>Earliest event time accepted (historical datasets such as MovieLens-100k, 1997–98, are welcome).</summary>
    public static readonly DateTimeOffset EarliestEventTime = DateTimeOffset.UnixEpoch;

    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The event file to train on (.gz is read transparently)." };
        var format = new Option<string>("--format", "-f") { Description = string.Join(" | ", EventFileReader.FormatNames), Required = true };
        var models = new Option<DirectoryInfo>("--models") { Description = "The models folder; a new version vNNNNNN is written under it.", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("data", "models")) };
        var holdout = new Option<FileInfo?>("--holdout") { Description = "Held-out events (same format): report hit-rate@10 of the encoder next to popularity." };
        var dimension = new Option<int>("--dimension", "-d") { Description = "D: the embedding length.", DefaultValueFactory = _ => 64 };
        var historyLength = new Option<int>("--history-length") { Description = "L: history entries per user the encoder takes.", DefaultValueFactory = _ => EncoderFeatures.DefaultHistoryLength };
        var iterations = new Option<int>("--iterations") { Description = "ALS sweeps.", DefaultValueFactory = _ => 12 };
        var alpha = new Option<double>("--alpha") { Description = "ALS confidence scale: confidence = 1 + alpha x weight.", DefaultValueFactory = _ => 2 };
        var regularization = new Option<double>("--regularization") { Description = "ALS L2 penalty.", DefaultValueFactory = _ => 0.1 };
        var ridge = new Option<double>("--ridge") { Description = "Ridge penalty of the dense-feature projection.", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Seed of the ALS initial factors (the only randomness).", DefaultValueFactory = _ => 42 };
        var itemNames = new Option<FileInfo?>("--item-names") { Description = "id|name|... lines to name items in the report (default: u.item beside a MovieLens file)." };
        var neighbours = new Option<int>("--neighbours") { Description = "Popular items whose nearest neighbours are printed.", DefaultValueFactory = _ => 5 };
        var command = new Command("train", "Train the user encoder from an event file and write a new model version.")
        {
            file, format, models, holdout, dimension, historyLength, iterations, alpha, regularization, ridge, seed, itemNames, neighbours,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!.FullName;
            var held = parse.GetValue(holdout)?.FullName;
            foreach (var input in new[] { path, held })
            {
                if (input is not null && !System.IO.File.Exists(input))
                {
                    Console.Error.WriteLine($"error: file not found: {input}");
                    return 2;
                }
            }

            try
            {
                var settings = new TrainSettings
                {
                    File = path,
                    Format = EventFileReader.ParseFormat(parse.GetValue(format)!),
                    Models = parse.GetValue(models)!.FullName,
                    Holdout = held,
                    ItemNames = parse.GetValue(itemNames)?.FullName,
                    Neighbours = Math.Max(0, parse.GetValue(neighbours)),
                    Training = new UserEncoderTrainingOptions
                    {
                        Dimension = parse.GetValue(dimension),
                        Iterations = parse.GetValue(iterations),
                        Alpha = parse.GetValue(alpha),
                        Regularization = parse.GetValue(regularization),
                        RidgeLambda = parse.GetValue(ridge),
                        Seed = parse.GetValue(seed),
                        Features = new EncoderFeatures(parse.GetValue(historyLength), EncoderFeatures.DefaultHalfLife, InteractionWeights.Default),
                    },
                };
                await RunAsync(settings, AnsiConsole.Console, cancellationToken);
                return 0;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or InvalidDataException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>Reads, trains, writes the version and reports on <paramref name="console"/>.</summary>
    /// <exception cref="ArgumentException">Bad settings, or the file has no usable interaction.</exception>
    /// <exception cref="IOException">A file cannot be read or the model folder written.</exception>
    public static async Task<TrainOutcome> RunAsync(TrainSettings settings, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        var options = settings.Training;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Dimension, 1, "--dimension");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Iterations, 1, "--iterations");
        var wallClock = TimeProvider.System.GetUtcNow();
        Batch? events = null;
        Batch? heldOut = null;
        TrainedUserEncoder? model = null;
        DateTimeOffset asOf = default;
        var profiles = new Dictionary<string, UserProfile>(StringComparer.Ordinal);
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                events = await ReadAsync(settings.File, settings.Format, wallClock, context, cancellationToken);
                if (settings.Holdout is { } holdout)
                {
                    heldOut = await ReadAsync(holdout, settings.Format, wallClock, context, cancellationToken);
                }

                var fold = context.AddTask("fold profiles", maxValue: Math.Max(1, events.Accepted.Count));
                foreach (var e in events.Accepted.Select((e, i) => (Event: e, Line: i)).OrderBy(x => x.Event.Timestamp).ThenBy(x => x.Line).Select(x => x.Event))
                {
                    if (!profiles.TryGetValue(e.UserId, out var profile))
                    {
                        profiles[e.UserId] = profile = new UserProfile(e.UserId, new ProfileOptions());
                    }

                    profile.Apply(e);
                    fold.Increment(1);
                    asOf = e.Timestamp > asOf ? e.Timestamp : asOf;
                }

                cancellationToken.ThrowIfCancellationRequested();
                var sweeps = context.AddTask("ALS sweeps", maxValue: options.Iterations);
                var projecting = context.AddTask("dense projection", maxValue: Math.Max(1, profiles.Count));
                var users = profiles.Values.Select(p => EncoderTrainingUser.From(p, asOf)).ToList();
                var interactions = events.Accepted.Where(e => e.ItemId.Length > 0).Select(e => (e.UserId, Interaction.From(e)));
                model = UserEncoderTrainer.Train(interactions, users, asOf, options, new ProgressTasks(sweeps, projecting));
            });

        cancellationToken.ThrowIfCancellationRequested();
        EncoderHitRates? hitRates = null;
        if (heldOut is not null)
        {
            var embeddings = profiles.ToDictionary(p => p.Key, p => model!.Embed(p.Value, asOf), StringComparer.Ordinal);
            hitRates = EncoderEvaluation.HitRate(model!, embeddings, ItemsPerUser(events!.Accepted, _ => true), ItemsPerUser(heldOut.Accepted, e => options.Weights.Of(e.Type, e.Rating) > 0));
        }

        var (manifest, folder) = Write(settings, model!, events!, heldOut, hitRates, asOf, wallClock);
        Report(console, settings, manifest, folder, model!, events!, hitRates);
        return new TrainOutcome(manifest, folder, model!, asOf, profiles, hitRates);
    }

    /// <summary>SHA-256 of the file's bytes and the settings that shape the model, as <c>sha256:hex</c>.</summary>
    internal static string Fingerprint(string path, EventFileFormat format, UserEncoderTrainingOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var stream = System.IO.File.OpenRead(path))
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }

        hash.AppendData(Encoding.UTF8.GetBytes("\n" + string.Join(";", Settings(format, options).Select(s => s.Key + "=" + s.Value))));
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The settings that shape the model, for the manifest and the fingerprint (stable names and formatting).</summary>
    internal static SortedDictionary<string, string> Settings(EventFileFormat format, UserEncoderTrainingOptions options)
    {
        var w = options.Weights;
        var c = CultureInfo.InvariantCulture;
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = EventFileReader.FormatNames[(int)format],
            ["algorithm"] = "implicit ALS item vectors (L2-normalised) + ridge dense projection",
            ["dimension"] = options.Dimension.ToString(c),
            ["history_length"] = options.Features.HistoryLength.ToString(c),
            ["history_half_life_days"] = options.Features.HalfLife.TotalDays.ToString(c),
            ["iterations"] = options.Iterations.ToString(c),
            ["alpha"] = options.Alpha.ToString(c),
            ["regularization"] = options.Regularization.ToString(c),
            ["ridge_lambda"] = options.RidgeLambda.ToString(c),
            ["seed"] = options.Seed.ToString(c),
            ["weights"] = string.Create(c, $"view {w.View}, wishlist {w.Wishlist}, cart {w.AddToCart}, purchase {w.Purchase}, rating {w.RatingBase} + {w.PerRatingStar}/star"),
            ["profile_options"] = "defaults",
        };
    }

    private static async Task<Batch> ReadAsync(string path, EventFileFormat format, DateTimeOffset wallClock, ProgressContext context, CancellationToken cancellationToken)
    {
        var task = context.AddTask($"read {Markup.Escape(Path.GetFileName(path))}", maxValue: Math.Max(1, EventFileReader.CountRows(path, format)));
        var batch = new Batch(path);
        await foreach (var wire in EventFileReader.ReadAsync(path, format, cancellationToken))
        {
            var e = EventCodec.FromWire(wire, out var wireError);
            if ((wireError ?? EventValidator.Validate(e, wallClock, EarliestEventTime)) is { } error)
            {
                batch.Rejections[error.Reason] = batch.Rejections.GetValueOrDefault(error.Reason) + 1;
            }
            else
            {
                batch.Accepted.Add(e);
            }

            batch.Rows++;
            task.Increment(1);
        }

        task.Value = task.MaxValue;
        return batch;
    }

    private static Dictionary<string, HashSet<string>> ItemsPerUser(List<BehaviorEvent> events, Func<BehaviorEvent, bool> keep)
    {
        var result = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (e.ItemId.Length > 0 && keep(e))
            {
                if (!result.TryGetValue(e.UserId, out var items))
                {
                    result[e.UserId] = items = new HashSet<string>(StringComparer.Ordinal);
                }

                items.Add(e.ItemId);
            }
        }

        return result;
    }

    private static (ModelManifest Manifest, string Folder) Write(
        TrainSettings settings, TrainedUserEncoder model, Batch events, Batch? heldOut, EncoderHitRates? hitRates, DateTimeOffset asOf, DateTimeOffset wallClock)
    {
        var options = settings.Training;
        var c = CultureInfo.InvariantCulture;
        var fingerprint = Fingerprint(settings.File, settings.Format, options);
        var training = Settings(settings.Format, options);
        training["file"] = Path.GetFileName(settings.File);
        training["events_read"] = events.Rows.ToString(c);
        training["events_rejected"] = (events.Rows - events.Accepted.Count).ToString(c);
        training["as_of"] = asOf.ToString("O", c);
        if (heldOut is not null)
        {
            training["holdout_file"] = Path.GetFileName(heldOut.Path);
        }

        var metrics = new SortedDictionary<string, double>(model.Metrics.ToDictionary(), StringComparer.Ordinal);
        if (hitRates is not null)
        {
            metrics["hit_rate_at_10"] = hitRates.Encoder;
            metrics["popularity_hit_rate_at_10"] = hitRates.Popularity;
            metrics["holdout_users"] = hitRates.Users;
        }

        var (manifest, version) = TrainedModelWriter.Write(
            settings.Models,
            model,
            Producer,
            fingerprint,
            $"{Producer}: {Path.GetFileName(settings.File)}, {model.ItemIds.Count} items, D {model.Dimension}, L {model.Features.HistoryLength}",
            training,
            metrics,
            wallClock);
        if (manifest.Version != version)
        {
            // Another writer took the predicted version meanwhile; the folder is still consistent, only the ONNX metadata's version differs.
            Console.Error.WriteLine($"warning: version {manifest.Version} was written while the encoder's metadata says {version} (a concurrent writer under {settings.Models}).");
        }

        return (manifest, Path.Combine(settings.Models, ModelFolder.FolderName(manifest.Version)));
    }

    private static void Report(IAnsiConsole console, TrainSettings settings, ModelManifest manifest, string folder, TrainedUserEncoder model, Batch events, EncoderHitRates? hitRates)
    {
        if (events.Rejections.Count > 0)
        {
            var reasons = new Table().AddColumns("rejected events", "reason");
            foreach (var (reason, count) in events.Rejections.OrderByDescending(r => r.Value).Take(5))
            {
                reasons.AddRow(count.ToString("N0", CultureInfo.InvariantCulture), Markup.Escape(reason));
            }

            console.Write(reasons);
        }

        var table = new Table().AddColumns("metric", "value");
        foreach (var (name, value) in manifest.Metrics)
        {
            table.AddRow(Markup.Escape(name), value.ToString("0.####", CultureInfo.InvariantCulture));
        }

        console.Write(table);
        if (hitRates is not null)
        {
            console.Profile.Out.Writer.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"held-out hit-rate@{hitRates.K}: encoder {hitRates.Encoder:F3}, popularity {hitRates.Popularity:F3} ({hitRates.Users} users)"));
        }

        // Plain lines, unwrapped, for people, scripts and tests.
        var output = console.Profile.Out.Writer;
        var names = ItemNames(settings);
        string Name(string id) => names.TryGetValue(id, out var name) ? $"{name} [{id}]" : id;
        foreach (var item in model.ItemsByPopularity.Take(settings.Neighbours))
        {
            var neighbours = model.Neighbours(item, 5).Select(n => string.Create(CultureInfo.InvariantCulture, $"{Name(n.ItemId)} {n.Score:F2}"));
            output.WriteLine($"nearest to {Name(item)}: {string.Join("; ", neighbours)}");
        }

        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"version={manifest.Version} folder={folder} items={manifest.ItemCount} dimension={manifest.Dimension} history_length={manifest.HistoryLength} fingerprint={manifest.TrainingDataFingerprint}"));
    }

    /// <summary>id → name from <see cref="TrainSettings.ItemNames"/>, or u.item beside a MovieLens file; empty when neither.</summary>
    private static Dictionary<string, string> ItemNames(TrainSettings settings)
    {
        var path = settings.ItemNames;
        if (path is null && settings.Format == EventFileFormat.MovieLens)
        {
            var beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(settings.File))!, "u.item");
            path = System.IO.File.Exists(beside) ? beside : null;
        }

        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (path is null)
        {
            return names;
        }

        // MovieLens-100k's u.item is ISO-8859-1.
        foreach (var line in System.IO.File.ReadLines(path, Encoding.Latin1))
        {
            var fields = line.Split('|');
            if (fields.Length >= 2 && fields[0].Length > 0)
            {
                names[fields[0]] = fields[1];
            }
        }

        return names;
    }

    /// <summary>The events of one file: the accepted ones in file order and the rejections by reason.</summary>
    private sealed class Batch(string path)
    {
        public string Path { get; } = path;

        public long Rows { get; set; }

        public List<BehaviorEvent> Accepted { get; } = [];

        public Dictionary<string, long> Rejections { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>Trainer progress onto two bars; thread-safe (Spectre's tasks lock their state).</summary>
    private sealed class ProgressTasks(ProgressTask sweeps, ProgressTask projecting) : IProgress<EncoderTrainingProgress>
    {
        public void Report(EncoderTrainingProgress value)
        {
            var task = value.Stage == EncoderTrainingStage.Factorising ? sweeps : projecting;
            task.MaxValue = Math.Max(1, value.Total);
            task.Value = Math.Max(task.Value, value.Done); // reports from parallel workers may arrive out of order
        }
    }
}
