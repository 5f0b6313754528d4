using System.Globalization;
using System.Text;
using Segmentation.Core;
using Segmentation.Core.Anomalies;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Anomalies;

/// <summary>
/// The anomaly model this process serves to one tenant: an Isolation Forest grown on every one of its users' profile rates
/// (<see cref="AnomalyFeatures"/>) folded from the event log, stored in the snapshot store (<c>tenant/models/anomaly</c>,
/// so every silo of a cluster on one store finds the same bytes at start), and loaded at start. Scoring reads
/// <see cref="Current"/>, swapped atomically on (re)training; thread-safe.
/// </summary>
internal sealed class AnomalyScoring(ISnapshotStore store, ProfileOptions profileOptions, string tenant = TenantKeys.DefaultTenant)
{
    /// <summary>Users needed to grow a forest.</summary>
    public const int MinUsers = 16;

    private readonly string _key = TenantKeys.Storage("models/anomaly", tenant);
    private volatile Served? _current;

    /// <summary>The forest served and its version, or null before the first training.</summary>
    public (IsolationForest Forest, string Version)? Current => _current is { } served ? (served.Forest, served.Version) : null;

    /// <summary>Score from which a user is flagged.</summary>
    public static double FlagThreshold => AnomalyFeatures.DefaultThreshold;

    /// <summary>Loads the stored forest, if any; returns its version. A stored forest that does not read fails, naming the key.</summary>
    public async Task<string?> LoadAsync(CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(_key, cancellationToken) is not { } stored)
        {
            return null;
        }

        try
        {
            using var stream = new MemoryStream(stored.Data.ToArray());
            using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            var version = reader.ReadString();
            var forest = IsolationForest.Read(stream);
            if (!forest.Features.SequenceEqual(AnomalyFeatures.Names))
            {
                throw new InvalidDataException($"inputs {string.Join(", ", forest.Features)}, this build scores {string.Join(", ", AnomalyFeatures.Names)}");
            }

            _current = new Served(forest, version);
            return version;
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
        {
            throw new InvalidDataException($"stored anomaly model '{_key}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Grows a forest on every user of <paramref name="log"/>, stores it and serves it; returns it with the counts.
    /// <see cref="InvalidOperationException"/> with fewer than <see cref="MinUsers"/> users.
    /// </summary>
    public async Task<(string Version, int Users, int Flagged)> TrainAsync(IEventLog log, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One row of inputs per user, folded one user at a time on the thread pool (a caller may be a grain's turn).
        var inputs = new List<double>();
        var users = 0;
        await Task.Run(
            async () =>
            {
                await foreach (var (_, profile) in LogProfiles.FoldEachAsync(log, profileOptions, tenant, cancellationToken))
                {
                    var row = new double[AnomalyFeatures.Count];
                    AnomalyFeatures.Compute(profile, row);
                    inputs.AddRange(row);
                    users++;
                }
            },
            cancellationToken);

        if (users < MinUsers)
        {
            throw new InvalidOperationException($"anomalies: {users} users in the event log; a forest needs at least {MinUsers}");
        }

        var (forest, flagged) = await Task.Run(
            () =>
            {
                var rows = inputs.ToArray();
                var grown = IsolationForest.Fit(rows, AnomalyFeatures.Count, AnomalyFeatures.Names);
                var count = 0;
                for (var i = 0; i < users; i++)
                {
                    count += grown.Score(rows.AsSpan(i * AnomalyFeatures.Count, AnomalyFeatures.Count)) >= FlagThreshold ? 1 : 0;
                }

                return (grown, count);
            },
            cancellationToken);
        var version = $"anomaly-{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}";
        using var data = new MemoryStream();
        using (var writer = new BinaryWriter(data, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(version);
        }

        forest.Write(data);
        // The newest training wins.
        await store.OverwriteAsync(_key, data.ToArray(), cancellationToken);

        _current = new Served(forest, version);
        return (version, users, flagged);
    }

    /// <summary>The served forest's view of <paramref name="profile"/>, or null when none is served.</summary>
    public AnomalyFlag? Score(UserProfile profile)
    {
        if (_current is not { } served || profile.IsEmpty)
        {
            return null;
        }

        Span<double> inputs = stackalloc double[AnomalyFeatures.Count];
        AnomalyFeatures.Compute(profile, inputs);
        var (score, contributions) = served.Forest.Explain(inputs);
        var reasons = new string[Math.Min(3, contributions.Count)];
        for (var i = 0; i < reasons.Length; i++)
        {
            var c = contributions[i];
            var index = 0;
            while (AnomalyFeatures.Names[index] != c.Feature)
            {
                index++;
            }

            var value = AnomalyFeatures.Readable(index, inputs[index]);
            reasons[i] = string.Create(CultureInfo.InvariantCulture, $"{c.Feature} {value:0.##}: {c.Share:P0} of the isolation");
        }

        return new AnomalyFlag(score, score >= FlagThreshold, reasons, served.Version);
    }

    private sealed record Served(IsolationForest Forest, string Version);
}
