using System.Text.Json;
using System.Text.Json.Serialization;
using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>
/// The ML segmentation of one tenant on this host (<see cref="TenantSegmentations"/>): the published <see cref="SegmentationModel"/> that user grains assign against,
/// the segment grains' live statistics (fed in batches from <see cref="Members"/>), and the publication of a new version whose centroids are the members' mean
/// directions (online spherical k-means) and whose labels name what distinguishes each segment — periodically, on the
/// timer of <see cref="SegmentationModelGrain"/>.
/// </summary>
/// <remarks>
/// Versions are immutable; <see cref="Current"/> is swapped whole (readers never lock). Each published version is
/// stored in the snapshot store, so a restart serves the last one at once; the members' statistics are rebuilt as the
/// start-up sweep assigns every user again.
/// </remarks>
internal sealed class MlSegmentation
{
    private readonly string _key;
    private readonly GrainReferences<ISegmentGrain> _segments;
    private readonly ISnapshotStore _store;
    private readonly TimeProvider _wallClock;
    private readonly SemaphoreSlim _publishing = new(1, 1);
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private SegmentationModel? _current;
    private string? _etag;
    private long _changesSincePublish;

    public MlSegmentation(IGrainFactory grains, ISnapshotStore store, TimeProvider wallClock, string tenant = TenantKeys.DefaultTenant)
    {
        Tenant = tenant;
        _key = TenantKeys.Storage("segmentation/model", tenant);
        _segments = new GrainReferences<ISegmentGrain>(grains);
        _store = store;
        _wallClock = wallClock;
    }

    /// <summary>The tenant whose users this segmentation segments (its model key, its segment grains).</summary>
    public string Tenant { get; }

    /// <summary>Who is in which segment.</summary>
    public SegmentMembers Members { get; } = new();

    /// <summary>The model in force, or null before the first clustering.</summary>
    public SegmentationModel? Current => Volatile.Read(ref _current);

    /// <summary>Loads the last published model (at start, and in a cluster when another silo published one).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.ReadAsync(_key, cancellationToken);
        if (stored is null)
        {
            return;
        }

        var m = JsonSerializer.Deserialize(stored.Data.Span, ModelJsonContext.Default.StoredModel)
            ?? throw new InvalidDataException("The stored segmentation model is empty.");
        await _publishing.WaitAsync(cancellationToken);
        try
        {
            // In a cluster another silo's publication may be read here after a newer one of this silo's: keep the newer.
            _etag = stored.ETag;
            if (Current is not { } current || m.Version >= current.Version)
            {
                Volatile.Write(ref _current, new SegmentationModel(m.Version, m.Dimensions, m.SegmentIds, m.Centroids, m.Labels, m.EmbeddingModelVersion, m.CreatedAt));
            }
        }
        finally
        {
            _publishing.Release();
        }
    }

    /// <summary>
    /// Tells the other silos of the cluster that a version was published (each then <see cref="LoadAsync"/>s it), or
    /// null with one silo. Called after the version is stored, before the publication returns.
    /// </summary>
    public Func<Task>? Published { get; set; }

    /// <summary>
    /// Puts <paramref name="userId"/> in the segment nearest to <paramref name="traits"/>' embedding (leaving the one
    /// she was in), and returns the assignment; null when there is no model or the embedding's length does not match it.
    /// The segment statistics count the move at the next <see cref="FlushAsync"/>.
    /// </summary>
    public SegmentAssignment? Assign(string userId, MemberTraits traits)
    {
        var model = Current;
        if (model is null || traits.Embedding.Length != model.Dimensions)
        {
            Leave(userId);
            return null;
        }

        var assignment = model.Assign(traits.Embedding);
        Members.Record(userId, new SegmentJoin(userId, traits, assignment.Distance) { SegmentId = assignment.SegmentId });
        Interlocked.Increment(ref _changesSincePublish);
        return assignment;
    }

    /// <summary>Makes the next <see cref="PublishAsync"/> publish a version even if no member moved here (members left elsewhere).</summary>
    public void MarkChanged() => Interlocked.Increment(ref _changesSincePublish);

    /// <summary>Takes the user out of her segment, if any (counted at the next <see cref="FlushAsync"/>).</summary>
    public void Leave(string userId)
    {
        if (Members.Of(userId) is not null)
        {
            Members.Record(userId, null);
            Interlocked.Increment(ref _changesSincePublish);
        }
    }

    /// <summary>
    /// Hands the moves this silo's users recorded since the last flush to the segment grains: first every leave, then
    /// every join, one batch per segment each (a segment grain's join must not overwrite a member another segment still
    /// counts). With one silo a user leaves the segment this silo last counted her in; in a cluster she may have been
    /// counted by another silo she lived on before, so she leaves every other segment of the model in force. Called
    /// periodically (<see cref="SegmentStatisticsFlusher"/>) and, on every silo, before a read of statistics or members
    /// (<see cref="FlushEverywhereAsync"/>). One flush at a time; a failed one leaves its changes to the next.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken);
        var applied = false;
        Dictionary<string, SegmentJoin?>? changes = null;
        try
        {
            if ((changes = Members.BeginFlush()) is null)
            {
                return;
            }

            var leaving = new Dictionary<int, List<string>>();
            var joining = new Dictionary<int, List<SegmentJoin>>();
            var everySegment = ClusterWide ? Current?.SegmentIds : null;
            foreach (var (userId, wanted) in changes)
            {
                if (everySegment is not null)
                {
                    foreach (var segmentId in everySegment)
                    {
                        if (segmentId != wanted?.SegmentId)
                        {
                            Batch(leaving, segmentId).Add(userId);
                        }
                    }
                }
                else if (Members.Counted(userId) is { } counted && counted.SegmentId != wanted?.SegmentId)
                {
                    // Flushes are serialised and only they change the counted layer, so it is stable here.
                    Batch(leaving, counted.SegmentId).Add(userId);
                }

                if (wanted is not null)
                {
                    Batch(joining, wanted.SegmentId).Add(wanted);
                }
            }

            await Task.WhenAll(leaving.Select(p => Segment(p.Key).LeaveAsync([.. p.Value]))).WaitAsync(cancellationToken);
            await Task.WhenAll(joining.Select(p => Segment(p.Key).JoinAsync([.. p.Value]))).WaitAsync(cancellationToken);
            foreach (var (userId, wanted) in changes)
            {
                Members.SetCounted(userId, wanted);
            }

            applied = true;
        }
        finally
        {
            if (changes is not null)
            {
                Members.EndFlush(applied);
            }

            _flushing.Release();
        }

        static List<T> Batch<T>(Dictionary<int, List<T>> batches, int segmentId)
        {
            if (!batches.TryGetValue(segmentId, out var batch))
            {
                batches.Add(segmentId, batch = []);
            }

            return batch;
        }
    }

    /// <summary>
    /// In a cluster: makes every other silo flush (<see cref="FlushAsync"/> there), or null with one silo. Set by the
    /// cluster's replication.
    /// </summary>
    public Func<Task>? FlushPeers { get; set; }

    /// <summary>
    /// In a cluster: the members of a segment every other silo has counted (its <see cref="CountedMembers"/>), or null
    /// with one silo. Set by the cluster's replication.
    /// </summary>
    public Func<int, Task<IReadOnlyList<SegmentJoin>>>? PeerCountedMembers { get; set; }

    private bool ClusterWide => PeerCountedMembers is not null;

    /// <summary>Flushes this silo's recorded moves, then every other silo's: what a read that follows sees is current everywhere.</summary>
    public async Task FlushEverywhereAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        if (FlushPeers is { } peers)
        {
            await peers().WaitAsync(cancellationToken);
        }
    }

    /// <summary>The members of <paramref name="segmentId"/> this silo has handed to the segment grains.</summary>
    public SegmentJoin[] CountedMembers(int segmentId) =>
        [.. Members.InSegment(segmentId).Select(p => p.Value)];

    /// <summary>The members of <paramref name="segmentId"/> every silo has handed to the segment grains (a user once).</summary>
    public async Task<IReadOnlyList<SegmentJoin>> CountedMembersEverywhereAsync(int segmentId)
    {
        var members = CountedMembers(segmentId);
        return PeerCountedMembers is { } peers ? [.. members, .. await peers(segmentId)] : members;
    }

    /// <summary>The live statistics of every segment of the current model (id order) and of everyone.</summary>
    public async Task<(IReadOnlyList<(int SegmentId, SegmentStatistics Statistics)> Segments, SegmentStatistics Everyone)> StatisticsAsync(CancellationToken cancellationToken)
    {
        var model = Current ?? throw new InvalidOperationException("no segmentation model yet");
        await FlushEverywhereAsync(cancellationToken);
        var segments = new List<(int, SegmentStatistics)>();
        var everyone = new SegmentStatistics(model.Dimensions);
        foreach (var id in model.SegmentIds)
        {
            var statistics = await Segment(id).GetStatisticsAsync().WaitAsync(cancellationToken);
            segments.Add((id, statistics));
            if (statistics.Dimensions == model.Dimensions)
            {
                everyone.Merge(statistics);
            }
        }

        return (segments, everyone);
    }

    /// <summary>The live statistics of one segment.</summary>
    public async Task<SegmentStatistics> StatisticsAsync(int segmentId, CancellationToken cancellationToken)
    {
        await FlushEverywhereAsync(cancellationToken);
        return await Segment(segmentId).GetStatisticsAsync().WaitAsync(cancellationToken);
    }

    /// <summary>Who is in segment <paramref name="segmentId"/> now, cluster-wide (every silo's recorded moves flushed first).</summary>
    public async Task<SegmentMember[]> MembersAsync(int segmentId, CancellationToken cancellationToken)
    {
        await FlushEverywhereAsync(cancellationToken);
        return await Segment(segmentId).GetMembersAsync().WaitAsync(cancellationToken);
    }


    private ISegmentGrain Segment(int segmentId) => _segments.Get(TenantKeys.Segment(segmentId, Tenant));

    /// <summary>
    /// Publishes a new version when members changed since the last one: each centroid moves to its members' mean
    /// direction (a segment without members keeps its centroid) and is labelled again. Returns the model in force.
    /// </summary>
    public async Task<SegmentationModel?> PublishAsync(CancellationToken cancellationToken)
    {
        await _publishing.WaitAsync(cancellationToken);
        try
        {
            var model = Current;
            if (model is null || Interlocked.Exchange(ref _changesSincePublish, 0) == 0)
            {
                return model;
            }

            var (segments, everyone) = await StatisticsAsync(cancellationToken);
            var centroids = model.Centroids.ToArray();
            var labels = SegmentLabeler.LabelAll([.. segments.Select(s => s.Statistics)], everyone);
            for (var i = 0; i < segments.Count; i++)
            {
                var statistics = segments[i].Statistics;
                if (statistics.Size > 0)
                {
                    statistics.MeanDirection().CopyTo(centroids.AsSpan(i * model.Dimensions, model.Dimensions));
                }
                else
                {
                    labels[i] = model.Labels[i];
                }
            }

            var next = new SegmentationModel(model.Version + 1, model.Dimensions, model.SegmentIds, centroids, labels, model.EmbeddingModelVersion, _wallClock.GetUtcNow());
            await StoreAsync(next, cancellationToken);
            SegmentationDiagnostics.SegmentPublications.Add(1);
            return next;
        }
        finally
        {
            _publishing.Release();
        }
    }

    /// <summary>Publishes <paramref name="model"/> as the new version (re-clustering); its version must be higher.</summary>
    public async Task ReplaceAsync(SegmentationModel model, CancellationToken cancellationToken)
    {
        await _publishing.WaitAsync(cancellationToken);
        try
        {
            await StoreAsync(model, cancellationToken);
            Interlocked.Exchange(ref _changesSincePublish, 0);
        }
        finally
        {
            _publishing.Release();
        }
    }

    private async Task StoreAsync(SegmentationModel model, CancellationToken cancellationToken)
    {
        var stored = new StoredModel(model.Version, model.Dimensions, [.. model.SegmentIds], model.Centroids.ToArray(), [.. model.Labels], model.EmbeddingModelVersion, model.CreatedAt);
        _etag = await _store.WriteAsync(_key, JsonSerializer.SerializeToUtf8Bytes(stored, ModelJsonContext.Default.StoredModel), model.Version, _etag, cancellationToken);
        Volatile.Write(ref _current, model);
        if (Published is { } published)
        {
            await published();
        }
    }
}

/// <summary>A segmentation model as stored.</summary>
internal sealed record StoredModel(long Version, int Dimensions, int[] SegmentIds, float[] Centroids, string[] Labels, string EmbeddingModelVersion, DateTimeOffset CreatedAt);

[JsonSerializable(typeof(StoredModel))]
internal sealed partial class ModelJsonContext : JsonSerializerContext;
