using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>What a re-clustering should do.</summary>
/// <param name="K">Segments wanted; 0 to choose in [<paramref name="KMin"/>, <paramref name="KMax"/>] by silhouette.</param>
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
    IReadOnlyList<(int K, double Silhouette)> Candidates,
    TimeSpan Elapsed);

/// <summary>
/// A full re-clustering: every user's current embedding is collected (a sweep over the users in the event log), k-means
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

    /// <summary>Runs one re-clustering (one at a time per host; a second call waits).</summary>
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

            var candidates = new List<(int K, double Silhouette)>();
            KMeansResult fit;
            if (request.K > 0)
            {
                fit = Fit(data, dimensions, Math.Min(request.K, users.Count), request.Seed);
            }
            else
            {
                fit = null!;
                var best = double.NegativeInfinity;
                for (var k = Math.Max(2, request.KMin); k <= Math.Min(request.KMax, users.Count - 1); k++)
                {
                    var candidate = Fit(data, dimensions, k, request.Seed);
                    var silhouette = ClusterMetrics.Silhouette(data, dimensions, candidate.Assignments);
                    candidates.Add((k, silhouette));
                    if (silhouette > best)
                    {
                        (best, fit) = (silhouette, candidate);
                    }
                }
            }

            var k2 = fit.Centroids.Length / dimensions;
            for (var i = 0; i < k2; i++)
            {
                SegmentationModel.Normalise(fit.Centroids.AsSpan(i * dimensions, dimensions));
            }

            var previous = _segmentation.Current is { } p && p.Dimensions == dimensions ? p : null;
            var ids = new int[k2];
            var shifts = new double[k2];
            var retired = new List<int>();
            if (previous is null)
            {
                for (var i = 0; i < k2; i++)
                {
                    ids[i] = i + 1;
                    shifts[i] = double.NaN;
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

            var labels = statistics.Select(s => SegmentLabeler.Label(s, everyone)).ToArray();
            var segments = new List<ReclusterSegmentResult>();
            for (var i = 0; i < k2; i++)
            {
                var matched = previous is not null && !double.IsNaN(shifts[i]);
                segments.Add(new ReclusterSegmentResult(ids[i], labels[i], statistics[i].Size, before.GetValueOrDefault(ids[i]), matched ? "matched" : "new", shifts[i]));
            }

            segments.AddRange(retired.Select(id => new ReclusterSegmentResult(id, previous!.LabelOf(id), 0, before.GetValueOrDefault(id), "retired", double.NaN)));
            segments.Sort((a, b) => a.SegmentId.CompareTo(b.SegmentId));

            var version = (previous?.Version ?? _segmentation.Current?.Version ?? 0) + 1;
            var embeddingVersion = users[0].Input.EmbeddingModelVersion;
            if (!request.DryRun)
            {
                var model = new SegmentationModel(version, dimensions, ids, fit.Centroids, labels, embeddingVersion, _wallClock.GetUtcNow());
                await _segmentation.ReplaceAsync(model, cancellationToken);
                await SweepAsync((user, ct) => user.Grain.RefreshSegmentAsync().WaitAsync(ct), cancellationToken);
            }

            return new ReclusterReport(
                version,
                !request.DryRun,
                k2,
                users.Count,
                moved,
                fit.Inertia,
                ClusterMetrics.Silhouette(data, dimensions, fit.Assignments),
                ClusterMetrics.DaviesBouldin(data, dimensions, fit.Assignments),
                segments,
                candidates,
                _wallClock.GetElapsedTime(started));
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>
    /// Calls <paramref name="visit"/> for every user of the default tenant with events, a bounded number at a time.
    /// Streams of data folders written before keys carried a tenant are skipped (such folders are not migrated).
    /// </summary>
    public Task SweepAsync(Func<SweptUser, CancellationToken, Task> visit, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(
            _log.ReadStreamIdsAsync(cancellationToken),
            new ParallelOptions { MaxDegreeOfParallelism = SweepParallelism, CancellationToken = cancellationToken },
            (streamId, ct) => streamId.StartsWith(TenantKeys.DefaultTenant + "/", StringComparison.Ordinal)
                ? new ValueTask(visit(new SweptUser(TenantKeys.UserIdOf(streamId), _users.Get(streamId)), ct))
                : ValueTask.CompletedTask);

    private static KMeansResult Fit(float[] data, int dimensions, int k, int seed) =>
        KMeans.Fit(data, dimensions, new KMeansOptions { K = k, Seed = seed, MaxIterations = 100 });
}

/// <summary>A user visited by a sweep: her id (as the public API names her) and her grain.</summary>
internal readonly record struct SweptUser(string UserId, IUserGrain Grain);
