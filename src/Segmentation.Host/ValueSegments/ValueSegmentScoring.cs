using System.Text.Json;
using System.Text.Json.Serialization;
using Segmentation.Core;
using Segmentation.Core.ValueSegments;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.ValueSegments;

/// <summary>
/// The value (RFM) segmentation this process serves, next to the ML (taste) one: fitted on every buyer of the event log
/// (<see cref="ValueSegmentation"/>), stored in the snapshot store (<c>tenant/models/value-segments</c>, so every silo on
/// one store loads the same at start), loaded at start. A buyer is placed at query time in the segment whose centroid
/// is nearest to her standardised log R, F and M as of the query (for a mixture, its components' member means), so she
/// moves as her recency grows. Thread-safe: the served model is swapped whole.
/// </summary>
internal sealed class ValueSegmentScoring(ISnapshotStore store, ProfileOptions profileOptions, string tenant = TenantKeys.DefaultTenant)
{
    /// <summary>Buyers needed to fit.</summary>
    public const int MinCustomers = 20;

    private readonly string _key = TenantKeys.Storage("models/value-segments", tenant);
    private volatile StoredValueModel? _current;

    /// <summary>The served segmentation, or null before the first.</summary>
    public StoredValueModel? Current => _current;

    /// <summary>Loads the stored segmentation, if any; returns its version. One that does not read fails, naming the key.</summary>
    public async Task<string?> LoadAsync(CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(_key, cancellationToken) is not { } stored)
        {
            return null;
        }

        var model = JsonSerializer.Deserialize(stored.Data.Span, ValueJsonContext.Default.StoredValueModel);
        if (model is null || model.Means.Length != ValueSegmentation.Dimensions || model.Scales.Length != ValueSegmentation.Dimensions
            || model.Segments.Count == 0 || model.Segments.Any(s => s.Centroid.Length != ValueSegmentation.Dimensions))
        {
            throw new InvalidDataException($"stored value segmentation '{_key}': not a segmentation over R, F and M");
        }

        _current = model;
        return model.Version;
    }

    /// <summary>
    /// Fits on every buyer of <paramref name="log"/> as of <paramref name="now"/>, stores and serves the result; ids
    /// continue the served segmentation's. <see cref="InvalidOperationException"/> with fewer than <see cref="MinCustomers"/> buyers.
    /// </summary>
    public async Task<(StoredValueModel Model, ValueSegmentationResult Result)> TrainAsync(IEventLog log, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Each buyer's R, F, M, folded one user at a time on the thread pool (a caller may be a grain's turn).
        var customers = new List<RfmCustomer>();
        await Task.Run(
            async () =>
            {
                await foreach (var (_, profile) in LogProfiles.FoldEachAsync(log, profileOptions, tenant, cancellationToken))
                {
                    var rfm = profile.Rfm(now);
                    if (rfm.Frequency > 0)
                    {
                        customers.Add(new RfmCustomer(profile.UserId, rfm.RecencyDays, rfm.Frequency, rfm.Monetary));
                    }
                }
            },
            cancellationToken);

        if (customers.Count < MinCustomers)
        {
            throw new InvalidOperationException($"value segments: {customers.Count} buyers in the event log; a value segmentation needs at least {MinCustomers}");
        }

        var previous = _current is { } served
            ? ([.. served.Segments.SelectMany(s => s.LogCentroid)], served.Segments.Select(s => s.Id).ToArray())
            : ((float[] Centroids, int[] Ids)?)null;
        var result = await Task.Run(() => ValueSegmentation.Fit(customers, kMin: 2, kMax: Math.Min(8, customers.Count - 1), previous: previous), cancellationToken);
        var logs = new double[customers.Count * ValueSegmentation.Dimensions];
        for (var i = 0; i < customers.Count; i++)
        {
            ValueSegmentation.LogPoint(customers[i].RecencyDays, customers[i].Frequency, customers[i].Monetary, logs.AsSpan(i * 3, 3));
        }

        var (means, scales) = ValueSegmentation.Scaling(logs);
        var chosen = result.Chosen;
        var segments = chosen.Segments.Select((s, c) =>
        {
            var logCentroid = chosen.Centroids.AsSpan(c * 3, 3).ToArray();
            var centroid = logCentroid.Select((v, j) => (v - means[j]) / scales[j]).ToArray();
            return new StoredValueSegment(s.Id, s.Label, s.Size, s.RecencyDays, s.Frequency, s.Monetary, logCentroid, centroid);
        }).ToList();
        var model = new StoredValueModel($"value-{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}", chosen.Method, chosen.K, chosen.Silhouette, chosen.DaviesBouldin, customers.Count, means, scales, segments);
        var data = JsonSerializer.SerializeToUtf8Bytes(model, ValueJsonContext.Default.StoredValueModel);
        // The newest training wins.
        await store.OverwriteAsync(_key, data, cancellationToken);

        _current = model;
        return (model, result);
    }

    /// <summary>The segment <paramref name="profile"/> is nearest to as of <paramref name="now"/>; null without a served model or purchases.</summary>
    public ValueMembership? Score(UserProfile profile, DateTimeOffset now)
    {
        if (_current is not { } model || profile.IsEmpty)
        {
            return null;
        }

        var rfm = profile.Rfm(now);
        if (rfm.Frequency == 0)
        {
            return null;
        }

        var nearest = Nearest(model, rfm.RecencyDays, rfm.Frequency, rfm.Monetary);
        return new ValueMembership(nearest.Id, nearest.Label, rfm.RecencyDays, rfm.Frequency, rfm.Monetary, model.Version);
    }

    /// <summary>
    /// The segment of <paramref name="model"/> whose centroid is nearest to a buyer with these R, F and M (whole days
    /// since her last purchase, orders, net spend): what <see cref="Score"/> answers, for callers without her profile.
    /// </summary>
    public static StoredValueSegment Nearest(StoredValueModel model, double recencyDays, long frequency, double monetary)
    {
        Span<double> point = stackalloc double[ValueSegmentation.Dimensions];
        ValueSegmentation.LogPoint(recencyDays, frequency, monetary, point);
        StoredValueSegment? nearest = null;
        var best = double.PositiveInfinity;
        foreach (var segment in model.Segments)
        {
            var distance = 0.0;
            for (var j = 0; j < point.Length; j++)
            {
                var d = ((point[j] - model.Means[j]) / model.Scales[j]) - segment.Centroid[j];
                distance += d * d;
            }

            if (distance < best)
            {
                (best, nearest) = (distance, segment);
            }
        }

        return nearest!;
    }
}

/// <summary>A served value segmentation as stored.</summary>
internal sealed record StoredValueModel(
    string Version, string Method, int K, double Silhouette, double DaviesBouldin, int Customers, double[] Means, double[] Scales, List<StoredValueSegment> Segments);

/// <summary>One value segment as stored: its members' means, and its centroid in log space and standardised.</summary>
internal sealed record StoredValueSegment(int Id, string Label, int Size, double RecencyDays, double Frequency, double Monetary, float[] LogCentroid, double[] Centroid);

[JsonSerializable(typeof(StoredValueModel))]
internal sealed partial class ValueJsonContext : JsonSerializerContext;
