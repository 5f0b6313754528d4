using Microsoft.Extensions.Logging;
using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Core.Recommendations;
using Segmentation.Core.Rules;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Inference;
using Segmentation.Storage;

namespace Segmentation.Host.Grains;

/// <summary>An event that passed validation, with the bytes the event log stores for it.</summary>
internal readonly record struct PendingEvent(BehaviorEvent Event, ReadOnlyMemory<byte> Payload);

/// <summary>What a recommendation needs from a user, read in one turn: her history, segments and embedding.</summary>
internal sealed record RecommendationInput(IReadOnlyList<Interaction> History, SegmentsView Segments, float[]? Embedding = null);

/// <summary>A user's segments as of one time: lifecycle stage, the rule segments she matches, her ML segment.</summary>
internal sealed record SegmentsView(LifecycleAssessment Lifecycle, IReadOnlyList<RuleSegmentMatch> Rules, MlMembership? Ml = null);

/// <summary>A user's ML segment, the model version it was assigned with, and why.</summary>
internal sealed record MlMembership(SegmentAssignment Assignment, long ModelVersion, IReadOnlyList<string> Explanation);

/// <summary>A profile with the user's embedding (null when no user encoder is served) and the model version that computed it.</summary>
internal sealed record ProfileWithEmbedding(ProfileView View, float[]? Embedding, long EmbeddingModelVersion);

/// <summary>What every user grain works with (one instance per host).</summary>
internal sealed record UserGrainServices(
    IEventLog Log,
    ISnapshotStore Snapshots,
    SegmentationOptions Options,
    EventTimeClock? EventClock,
    TimeProvider DomainClock,
    LiveRecommender? Recommender,
    SegmentTracker? Segments,
    UserEmbeddings? Embeddings,
    MlSegmentation? Ml,
    ILogger Logger);

/// <summary>
/// One user's live profile. The event log is the source of truth: the grain appends the user's events durably, then
/// folds them into memory; on activation it loads the latest snapshot and replays the log after it.
/// </summary>
/// <remarks>
/// Runs one turn at a time (grain runtime), so the fold order is the log order, and a replay gives the same state as
/// living the events. Snapshots are written every <c>SnapshotEveryEvents</c> events
/// and when the grain is deactivated; a snapshot rejected for a stale ETag means another activation owns the user, so
/// this one stops writing and asks to be deactivated (it reloads on the next call).
/// </remarks>
internal sealed class UserGrain : Grain
{
    private readonly IEventLog _log;
    private readonly ISnapshotStore _snapshots;
    private readonly ProfileOptions _profileOptions;
    private readonly EventTimeClock? _eventClock;
    private readonly TimeProvider _domainClock;
    private readonly LiveRecommender? _recommender;
    private readonly SegmentTracker? _segments;
    private readonly UserEmbeddings? _embeddings;
    private readonly MlSegmentation? _ml;
    private readonly int _snapshotEvery;
    private readonly ILogger _logger;

    private UserProfile _profile = null!;
    private string? _etag;
    private long _sequence;
    private int _unsnapshotted;
    private bool _fenced;
    private Dictionary<string, string> _memberships = [];

    // Derived from the profile by the served user encoder and the published segmentation model; recomputed when
    // either changes (never stored: the log and the models rebuild them).
    private float[]? _embedding;
    private long _embeddingVersion;
    private bool _embeddingStale = true;
    private MlMembership? _mlSegment;
    private long _mlVersionSeen = -1;

    public UserGrain(UserGrainServices services)
    {
        _recommender = services.Recommender;
        _segments = services.Segments;
        _embeddings = services.Embeddings;
        _ml = services.Ml;
        _log = services.Log;
        _snapshots = services.Snapshots;
        _profileOptions = services.Options.Profiles;
        _snapshotEvery = services.Options.SnapshotEveryEvents;
        _eventClock = services.EventClock;
        _domainClock = services.DomainClock;
        _logger = services.Logger;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var snapshot = await _snapshots.ReadAsync(SnapshotKey, cancellationToken);
        if (snapshot is null)
        {
            _profile = new UserProfile(Key, _profileOptions);
        }
        else
        {
            var state = SnapshotCodec.Decode(snapshot.Data.Span);
            _etag = snapshot.ETag;
            if (state.Format == ProfileState.CurrentFormat)
            {
                _profile = UserProfile.FromState(state, _profileOptions);
                _sequence = snapshot.Sequence;
            }
            else
            {
                // Written by a build that folded other fields: the log is the truth, so fold it all again (the next
                // snapshot write replaces this one; the ETag still fences it).
                _profile = new UserProfile(Key, _profileOptions);
                _unsnapshotted = 1;
            }
        }

        await foreach (var record in _log.ReadStreamAsync(Key, _sequence, cancellationToken))
        {
            var e = EventCodec.Decode(record.Payload.Span);
            Fold(e, record.Sequence);
        }

        // The memberships she had before this activation's first new event; not published (nothing changed). Her ML
        // segment is known once her embedding is computed (first query, first event, or the start-up sweep).
        _memberships = _segments?.Memberships(_profile, _ml?.Members.Of(Key)?.SegmentId) ?? [];
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (reason != DeactivationReason.InconsistentState && !_fenced && _unsnapshotted > 0)
        {
            await TryWriteSnapshotAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Appends the events durably, folds the appended ones, and reports per event whether it was new or a duplicate.
    /// The append is never cancelled half-way: once started, whatever the log stored is also folded, so memory and
    /// log cannot disagree.
    /// </summary>
    public async Task<AppendOutcome[]> ApplyAsync(IReadOnlyList<PendingEvent> events)
    {
        var records = new LogRecord[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            records[i] = new LogRecord(Key, events[i].Event.EventId, events[i].Payload);
        }

        var results = await _log.AppendAsync(records, CancellationToken.None);
        var outcomes = new AppendOutcome[results.Length];
        var appended = false;
        var latest = DateTimeOffset.MinValue;
        for (var i = 0; i < results.Length; i++)
        {
            outcomes[i] = results[i].Outcome;
            if (results[i].Outcome == AppendOutcome.Appended)
            {
                var e = events[i].Event;
                Fold(e, results[i].Sequence);
                appended = true;
                latest = e.Timestamp > latest ? e.Timestamp : latest;
                if (_recommender is not null && e.ItemId.Length > 0)
                {
                    // Before the ack: the next recommendation already knows this event.
                    _recommender.Observe(Key, e, _profile.StageAt(e.Timestamp), _mlSegment?.Assignment.SegmentId);
                }
            }
        }

        if (appended)
        {
            // In the same call that ingests the events: a new embedding, and the segment it falls in.
            _embeddingStale = true;
            await RefreshSegmentAsync(latest);
        }

        if (_unsnapshotted >= _snapshotEvery && !_fenced)
        {
            await TryWriteSnapshotAsync(CancellationToken.None);
        }

        return outcomes;
    }

    /// <summary>The lifecycle stage as of <paramref name="now"/>, or null when the user has no events.</summary>
    public Task<LifecycleAssessment?> GetLifecycleAsync(DateTimeOffset now) =>
        Task.FromResult(_profile.IsEmpty ? null : _profile.AssessLifecycle(now));

    /// <summary>The user's segments as of <paramref name="now"/> under <paramref name="rules"/>, or null when the user has no events.</summary>
    public async Task<SegmentsView?> GetSegmentsAsync(DateTimeOffset now, IReadOnlyList<RuleSegmentDefinition> rules)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        return Segments(now, rules);
    }

    /// <summary>The user's history and segments as of <paramref name="now"/>, or null when the user has no events.</summary>
    public async Task<RecommendationInput?> GetRecommendationInputAsync(DateTimeOffset now, IReadOnlyList<RuleSegmentDefinition> rules)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        return new RecommendationInput(_profile.RecommendationHistory(), Segments(now, rules), _embedding);
    }

    /// <summary>The profile as of <paramref name="now"/> with the user's embedding, or null when the user has no events.</summary>
    public async Task<ProfileWithEmbedding?> GetProfileAsync(DateTimeOffset now)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        return new ProfileWithEmbedding(_profile.View(now), _embedding, _embeddingVersion);
    }

    /// <summary>Her embedding and traits for re-clustering (computed now if stale); null without events or without a served encoder.</summary>
    public async Task<SegmentationInput?> GetSegmentationInputAsync()
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        return _embedding is null || _embedding.Length == 0
            ? null
            : new SegmentationInput(MemberTraits.Of(_profile.View(_domainClock.GetUtcNow()), _embedding), _embeddingVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Computes her embedding again (when the profile or the served model changed) and puts her in the nearest segment
    /// of the published model. A full embedder queue leaves the previous embedding in place, marked stale.
    /// </summary>
    /// <param name="at">The time to stamp published membership changes with (default: domain now).</param>
    public async Task RefreshSegmentAsync(DateTimeOffset? at = null)
    {
        if (_profile.IsEmpty)
        {
            return;
        }

        var now = _domainClock.GetUtcNow();
        await AssignAsync(now);
        if (_segments is not null)
        {
            _memberships = _segments.Update(Key, _profile, _memberships, at ?? now, _mlSegment?.Assignment.SegmentId);
        }
    }

    private async Task AssignAsync(DateTimeOffset now)
    {
        if (_embeddings is null)
        {
            return;
        }

        var recomputed = false;
        if (_embeddingStale || (_embeddings.Version ?? 0) != _embeddingVersion)
        {
            try
            {
                recomputed = true;
                var embedding = await _embeddings.EmbedAsync(_profile, now, CancellationToken.None);
                _embedding = embedding?.Vector;
                _embeddingVersion = embedding?.ModelVersion ?? 0;
                _embeddingStale = false;
            }
            catch (InferenceQueueFullException ex)
            {
                EmbeddingLog.Skipped(_logger, Key, ex.Message);
                return;
            }
        }

        if (_ml is null)
        {
            return;
        }

        var model = _ml.Current;
        _mlVersionSeen = model?.Version ?? -1;
        var version = _embeddingVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_embedding is null || _embedding.Length == 0 || model is null || model.EmbeddingModelVersion != version)
        {
            // No model, or one clustered over another encoder's vectors: no ML segment until re-clustering.
            await _ml.LeaveAsync(Key, CancellationToken.None);
            _mlSegment = null;
            return;
        }

        if (!recomputed && _mlSegment is { } current && model.Assign(_embedding) is var moved && moved.SegmentId == current.Assignment.SegmentId)
        {
            // Only the centroids moved (a newer version), not her: same segment, nothing for the segment grains to learn.
            _mlSegment = current with { Assignment = moved, ModelVersion = model.Version };
            return;
        }

        var view = _profile.View(now);
        var assignment = await _ml.AssignAsync(Key, MemberTraits.Of(view, _embedding), CancellationToken.None);
        _mlSegment = assignment is null ? null : new MlMembership(assignment, model.Version, Explain(view, assignment));
    }

    private async Task EnsureFreshAsync()
    {
        if (_embeddings is not null && (_embeddingStale || (_embeddings.Version ?? 0) != _embeddingVersion || (_ml?.Current is { } m && m.Version != _mlVersionSeen)))
        {
            await RefreshSegmentAsync();
        }
    }

    private static IReadOnlyList<string> Explain(ProfileView view, SegmentAssignment assignment)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var top = view.TopCategories.FirstOrDefault(t => !t.Category.Contains('.', StringComparison.Ordinal));
        return
        [
            string.Create(c, $"nearest centroid: '{assignment.Label}' at distance {assignment.Distance:F3}, the next one {assignment.Distance + assignment.Margin:F3} away"),
            string.Create(c, $"her spend {view.Rfm.Monetary:F2} over {view.Orders} orders (order value {view.AverageOrderValue:F2})"),
            top is null ? "no category engagement yet" : string.Create(c, $"her top category {top.Category} ({top.Share:P0} of her engagement)"),
            "lifecycle " + LifecycleStageNames.Of(view.Lifecycle.Stage),
        ];
    }

    /// <summary>The fold state (for audits: compare with a from-scratch fold of the log).</summary>
    public Task<ProfileState> GetStateAsync() => Task.FromResult(_profile.ToState());

    private string SnapshotKey => "user/" + Key;

    // Rules read traits of the full view; without rules the lifecycle alone is cheaper.
    private SegmentsView Segments(DateTimeOffset now, IReadOnlyList<RuleSegmentDefinition> rules)
    {
        if (rules.Count == 0)
        {
            return new SegmentsView(_profile.AssessLifecycle(now), [], _mlSegment);
        }

        var view = _profile.View(now);
        return new SegmentsView(view.Lifecycle, RuleSegmentCatalog.Evaluate(rules, view), _mlSegment);
    }

    /// <summary>Whether the user's profile as of <paramref name="now"/> matches <paramref name="rule"/>; null when the user has no events.</summary>
    public Task<RuleMatch?> EvaluateAsync(SegmentRule rule, DateTimeOffset now) =>
        Task.FromResult(_profile.IsEmpty ? null : rule.Evaluate(_profile.View(now)));

    private void Fold(BehaviorEvent e, long sequence)
    {
        _profile.Apply(e);
        _sequence = Math.Max(_sequence, sequence);
        _unsnapshotted++;
        _eventClock?.Observe(e.Timestamp);
    }

    private async Task TryWriteSnapshotAsync(CancellationToken cancellationToken)
    {
        try
        {
            var data = SnapshotCodec.Encode(_profile.ToState());
            _etag = await _snapshots.WriteAsync(SnapshotKey, data, _sequence, _etag, cancellationToken);
            _unsnapshotted = 0;
        }
        catch (InconsistentStateException ex)
        {
            // Another activation wrote this user's snapshot: ours is stale. Stop writing and reload on the next call.
            _fenced = true;
            HostLog.SnapshotFenced(_logger, Key, ex.ActualETag);
            DeactivateOnIdle();
        }
    }
}
