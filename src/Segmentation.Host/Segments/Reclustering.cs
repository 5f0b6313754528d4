using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>What a re-clustering should do.</summary>
/// <param name="K">Segments wanted; 0 to choose in [<paramref name="KMin"/>, <paramref name="KMax"/>] (<see cref="KSelection"/>).</param>
/// <param name="KMin">Smallest K tried when <paramref name="K"/> is 0.</param>
/// <param name="KMax">Largest K tried when <paramref name="K"/> is 0.</param>
/// <param name="DryRun">Report what would change and publish nothing.</param>
/// <param name="Seed">k-means seed (same data, same seed: same result).</param>
internal sealed record ReclusterSettings(int K, int KMin, int KMax, bool DryRun, int Seed);

/// <summary>One segment of a re-clustering's result.</summary>
/// <param name="SegmentId">Its stable id.</param>
/// <param name="Label">Its label.</param>
/// <param name="Size">Users in it after re-clustering.</param>
/// <param name="PreviousSize">Users in it before (0 for a new segment).</param>
/// <param name="Status">"matched", "new" or "retired".</param>
/// <param name="CentroidShift">Distance its centroid moved (NaN for new and retired segments).</param>
internal sealed record ReclusterSegmentResult(int SegmentId, string Label, long Size, long PreviousSize, string Status, double CentroidShift);

/// <summary>What a re-clustering found (and, unless a dry run, published).</summary>
internal sealed record ReclusterReport(
    long Version,
    bool Published,
    int K,
    long Users,
    long UsersMoved,
    double Inertia,
    double Silhouette,
    double DaviesBouldin,
    IReadOnlyList<ReclusterSegmentResult> Segments,
    IReadOnlyList<KCandidateScore> Candidates,
    TimeSpan Elapsed)
{
    /// <summary>How k was chosen, in one sentence.</summary>
    public string Criterion { get; init; } = "";

    /// <summary>The smallest segment a chosen k may have for this many users (<see cref="KSelection.MinimumSegmentSizeFor"/>).</summary>
    public int MinimumSegmentSize { get; init; }

    /// <summary>What the numbers say about the data (no clear structure, k ruled out, a segment under the minimum size).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>
/// A full re-clustering of one tenant's ML segmentation (<see cref="TenantSegmentations"/>): every user's current embedding is collected (a sweep over the users in the event log), k-means
/// (k-means++ / k-means||, seeded) is fitted, the new centroids are matched to the old ones (Hungarian assignment on
/// centroid distance, <see cref="CentroidMatching"/>) so continuing segments keep their ids, and the quality metrics are
/// computed. Unless it is a dry run, the new version is published and every user is re-assigned by a sweep.
/// </summary>
internal sealed class Reclustering
{
    /// <summary>A new centroid farther than this from every old one (Euclidean, unit vectors) starts a new segment.</summary>
    public const double MaxContinuationDistance = 0.75;

    private const int SweepParallelism = 32;

    private readonly GrainReferences<IUserGrain> _users;
    private readonly IEventLog _log;
    private readonly MlSegmentation _segmentation;
    private readonly TimeProvider _wallClock;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public Reclustering(IGrainFactory grains, IEventLog log, MlSegmentation segmentation, TimeProvider wallClock)
    {
        _users = new GrainReferences<IUserGrain>(grains);
        _log = log;
        _segmentation = segmentation;
        _wallClock = wallClock;
    }

    /// <summary>The segmentation this re-clustering replaces.</summary>
    public MlSegmentation Segmentation => _segmentation;

    /// <summary>Runs one re-clustering (one at a time per tenant and host; a second call waits).</summary>
    public async Task<ReclusterReport> RunAsync(ReclusterSettings request, Func<IUserGrain, Task<SegmentationInput?>> collect, CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        try
        {
            var started = _wallClock.GetTimestamp();
            var users = new List<(string UserId, SegmentationInput Input)>();
            var gate = new Lock();
            await SweepAsync(
                async (user, ct) =>
                {
                    if (await collect(user.Grain).WaitAsync(ct) is { } input)
                    {
                        lock (gate)
                        {
                            users.Add((user.UserId, input));
                        }
                    }
                },
                cancellationToken);
            users.Sort((a, b) => string.CompareOrdinal(a.UserId, b.UserId)); // deterministic input order

            var dimensions = users.Count == 0 ? 0 : users[0].Input.Traits.Embedding.Length;
            users.RemoveAll(u => u.Input.Traits.Embedding.Length != dimensions);
            if (users.Count < 2)
            {
                throw new InvalidOperationException($"re-clustering needs at least 2 users with embeddings; found {users.Count}");
            }

            var data = new float[users.Count * dimensions];
            for (var i = 0; i < users.Count; i++)
            {
                users[i].Input.Traits.Embedding.CopyTo(data, i * dimensions);
            }

            KChoice? choice = null;
            var warnings = new List<string>();
            KMeansResult fit;
            if (request.K > 0)
            {
                fit = Fit(data, dimensions, Math.Min(request.K, users.Count), request.Seed);
                var minimum = KSelection.MinimumSegmentSizeFor(users.Count);
                if (Smallest(fit, fit.Centroids.Length / dimensions) is var smallest && smallest < minimum)
                {
                    warnings.Add($"k = {fit.Centroids.Length / dimensions} as asked, but a segment has only {smallest} users (fewer than {minimum}, the minimum segment size for {users.Count:N0} users); recluster --k 0 chooses a k the data supports");
                }
            }
            else
            {
                // k the data cannot support (a segment under the minimum size whatever the fit) are not fitted at all.
                var fits = new Dictionary<int, KMeansResult>();
                var scores = new List<(int K, double Silhouette, long SmallestSegment)>();
                var largest = Math.Min(request.KMax, Math.Min(users.Count - 1, KSelection.LargestSupportedK(users.Count)));
                var from = Math.Max(2, request.KMin);
                for (var k = from; k <= Math.Max(from, largest) && k < users.Count; k++)
                {
                    var candidate = fits[k] = Fit(data, dimensions, k, request.Seed);
                    scores.Add((k, ClusterMetrics.Silhouette(data, dimensions, candidate.Assignments), Smallest(candidate, k)));
                }

                if (scores.Count == 0)
                {
                    throw new InvalidOperationException($"re-clustering needs more users than the smallest k tried ({from}); found {users.Count}");
                }

                var skipped = Enumerable.Range(from, Math.Max(0, Math.Min(request.KMax, users.Count - 1) - from + 1)).Where(k => !fits.ContainsKey(k)).ToList();
                choice = KSelection.Choose(scores, users.Count, skipped);
                fit = fits[choice.K];
                warnings.AddRange(choice.Warnings);
            }

            var k2 = fit.Centroids.Length / dimensions;
            for (var i = 0; i < k2; i++)
            {
                SegmentationModel.Normalise(fit.Centroids.AsSpan(i * dimensions, dimensions));
            }

            // Centroids are matched (and ids continued) only within one encoder's space: over another encoder's vectors
            // a centroid distance means nothing, so the new segments take new ids and the old ones retire. New ids also
            // keep the old segments' grains, whose members still answer until they are re-assigned, apart from the new.
            var embeddingVersion = users[0].Input.EmbeddingModelVersion;
            var inForce = _segmentation.Current;
            var previous = inForce is { } p && p.Dimensions == dimensions && p.EmbeddingModelVersion == embeddingVersion ? p : null;
            var ids = new int[k2];
            var shifts = new double[k2];
            var retired = new List<int>();
            if (previous is null)
            {
                var firstId = inForce is null ? 1 : inForce.SegmentIds.Max() + 1;
                for (var i = 0; i < k2; i++)
                {
                    ids[i] = firstId + i;
                    shifts[i] = double.NaN;
                }

                if (inForce is not null)
                {
                    retired.AddRange(inForce.SegmentIds);
                }
            }
            else
            {
                var match = CentroidMatching.Match(previous.Centroids, fit.Centroids, dimensions, MaxContinuationDistance);
                var nextId = previous.SegmentIds.Max() + 1;
                for (var i = 0; i < k2; i++)
                {
                    ids[i] = match.PreviousOfNew[i] >= 0 ? previous.SegmentIds[match.PreviousOfNew[i]] : nextId++;
                    shifts[i] = match.Distances[i];
                }

                retired.AddRange(match.Retired.Select(r => previous.SegmentIds[r]));
            }

            // Labels from the members' traits under the new assignment.
            var statistics = Enumerable.Range(0, k2).Select(_ => new SegmentStatistics(dimensions)).ToArray();
            var everyone = new SegmentStatistics(dimensions);
            var before = new Dictionary<int, long>();
            long moved = 0;
            for (var i = 0; i < users.Count; i++)
            {
                statistics[fit.Assignments[i]].Add(users[i].Input.Traits);
                everyone.Add(users[i].Input.Traits);
                var old = _segmentation.Members.Of(users[i].UserId)?.SegmentId;
                if (old is { } o)
                {
                    before[o] = before.GetValueOrDefault(o) + 1;
                }

                if (old != ids[fit.Assignments[i]])
                {
                    moved++;
                }
            }

            var labels = SegmentLabeler.LabelAll(statistics, everyone);
            var segments = new List<ReclusterSegmentResult>();
            for (var i = 0; i < k2; i++)
            {
                var matched = previous is not null && !double.IsNaN(shifts[i]);
                segments.Add(new ReclusterSegmentResult(ids[i], labels[i], statistics[i].Size, before.GetValueOrDefault(ids[i]), matched ? "matched" : "new", shifts[i]));
            }

            segments.AddRange(retired.Select(id => new ReclusterSegmentResult(id, inForce!.LabelOf(id), 0, before.GetValueOrDefault(id), "retired", double.NaN)));
            segments.Sort((a, b) => a.SegmentId.CompareTo(b.SegmentId));

            var version = (inForce?.Version ?? 0) + 1;
            if (!request.DryRun)
            {
                var model = new SegmentationModel(version, dimensions, ids, fit.Centroids, labels, embeddingVersion, _wallClock.GetUtcNow());
                await _segmentation.ReplaceAsync(model, cancellationToken);
                await SweepAsync((user, ct) => user.Grain.RefreshSegmentAsync().WaitAsync(ct), cancellationToken);
            }

            var silhouette = ClusterMetrics.Silhouette(data, dimensions, fit.Assignments);
            if (choice is null && silhouette < KSelection.ClearStructure)
            {
                warnings.Add($"no clear cluster structure: silhouette {silhouette.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)} (below {KSelection.ClearStructure.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}); the segments split a continuum of users rather than separate groups");
            }

            return new ReclusterReport(
                version,
                !request.DryRun,
                k2,
                users.Count,
                moved,
                fit.Inertia,
                silhouette,
                ClusterMetrics.DaviesBouldin(data, dimensions, fit.Assignments),
                segments,
                choice?.Candidates ?? [],
                _wallClock.GetElapsedTime(started))
            {
                Criterion = choice?.Criterion ?? $"k = {k2} as asked",
                MinimumSegmentSize = KSelection.MinimumSegmentSizeFor(users.Count),
                Warnings = warnings,
            };
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>
    /// After a user encoder was activated: when the segmentation in force was clustered over another encoder's vectors,
    /// re-clusters at once with as many segments (k-means seed 1) and publishes, so users move from the old segments to
    /// the new ones without a moment in between (until the publication they keep their old membership: see
    /// <c>UserGrain</c>). Null when there is no segmentation yet, or it already is over <paramref name="encoderVersion"/>.
    /// </summary>
    public async Task<ReclusterReport?> AfterEncoderActivatedAsync(long encoderVersion, Func<IUserGrain, Task<SegmentationInput?>> collect, CancellationToken cancellationToken)
    {
        var version = encoderVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_segmentation.Current is not { } model || model.EmbeddingModelVersion == version)
        {
            return null;
        }

        return await RunAsync(new ReclusterSettings(model.SegmentIds.Count, 2, 2, DryRun: false, Seed: 1), collect, cancellationToken);
    }

    /// <summary>
    /// Calls <paramref name="visit"/> for every user with events of the tenant this re-clustering segments, a bounded
    /// number at a time. Streams of data folders written before keys carried a tenant are skipped (not migrated).
    /// </summary>
    public Task SweepAsync(Func<SweptUser, CancellationToken, Task> visit, CancellationToken cancellationToken) =>
        SweepAsync(_segmentation.Tenant, visit, cancellationToken);

    /// <summary>Calls <paramref name="visit"/> for every user of <paramref name="tenant"/> with events, a bounded number at a time.</summary>
    public Task SweepAsync(string tenant, Func<SweptUser, CancellationToken, Task> visit, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(
            _log.ReadStreamIdsAsync(cancellationToken),
            new ParallelOptions { MaxDegreeOfParallelism = SweepParallelism, CancellationToken = cancellationToken },
            (streamId, ct) => streamId.StartsWith(tenant + "/", StringComparison.Ordinal)
                ? new ValueTask(visit(new SweptUser(TenantKeys.UserIdOf(streamId), _users.Get(streamId)), ct))
                : ValueTask.CompletedTask);

    private static long Smallest(KMeansResult fit, int k)
    {
        var sizes = new long[k];
        foreach (var a in fit.Assignments)
        {
            sizes[a]++;
        }

        return sizes.Min();
    }

    private static KMeansResult Fit(float[] data, int dimensions, int k, int seed) =>
        KMeans.Fit(data, dimensions, new KMeansOptions { K = k, Seed = seed, MaxIterations = 100 });
}

/// <summary>A user visited by a sweep: her id (as the public API names her) and her grain.</summary>
internal readonly record struct SweptUser(string UserId, IUserGrain Grain);
