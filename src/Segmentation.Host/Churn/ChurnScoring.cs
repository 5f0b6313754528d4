using System.Text.Json;
using Segmentation.Core;
using Segmentation.Core.Churn;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Churn;

/// <summary>
/// The churn model this process serves to one tenant: trained on that tenant's events in the event log (labels from history, see
/// <see cref="ChurnExample"/>), stored as one JSON file per version under the churn models folder and, the version
/// served, in the snapshot store (<c>tenant/models/churn</c>), which every silo on one store loads at start (and when
/// another silo trained one); the folder's newest is served when the store holds none. Scoring reads
/// <see cref="Current"/>, swapped atomically on (re)training; thread-safe.
/// </summary>
internal sealed class ChurnScoring
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };
    private readonly string _key;
    private readonly string _tenant;
    private readonly ChurnOptions _options;
    private readonly ProfileOptions _profiles;
    private readonly ISnapshotStore? _store;
    private volatile ChurnModel? _current;

    public ChurnScoring(SegmentationOptions options, ISnapshotStore? store = null, string tenant = TenantKeys.DefaultTenant)
    {
        _store = store;
        _tenant = tenant;
        _key = TenantKeys.Storage("models/churn", tenant);
        _options = options.Churn;
        _profiles = options.Profiles;
        Directory = Path.GetFullPath(_options.ModelsDirectory.Length > 0 ? _options.ModelsDirectory : Path.Combine(options.DataDirectory, "models", "churn"));
        if (tenant != TenantKeys.DefaultTenant)
        {
            // Tenant default's versions where they always were; another tenant's in a folder of its own.
            Directory = Path.Combine(Directory, "tenants", tenant);
        }
    }

    /// <summary>The folder of stored versions.</summary>
    public string Directory { get; }

    /// <summary>The model served, or null before the first training.</summary>
    public ChurnModel? Current => _current;

    /// <summary>Loads the newest stored version, if any; a file that does not read as a model is named in the exception.</summary>
    public ChurnModel? LoadNewest()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return null;
        }

        var newest = System.IO.Directory.GetFiles(Directory, "churn-*.json").Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is null)
        {
            return null;
        }

        var model = JsonSerializer.Deserialize<ChurnModel>(File.ReadAllText(newest), s_json);
        if (model is null || !model.Features.SequenceEqual(ChurnFeatures.Names) || model.Weights.Length != ChurnFeatures.Count)
        {
            throw new InvalidDataException($"{newest}: not a churn model over this build's inputs ({string.Join(", ", ChurnFeatures.Names)}).");
        }

        _current = model;
        return model;
    }

    /// <summary>
    /// Serves the model the snapshot store holds, or else the folder's newest (<see cref="LoadNewest"/>); returns it.
    /// A stored model that does not read fails, naming the key.
    /// </summary>
    public async Task<ChurnModel?> LoadAsync(CancellationToken cancellationToken)
    {
        if (_store is null || await _store.ReadAsync(_key, cancellationToken) is not { } stored)
        {
            return LoadNewest();
        }

        var model = JsonSerializer.Deserialize<ChurnModel>(stored.Data.Span, s_json);
        if (model is null || !model.Features.SequenceEqual(ChurnFeatures.Names) || model.Weights.Length != ChurnFeatures.Count)
        {
            throw new InvalidDataException($"stored churn model '{_key}': not a churn model over this build's inputs ({string.Join(", ", ChurnFeatures.Names)}).");
        }

        _current = model;
        return model;
    }

    /// <summary>
    /// Trains on the whole log as of <paramref name="now"/> (the latest cut-off whose horizon has passed, and three
    /// before it), stores the version and serves it. Fails with <see cref="InvalidOperationException"/> when the log
    /// has no user old enough to be labelled.
    /// </summary>
    public async Task<ChurnModel> TrainAsync(IEventLog log, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Her examples at each cut-off, one user at a time (what is held is the examples, not the log), kept in the
        // order cut-off, then user.
        var latest = now - TimeSpan.FromDays(_options.HorizonDays);
        var cutoffs = ChurnExample.TrainingCutoffs(latest).ToArray();
        var perCutoff = cutoffs.Select(_ => new List<ChurnExample>()).ToArray();
        // On the thread pool: the folds are CPU work, and a caller may be a grain's turn.
        await Task.Run(
            async () =>
            {
                await foreach (var (key, events) in LogProfiles.ReadUsersAsync(log, _tenant, cancellationToken))
                {
                    (string, IReadOnlyList<BehaviorEvent>)[] user = [(TenantKeys.UserIdOf(key), events)];
                    for (var c = 0; c < cutoffs.Length; c++)
                    {
                        perCutoff[c].AddRange(ChurnExample.AtCutoff(user, cutoffs[c], _options.HorizonDays, _profiles));
                    }
                }
            },
            cancellationToken);

        var model = await Task.Run(
            () =>
            {
                var examples = perCutoff.SelectMany(e => e).ToList();
                if (examples.Count == 0 || examples.All(e => e.Churned) || examples.All(e => !e.Churned))
                {
                    throw new InvalidOperationException(
                        $"churn: the event log has no labelled history to learn from (users seen by {latest:yyyy-MM-dd} with both outcomes in the {_options.HorizonDays} days after); ingest more history or shorten Segmentation:Churn:HorizonDays.");
                }

                var version = $"churn-{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}";
                return ChurnTrainer.Train(examples, _options.HorizonDays, version, latest);
            },
            cancellationToken);
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, model.Version + ".json");
        // Written aside and moved into place, so a reader at start never sees half a file.
        await File.WriteAllTextAsync(path + ".tmp", JsonSerializer.Serialize(model, s_json), cancellationToken);
        File.Move(path + ".tmp", path, overwrite: true);
        if (_store is not null)
        {
            var data = JsonSerializer.SerializeToUtf8Bytes(model, s_json);
            // The newest training wins.
            await _store.OverwriteAsync(_key, data, cancellationToken);
        }

        _current = model;
        return model;
    }

    /// <summary>The served model's view of <paramref name="profile"/> at <paramref name="now"/>, or null when no model is served.</summary>
    public ChurnRisk? Score(UserProfile profile, DateTimeOffset now)
    {
        if (_current is not { } model || profile.IsEmpty)
        {
            return null;
        }

        var score = model.Score(profile, now);
        var band = score.Probability >= _options.HighFrom ? "high" : score.Probability >= _options.MediumFrom ? "medium" : "low";
        return new ChurnRisk(score.Probability, band, [.. score.Reasons.Take(3).Select(r => r.ToString())], model.Version, model.HorizonDays);
    }
}
