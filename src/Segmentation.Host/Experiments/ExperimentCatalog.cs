using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Segmentation.Core;
using Segmentation.Core.Errors;
using Segmentation.Core.Experiments;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Experiments;

/// <summary>
/// The experiments of each tenant: stored as one document per tenant in the snapshot store
/// (<c>tenant/experiments/catalog</c>, compare-and-set on its ETag), and kept in memory as an immutable list that user
/// grains read on every ingest. A tenant's list is loaded at its first use and read again from the store when it is
/// older than <see cref="RefreshInterval"/> at a use (in the background), so an experiment created on another silo of a
/// cluster counts here within about that long; on the silo that created it, from the next call on.
/// </summary>
/// <remarks>Thread-safe: each tenant's list is replaced whole; changes are serialised.</remarks>
internal sealed partial class ExperimentCatalog
{
    /// <summary>How old a tenant's list may get before a use reads it again.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(2);

    /// <summary>Most experiments one tenant keeps.</summary>
    public const int MaxExperiments = 100;

    private static readonly string[] s_churnBands = ["high", "medium", "low"];
    private readonly ConcurrentDictionary<string, TenantExperiments> _tenants = new(StringComparer.Ordinal);
    private readonly ISnapshotStore _store;
    private readonly TimeProvider _wallClock;
    private readonly SemaphoreSlim _changes = new(1, 1);

    public ExperimentCatalog(ISnapshotStore store, TimeProvider wallClock)
    {
        _store = store;
        _wallClock = wallClock;
    }

    /// <summary>The key of an experiment's grain: <c>tenant/id</c>.</summary>
    public static string GrainKey(string tenant, string id) => tenant + "/" + id;

    /// <summary>The tenant and id in an experiment grain's key.</summary>
    public static (string Tenant, string Id) Split(string grainKey)
    {
        var slash = grainKey.IndexOf('/', StringComparison.Ordinal);
        return (grainKey[..slash], grainKey[(slash + 1)..]);
    }

    /// <summary>The storage key of an experiment's participants.</summary>
    public static string ParticipantsKey(string tenant, string id) => TenantKeys.Storage($"experiments/{id}/participants", tenant);

    /// <summary>The tenant's experiments, in id order (loaded from the store at the first use).</summary>
    public ValueTask<IReadOnlyList<Experiment>> CurrentAsync(string tenant)
    {
        if (_tenants.TryGetValue(tenant, out var known))
        {
            if (_wallClock.GetTimestamp() - known.LoadedAt > RefreshInterval.TotalSeconds * _wallClock.TimestampFrequency)
            {
                RefreshInBackground(tenant, known);
            }

            return ValueTask.FromResult(known.Experiments);
        }

        return new ValueTask<IReadOnlyList<Experiment>>(LoadAsync(tenant, CancellationToken.None));
    }

    /// <summary>Reads the tenant's experiments from the store and keeps them.</summary>
    public async Task<IReadOnlyList<Experiment>> LoadAsync(string tenant, CancellationToken cancellationToken)
    {
        var loadedAt = _wallClock.GetTimestamp();
        var stored = await _store.ReadAsync(CatalogKey(tenant), cancellationToken);
        var experiments = stored is null ? [] : Decode(stored.Data.Span);
        var loaded = new TenantExperiments(experiments, loadedAt);
        _tenants.AddOrUpdate(tenant, loaded, (_, existing) => existing.LoadedAt > loadedAt ? existing : loaded);
        return _tenants[tenant].Experiments;
    }

    /// <summary>
    /// Checks and stores a new experiment. INVALID_ARGUMENT names every problem; ALREADY_EXISTS when the id is taken;
    /// RESOURCE_EXHAUSTED past <see cref="MaxExperiments"/>.
    /// </summary>
    public async Task<Experiment> CreateAsync(string tenant, Experiment experiment, CancellationToken cancellationToken)
    {
        var problems = Problems(experiment);
        if (problems.Count > 0)
        {
            throw new InvalidRequestException(string.Join("; ", problems));
        }

        await _changes.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var stored = await _store.ReadAsync(CatalogKey(tenant), cancellationToken);
                var current = stored is null ? [] : Decode(stored.Data.Span);
                if (current.Any(e => e.Id == experiment.Id))
                {
                    throw new AlreadyExistsException($"id: experiment '{experiment.Id}' already exists");
                }

                if (current.Count >= MaxExperiments)
                {
                    throw new CapacityExceededException($"id: at most {MaxExperiments} experiments per tenant");
                }

                List<Experiment> next = [.. current.Append(experiment).OrderBy(e => e.Id, StringComparer.Ordinal)];
                try
                {
                    await _store.WriteAsync(CatalogKey(tenant), Encode(next), 0, stored?.ETag, cancellationToken);
                    _tenants[tenant] = new TenantExperiments(next, _wallClock.GetTimestamp());
                    return experiment;
                }
                catch (InconsistentStateException) when (attempt < 3)
                {
                    // Another silo stored an experiment since this one read the list: read it again and check again.
                }
            }
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Whether a user whose segments are <paramref name="segments"/> is in <paramref name="experiment"/>'s segment.</summary>
    public static bool IsMember(Experiment experiment, SegmentsView segments)
    {
        var segment = experiment.Segment;
        if (segment.Length == 0)
        {
            return true;
        }

        var colon = segment.IndexOf(':', StringComparison.Ordinal);
        var kind = segment[..colon];
        var name = segment[(colon + 1)..];
        return kind switch
        {
            "lifecycle" => LifecycleStageNames.Of(segments.Lifecycle.Stage) == name,
            "ml" => segments.Ml is { } ml && ml.Assignment.SegmentId.ToString(CultureInfo.InvariantCulture) == name,
            "churn" => segments.Churn?.Band == name,
            "rule" => segments.Rules.Any(r => r.Id == name),
            "anomaly" => segments.Anomaly?.Flagged == true,
            "value" => segments.Value is { } value && value.SegmentId.ToString(CultureInfo.InvariantCulture) == name,
            _ => false,
        };
    }

    /// <summary>Every problem with a definition, each naming its field; empty when it can be stored.</summary>
    public static List<string> Problems(Experiment experiment)
    {
        var problems = new List<string>();
        if (!IdPattern().IsMatch(experiment.Id ?? ""))
        {
            problems.Add($"id: '{Shorten(experiment.Id ?? "")}' must be 1 to 128 characters of a-z, 0-9, '-', '_' and '.'");
        }

        problems.AddRange(experiment.Problems().Where(p => !p.StartsWith("id:", StringComparison.Ordinal)));
        if (experiment.Arms is { } arms && arms.Any(a => a.Name?.Length > 64))
        {
            problems.Add("arms: a name is longer than 64 characters");
        }

        if (!Enum.IsDefined(experiment.Conversion))
        {
            problems.Add($"conversion: {(int)experiment.Conversion} is not an event type");
        }

        if (SegmentProblem(experiment.Segment) is { } segmentProblem)
        {
            problems.Add(segmentProblem);
        }

        return problems;
    }

    private static string? SegmentProblem(string segment)
    {
        if (segment.Length == 0)
        {
            return null;
        }

        var colon = segment.IndexOf(':', StringComparison.Ordinal);
        var (kind, name) = colon < 0 ? (segment, "") : (segment[..colon], segment[(colon + 1)..]);
        var valid = kind switch
        {
            "lifecycle" => Enum.GetValues<LifecycleStage>().Any(s => s != LifecycleStage.Unspecified && LifecycleStageNames.Of(s) == name),
            "ml" => int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id >= 0,
            "churn" => s_churnBands.Contains(name),
            "rule" => RuleIdPattern().IsMatch(name),
            "anomaly" => name == "flagged",
            "value" => int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var valueId) && valueId >= 0,
            _ => false,
        };
        return valid ? null
            : $"segment: '{Shorten(segment)}' is not a segment id; use lifecycle:new|active|at-risk|churned|reactivated, ml:<n>, churn:high|medium|low, anomaly:flagged, value:<n>, rule:<id>, or leave it empty for everyone";
    }

    private void RefreshInBackground(string tenant, TenantExperiments known)
    {
        // One refresh at a time per tenant: the first use past the interval claims it by moving LoadedAt forward.
        var claimed = known with { LoadedAt = _wallClock.GetTimestamp() };
        if (_tenants.TryUpdate(tenant, claimed, known))
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await LoadAsync(tenant, CancellationToken.None);
                }
                catch (Exception)
                {
                    // The store is unavailable: keep serving the list held; the next use past the interval tries again.
                }
            });
        }
    }

    private static string CatalogKey(string tenant) => TenantKeys.Storage("experiments/catalog", tenant);

    private static byte[] Encode(List<Experiment> experiments) =>
        JsonSerializer.SerializeToUtf8Bytes(
            experiments.Select(e => new StoredExperiment(e.Id, e.Segment, [.. e.Arms.Select(a => new StoredArm(a.Name, a.Share))], e.Salt, e.Start, (int)e.Conversion)).ToList(),
            ExperimentJsonContext.Default.ListStoredExperiment);

    private static List<Experiment> Decode(ReadOnlySpan<byte> data) =>
        [.. (JsonSerializer.Deserialize(data, ExperimentJsonContext.Default.ListStoredExperiment) ?? [])
            .Select(s => new Experiment
            {
                Id = s.Id,
                Segment = s.Segment,
                Arms = [.. s.Arms.Select(a => new ExperimentArm(a.Name, a.Share))],
                Salt = s.Salt,
                Start = s.Start,
                Conversion = (EventType)s.Conversion,
            })];

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    [GeneratedRegex("^[a-z0-9._-]{1,128}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex RuleIdPattern();

    private sealed record TenantExperiments(IReadOnlyList<Experiment> Experiments, long LoadedAt);
}

/// <summary>An experiment as stored.</summary>
internal sealed record StoredExperiment(string Id, string Segment, List<StoredArm> Arms, string Salt, DateTimeOffset Start, int Conversion);

/// <summary>An arm as stored.</summary>
internal sealed record StoredArm(string Name, double Share);

[JsonSerializable(typeof(List<StoredExperiment>))]
internal sealed partial class ExperimentJsonContext : JsonSerializerContext;
