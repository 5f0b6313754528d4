using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Core.Errors;
using Segmentation.Core.Experiments;
using Segmentation.Core.Recommendations;
using Segmentation.Core.Rules;
using Segmentation.Core.Statistics;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Experiments;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Host.Internal;
using Segmentation.Host.Segments;
using Segmentation.Inference;
using Segmentation.Storage;

namespace Segmentation.Host.Grains;

/// <summary>
/// One user's live profile (key <c>tenant/userId</c>, which is also her event-log stream). The event log is the
/// source of truth: the grain appends the user's events durably, then folds them into memory; on activation it loads
/// the latest snapshot and replays the log after it.
/// </summary>
/// <remarks>
/// <para>Orleans runs one call at a time per activation, so no locks. Snapshots are written every
/// <c>SnapshotEveryEvents</c> events and on deactivation, with the ETag read or last written: a write rejected for a
/// stale ETag means another activation wrote this user's snapshot, so this one stops writing and deactivates (the next
/// call activates afresh from that snapshot and the log).</para>
/// <para>Duplicate activations (possible for a moment during a membership change) lose nothing and count nothing twice:
/// the log is idempotent by event id, a profile is a function of its set of events whatever their order, and before
/// each snapshot the grain folds the events other activations appended to its stream since it last read it, so a
/// snapshot's sequence number always closes a complete prefix of the stream.</para>
/// <para>Derived state: after the events are durable, folded and observed by the recommenders, <see cref="ApplyAsync"/>
/// refreshes her in the same turn — re-embeds her, assigns her ML segment, records her move for the segment statistics
/// and publishes her membership changes — so one user's part of an ingest batch is one grain call. When her last refresh
/// ran less than <c>Segmentation:Segments:RefreshDelay</c> ago (a burst of batches), it queues the refresh with the
/// silo's <see cref="SegmentRefreshScheduler"/> instead, which calls <see cref="RefreshDueAsync"/> once the delay has
/// passed (or her next ingest after that runs it), once for all the events that arrived meanwhile. Either is a grain
/// turn like any other, so it never interleaves with an ingest. Every query refreshes first when a refresh is pending,
/// so nobody reads segments older than the events already acknowledged.</para>
/// </remarks>
[RequiresRole(ServerRoles.Silo)]
internal sealed class UserGrain : Grain, IUserGrain
{
    private static readonly ApplyResult s_oneAppended = new([true]);
    private static readonly ApplyResult s_oneDuplicate = new([false]);

    // Her tenant's (set at activation, from the tenant of her key): the clock, recommenders, rule segments, ML
    // segmentation, growth models and segment tracker (watches) are per tenant.
    private EventTimeClock? _eventClock;
    private TimeProvider _domainClock;
    private Recommendations.LiveRecommender? _recommender;
    private SegmentTracker? _segments;
    private RuleSegmentCatalog? _rules;
    private global::Segmentation.Host.Growth.GrowthModels? _growth;
    private MlSegmentation? _ml;
    private readonly GrainServices _services;

    // Sequences this activation appended after _readThrough (the first _ownAppendCount): the catch-up read skips them
    // (already folded). A bare array, not a set or a list: 8 bytes a sequence instead of a set's ~24, no list object,
    // and nothing at all for a user who has appended nothing since her last snapshot; the catch-up's linear search over
    // at most SnapshotEveryEvents of them runs once per snapshot.
    private long[]? _ownAppends;
    private int _ownAppendCount;

    private string _key = "";
    private string _tenant = TenantKeys.DefaultTenant;
    private string _userId = "";
    private UserProfile _profile = null!;
    private string? _etag;
    private long _readThrough;
    private int _unsnapshotted;
    private bool _fenced;
    private KeyValuePair<string, string>[] _memberships = [];
    private (string Text, SegmentRule Rule)? _lastRule;

    // Derived from the profile by the served user encoder and the published segmentation model; recomputed when
    // either changes (never stored: the log and the models rebuild them).
    private float[]? _embedding;
    private long _embeddingVersion;
    private bool _embeddingStale = true;

    // Why her embedding could not be computed at the last try (no inference silo in the cluster), or null. Her last
    // embedding stays, marked stale; every refresh tries again (her next event or query), and while it is set she waits
    // in the silo's StaleEmbeddings, which refreshes her once an inference silo has joined.
    private string? _embeddingUnavailable;

    // Her ML segment and the version of the segmentation that assigned it. What queries answer with, her membership
    // with its explanation, is made at the first query after an assignment (the refresh after every event would otherwise
    // format four strings nobody reads) and kept in _mlExplained until the next assignment. Two fields rather than an
    // MlMembership made at every assignment: each ingest refresh assigns her, and that object lived until her next
    // refresh, long enough to survive the gen0 collections in between, which copy it (one per refreshed user).
    private SegmentAssignment? _mlAssignment;
    private long _mlModelVersion;
    private MlMembership? _mlExplained;
    private long _mlVersionSeen = -1;

    // Set while a refresh is owed for events folded since the last one (counted in
    // GrainServices.PendingSegmentRefreshes until it ran or the activation ends, and queued with the silo's
    // SegmentRefreshScheduler); null otherwise, so an idle user carries nothing for it.
    private PendingRefresh? _pending;

    // When her last refresh ran (a SegmentRefreshScheduler.Timestamp; 0: not in this activation): an ingest within
    // RefreshDelay of it defers its refresh, so a burst of batches costs one refresh per delay.
    private long _refreshedAt;

    // This activation as a grain reference (what the refresh scheduler calls), made at the first refresh owed.
    private IUserGrain? _self;

    // Her part in her tenant's experiments, made at her first event while any experiment runs.
    private ExperimentParticipation? _experiments;

    // Her anomaly score under the forest served (its version), computed at the first query after her events changed.
    private AnomalyFlag? _anomaly;


    public UserGrain(GrainServices services)
    {
        _services = services;
        var s = services.Users;
        _recommender = s.Recommender;
        _segments = s.Segments;
        _rules = s.Rules;
        _ml = s.Ml;
        _domainClock = s.DomainClock;
    }

    // What every user grain of the process shares, read through the one reference each grain holds (a field each would
    // cost every live user 8 bytes per field).
    private IEventLog EventLog => _services.Users.Log;

    private ISnapshotStore Snapshots => _services.Users.Snapshots;

    private ProfileOptions ProfileOptions => _services.Users.Options.Profiles;

    private UserEmbeddings? Embeddings => _services.Users.Embeddings;

    private ILogger Logger => _services.Users.Logger;

    // The constructor took tenant default's; a user of another tenant takes her tenant's.
    private async ValueTask UseTenantAsync(string tenant)
    {
        // Her shop's clock: "now" and the event-time votes are per tenant.
        var s = _services.Users;
        if (s.EventClock is { } clocks)
        {
            _eventClock = clocks.For(tenant);
            _domainClock = _eventClock;
        }

        _growth = s.Growth is null ? null : await s.Growth.ForAsync(tenant);
        if (tenant == TenantKeys.DefaultTenant)
        {
            return;
        }

        _recommender = _recommender is null ? null : s.Recommenders?.For(tenant);
        _rules = _rules is null || s.RuleCatalogs is null ? null : await s.RuleCatalogs.ForAsync(tenant);
        _ml = _ml is null || s.Segmentations is null ? null : (await s.Segmentations.ForAsync(tenant)).Ml;
        // Her tenant's tracker: its rules and clock; her changes reach her tenant's watchers only.
        _segments = _segments is null || _rules is null ? null : _segments.For(tenant, _rules, _domainClock);
    }

    // Her tenant's growth models (or, without per-tenant ones, the process's).
    private global::Segmentation.Host.Churn.ChurnScoring? Churn => _growth?.Churn ?? _services.Users.Churn;

    private global::Segmentation.Host.ValueSegments.ValueSegmentScoring? Values => _growth?.Values ?? _services.Users.Values;

    private global::Segmentation.Host.Anomalies.AnomalyScoring? Anomalies => _growth?.Anomalies ?? _services.Users.Anomalies;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = this.GetPrimaryKeyString();
        _userId = TenantKeys.UserIdOf(_key);
        _tenant = TenantKeys.TenantOf(_key);
        await UseTenantAsync(_tenant);
        var snapshot = await Snapshots.ReadAsync(TenantKeys.UserSnapshot(_key), cancellationToken);
        _profile = new UserProfile(_userId, ProfileOptions);
        if (snapshot is not null)
        {
            var state = SnapshotCodec.Decode(snapshot.Data.Span);
            _etag = snapshot.ETag;
            if (state.Format == ProfileState.CurrentFormat)
            {
                _profile = UserProfile.FromState(state, ProfileOptions);
                _readThrough = snapshot.Sequence;
            }
            else
            {
                // Written by a build that folded other fields: the log is the truth, so fold it all again (the next
                // snapshot write replaces this one; the ETag still fences it).
                _unsnapshotted = 1;
            }
        }

        var tail = new List<BehaviorEvent>();
        await foreach (var record in EventLog.ReadStreamAsync(_key, _readThrough, cancellationToken))
        {
            tail.Add(EventCodec.Decode(record.Payload.Span));
            _readThrough = record.Sequence;
        }

        await FoldInOrderAsync(tail, cancellationToken);

        // The memberships she had before this activation's first new event; not published (nothing changed). Her ML
        // segment is known once her embedding is computed (first query, first event, or the start-up sweep).
        _memberships = _segments?.Memberships(_profile, _ml?.Members.Of(_userId)?.SegmentId) ?? [];
        _recommender?.UserActivated(_userId, _profile);
        _services.CountUserGrain(+1);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_pending is { } pending && reason.ReasonCode != DeactivationReasonCode.ShuttingDown)
        {
            // Shed (memory pressure) or collected before the refresh was due: publish what the refresh owes now. Not when
            // the silo stops: the embedder may be gone, and the start-up sweep rebuilds all of it from the log.
            try
            {
                await RefreshSegmentAsync(pending.Through).WaitAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                HostLog.RefreshFailed(Logger, _key, ex);
            }
        }

        ClearPending();
        if (_embeddingUnavailable is not null)
        {
            _services.StaleEmbeddings.Remove(_key);
        }

        try
        {
            if (!_fenced && _unsnapshotted > 0)
            {
                await TryWriteSnapshotAsync(cancellationToken);
            }
        }
        finally
        {
            // Counted out once its snapshot is written: until then the activation and its memory are still here.
            _recommender?.UserDeactivated(_userId);
            _services.CountUserGrain(-1);
        }
    }

    /// <summary>
    /// Appends the events durably, folds the appended ones, lets the recommenders observe them, refreshes her derived
    /// state (or owes it, see the remarks on the class), and reports per event whether it was new or a duplicate. The
    /// append is never cancelled half-way: once started, whatever the log stored is also folded, so memory and log
    /// cannot disagree; a failed refresh does not fail the call (it stays owed).
    /// </summary>
    public async ValueTask<ApplyResult> ApplyAsync(EventBatch batch)
    {
        // Decoded by the edge when the call came from within the silo (see EventBatch.Decoded); read, never written.
        var events = batch.Decoded is { } decoded && decoded.Length == batch.Payloads.Length ? decoded : Decode(batch.Payloads);
        var records = new LogRecord[events.Length];
        for (var i = 0; i < events.Length; i++)
        {
            records[i] = new LogRecord(_key, TenantKeys.EventKey(_tenant, events[i].EventId), batch.Payloads[i]);
        }

        AppendResult[] results;
        using (SegmentationDiagnostics.Source.StartActivity("log append"))
        {
            // The ValueTask form: the SQLite log completes it without a task, so this turn resumes without the
            // continuation object, delegate and task an awaited Task costs on the activation.
            results = await EventLog.AppendValueAsync(records, CancellationToken.None);
        }

        var fold = SegmentationDiagnostics.Source.StartActivity("fold");
        var result = ResultOf(results);
        var appended = result.Appended;
        var any = false;
        var latest = DateTimeOffset.MinValue;
        // The appended events and their sequences, the first `count` of `fresh` (an array rather than a List: one object
        // fewer per ingest call); a one-event batch, most ingest calls, keeps its event in `single` instead: no array.
        (BehaviorEvent Event, long Sequence)[]? fresh = null;
        (BehaviorEvent Event, long Sequence) single = default;
        var count = 0;
        for (var i = 0; i < results.Length; i++)
        {
            if (!appended[i])
            {
                continue;
            }

            var e = events[i];
            any = true;
            RememberOwnAppend(results[i].Sequence, results.Length - i);
            if (results.Length == 1)
            {
                single = (e, results[i].Sequence);
                count = 1;
            }
            else
            {
                (fresh ??= new (BehaviorEvent Event, long Sequence)[results.Length - i])[count++] = (e, results[i].Sequence);
            }

            latest = e.Timestamp > latest ? e.Timestamp : latest;
        }

        if (count > 0 && !FoldOn(fresh is null ? new Span<(BehaviorEvent Event, long Sequence)>(ref single) : fresh.AsSpan(0, count)))
        {
            // A late event: her whole stream again, with these (sorted by FoldOn) as the fresh ones.
            await RefoldAsync(fresh is null ? [single] : new ArraySegment<(BehaviorEvent Event, long Sequence)>(fresh, 0, count), CancellationToken.None);
        }

        fold?.Dispose();
        if (any && _services.Users.Experiments is { } catalog)
        {
            // Before the ack, like the log append: an exposure or conversion these events make is counted once they are.
            await ObserveExperimentsAsync(catalog, events, appended);
        }

        if (any)
        {
            // A new embedding and the segment it falls in: in this turn, so her batch costs one grain call, unless her last
            // refresh ran less than RefreshDelay ago; then once, shortly after the ack, for every event until then.
            _embeddingStale = true;
            if (_services.Refreshes.RefreshesInTurn(_pending, _refreshedAt))
            {
                // The refresh of this turn, covering what she owed as well (RefreshSegmentAsync's steps). Its failure does
                // not fail the ingest: the events are durable and folded, so the ack stands, and the refresh is owed as a
                // deferred one (tried again later). Written out here rather than by calling RefreshSegmentAsync: every
                // await level that waits for the embedding is one more state machine, continuation and Task per ingest
                // call, and the embedder's own task is awaited here, with no async method of UserEmbeddings around it.
                var through = _pending is { } owed && owed.Through > latest ? owed.Through : latest;
                using var span = SegmentationDiagnostics.Source.StartActivity("segment refresh");
                try
                {
                    var now = _domainClock.GetUtcNow();
                    var embedded = true;
                    var recomputed = false;
                    if (Embeddings is { } embeddings && EmbeddingOwed(embeddings))
                    {
                        recomputed = true;
                        using var embed = SegmentationDiagnostics.Source.StartActivity("embed");
                        try
                        {
                            Embedded(await embeddings.EmbedAsync(_profile, now, CancellationToken.None));
                        }
                        catch (Exception ex) when (UserEmbeddings.ServedAnotherModel(ex))
                        {
                            embedded = await EmbedAgainAsync(embeddings, now);
                        }
                        catch (Exception ex) when (ex is InferenceQueueFullException or ServiceUnavailableException)
                        {
                            embedded = EmbeddingSkipped(ex);
                        }
                    }

                    await FinishRefreshAsync(through, now, embedded, recomputed);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    HostLog.RefreshFailed(Logger, _key, ex);
                    ScheduleRefresh(through);
                }
            }
            else
            {
                ScheduleRefresh(latest);
            }
        }

        if (_unsnapshotted >= _services.Users.Options.SnapshotEveryEvents && !_fenced)
        {
            await TryWriteSnapshotAsync(CancellationToken.None);
        }

        return result;
    }

    // The experiments of her tenant observe the events this call appended. Not async itself, so that without experiments
    // (the tenant's list is held in memory) nothing waits: its locals and awaiter would otherwise be fields of ApplyAsync's
    // state machine, allocated for every ingest call (about 40 bytes).
    private ValueTask ObserveExperimentsAsync(ExperimentCatalog catalog, BehaviorEvent[] events, bool[] appended)
    {
        var current = catalog.CurrentAsync(_tenant);
        return current.IsCompletedSuccessfully && current.Result.Count == 0 ? ValueTask.CompletedTask : ObserveAsync(current, events, appended);

        async ValueTask ObserveAsync(ValueTask<IReadOnlyList<Experiment>> current, BehaviorEvent[] events, bool[] appended)
        {
            if (await current is { Count: > 0 } experiments)
            {
                _experiments ??= new ExperimentParticipation(GrainFactory, _tenant, _userId);
                await _experiments.ObserveAsync(experiments, events, appended, IsMember);
            }
        }
    }

    // Sorts the events this call appended into event-time order (UserProfile.FoldOrder), whatever order the batch came in,
    // and, when they all sort after what she has folded, folds them on and lets the recommenders observe them. False
    // (nothing folded) when one is late: the caller then folds her again from the log (RefoldAsync). Span.Sort sorts as
    // List.Sort did (the same introsort), so equal keys keep the same order as before.
    private bool FoldOn(Span<(BehaviorEvent Event, long Sequence)> fresh)
    {
        fresh.Sort(static (a, b) => UserProfile.FoldOrder(a.Event, b.Event));
        if (!_profile.FoldsAfter(fresh[0].Event))
        {
            return false;
        }

        foreach (var (e, sequence) in fresh)
        {
            Fold(e);
            if (_recommender is not null && e.ItemId.Length > 0)
            {
                // Before the ack: the next recommendation on this silo already knows this event; in a cluster the other
                // silos' replicas learn it within Recommendations:ReplicationInterval (ClusterReplication).
                _recommender.Observe(_userId, e, _profile.StageAt(e.Timestamp), sequence);
            }
        }

        return true;
    }

    // Per event whether the log stored it now. Most ingest calls carry one event (a request's 1,000 events spread over
    // many users), so a one-event batch answers one of two shared results: their arrays are never written, here or by
    // any reader (ApplyResult is immutable; the edge and the experiments only read it), and they save two objects per call.
    private static ApplyResult ResultOf(AppendResult[] results)
    {
        if (results.Length == 1)
        {
            return results[0].Outcome == AppendOutcome.Appended ? s_oneAppended : s_oneDuplicate;
        }

        var appended = new bool[results.Length];
        for (var i = 0; i < results.Length; i++)
        {
            appended[i] = results[i].Outcome == AppendOutcome.Appended;
        }

        return new ApplyResult(appended);
    }

    public Task<LifecycleAssessment?> GetLifecycleAsync(DateTimeOffset now) =>
        Task.FromResult(_profile.IsEmpty ? null : _profile.AssessLifecycle(now));

    public async Task<SegmentsView?> GetSegmentsAsync(DateTimeOffset now, bool includeRules)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        return Segments(now, includeRules);
    }

    public async Task<RecommendationInput?> GetRecommendationInputAsync(DateTimeOffset now, bool includeRules)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        return new RecommendationInput(_profile.RecommendationHistory(), Segments(now, includeRules), _embedding, _profile.TopLevelAffinities(now, Core.Recommendations.PersonalRanking.MaxCategories));
    }

    public async Task<RecommendationSignals?> GetRecommendationSignalsAsync(DateTimeOffset now)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        // The same fields GetRecommendationInputAsync's Segments would give: StageAt is AssessLifecycle's stage without
        // its explanation, and the ML segment's assignment does not depend on its explanation (written on demand).
        await EnsureFreshAsync();
        return new RecommendationSignals(_profile.RecommendationHistory(), _profile.StageAt(now), _mlAssignment, _embedding, _profile.TopLevelAffinities(now, Core.Recommendations.PersonalRanking.MaxCategories));
    }

    public async Task<ProfileWithEmbedding?> GetProfileAsync(DateTimeOffset now)
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        ThrowIfEmbeddingUnavailable();
        return new ProfileWithEmbedding(_profile.View(now), _embedding, _embeddingVersion);
    }

    public async Task<SegmentationInput?> GetSegmentationInputAsync()
    {
        if (_profile.IsEmpty)
        {
            return null;
        }

        await EnsureFreshAsync();
        ThrowIfEmbeddingUnavailable();
        return _embedding is null || _embedding.Length == 0
            ? null
            : new SegmentationInput(MemberTraits.Of(_profile, _domainClock.GetUtcNow(), _embedding), _embeddingVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public Task RefreshSegmentAsync() => RefreshSegmentAsync(_pending?.Through);

    public Task<RuleMatch?> EvaluateRuleAsync(string ruleText, DateTimeOffset now)
    {
        if (_profile.IsEmpty)
        {
            return Task.FromResult<RuleMatch?>(null);
        }

        // A dry run asks every user with the same text: compile it once per activation, not once per call.
        if (_lastRule is not { } last || !string.Equals(last.Text, ruleText, StringComparison.Ordinal))
        {
            last = (ruleText, SegmentRule.Parse(ruleText));
            _lastRule = last;
        }

        return Task.FromResult<RuleMatch?>(last.Rule.Evaluate(_profile.View(now, recentItems: false)));
    }

    public async Task<UserErasure> ForgetAsync(bool deleteEvents)
    {
        ClearPending();
        if (_embeddingUnavailable is not null)
        {
            _services.StaleEmbeddings.Remove(_key);
            _embeddingUnavailable = null;
        }

        // The log first: were the process to die before the snapshot goes too, the erasure did not return and is asked
        // again, and the snapshot alone is not replayed without its stream.
        var events = deleteEvents ? await EventLog.DeleteStreamAsync(_key, CancellationToken.None) : 0;
        var snapshot = await DeleteSnapshotAsync();
        var inSegment = _mlAssignment is not null || _ml?.Members.Of(_userId) is not null;
        var result = new UserErasure(events, snapshot, _embedding is { Length: > 0 }, inSegment,
            _memberships.Count(m => m.Key.StartsWith("rule:", StringComparison.Ordinal)), !_profile.IsEmpty);
        _ml?.Leave(_userId);
        _services.Users.Customers?.Remove(_tenant, _userId);
        _recommender?.UserDeactivated(_userId);

        // Nothing of her stays in this activation, which answers as a user without events until it is gone, and writes no
        // snapshot on its way out (the same flag as a fenced activation).
        _profile = new UserProfile(_userId, ProfileOptions);
        _embedding = null;
        _embeddingStale = true;
        ForgetMlSegment();
        _memberships = [];
        ForgetOwnAppends();
        _unsnapshotted = 0;
        _fenced = true;
        DeactivateOnIdle();
        return result;
    }

    // Deletes her snapshot whatever its ETag (this activation's may be stale); whether there was one.
    private async Task<bool> DeleteSnapshotAsync()
    {
        var key = TenantKeys.UserSnapshot(_key);
        for (var attempt = 0; ; attempt++)
        {
            if (await Snapshots.ReadAsync(key, CancellationToken.None) is not { } stored)
            {
                return false;
            }

            try
            {
                await Snapshots.DeleteAsync(key, stored.ETag, CancellationToken.None);
                _etag = null;
                return true;
            }
            catch (InconsistentStateException) when (attempt < 5)
            {
                // Written by another activation between the read and the delete: read again.
            }
        }
    }

    /// <summary>
    /// Computes her embedding again (when the profile or the served model changed) and puts her in the nearest segment
    /// of the published model. A full embedder queue leaves the previous embedding in place, marked stale.
    /// </summary>
    /// <param name="at">The time to stamp published membership changes with (default: domain now).</param>
    // A Task, not a pooled ValueTask: it waits for the embedding, so it completes asynchronously, on the activation's
    // scheduler, and a caller awaiting a Task then continues inline, where a pooled ValueTask's completion queues its
    // caller's continuation on the activation as another Task and scheduling turn (and with an ingest batch's ~1,000
    // refreshes in flight the pool was empty anyway).
    private async Task RefreshSegmentAsync(DateTimeOffset? at)
    {
        if (_profile.IsEmpty)
        {
            ClearPending();
            return;
        }

        // ApplyAsync writes these steps out for the refresh in its turn; keep the two alike.
        var now = _domainClock.GetUtcNow();
        var embedded = true;
        var recomputed = false;
        if (Embeddings is { } embeddings && EmbeddingOwed(embeddings))
        {
            // Her embedding, computed again when the profile or the served model changed, then her ML segment. Awaited
            // here rather than in a method of its own: every await level that waits for the embedding is one more state
            // machine, continuation and Task per refresh. A full embedder queue leaves the previous embedding in place,
            // marked stale, and assigns nothing.
            recomputed = true;
            using var span = SegmentationDiagnostics.Source.StartActivity("embed");
            try
            {
                Embedded(await embeddings.EmbedAsync(_profile, now, CancellationToken.None));
            }
            catch (Exception ex) when (UserEmbeddings.ServedAnotherModel(ex))
            {
                embedded = await EmbedAgainAsync(embeddings, now);
            }
            catch (Exception ex) when (ex is InferenceQueueFullException or ServiceUnavailableException)
            {
                embedded = EmbeddingSkipped(ex);
            }
        }

        await FinishRefreshAsync(at, now, embedded, recomputed);
    }

    // Whether her embedding must be computed again: her profile or the served model changed since the last one.
    private bool EmbeddingOwed(UserEmbeddings embeddings) => _embeddingStale || (embeddings.Version ?? 0) != _embeddingVersion;

    private void Embedded(UserEmbedding embedding)
    {
        _embedding = embedding.Vector;
        _embeddingVersion = embedding.ModelVersion;
        _embeddingStale = false;
        if (_embeddingUnavailable is not null)
        {
            _embeddingUnavailable = null;
            _services.StaleEmbeddings.Remove(_key);
        }
    }

    // Another model was swapped in while her request waited for a batch: her items are mapped again for the model served
    // now, twice at most, as the embedding tier did itself when it wrapped every call (rare: a state machine here costs
    // nothing per ingest). Whether she has an embedding from this refresh.
    private async Task<bool> EmbedAgainAsync(UserEmbeddings embeddings, DateTimeOffset now)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Embedded(await embeddings.EmbedAsync(_profile, now, CancellationToken.None));
                return true;
            }
            catch (Exception ex) when (attempt < 2 && UserEmbeddings.ServedAnotherModel(ex))
            {
                // Swapped again meanwhile: once more.
            }
            catch (Exception ex) when (ex is InferenceQueueFullException or ServiceUnavailableException)
            {
                return EmbeddingSkipped(ex);
            }
        }
    }

    // Her embedding could not be computed now (a full embedder queue, or no inference silo): her last one stays, marked
    // stale; she has none from this refresh (false).
    private bool EmbeddingSkipped(Exception ex)
    {
        EmbeddingLog.Skipped(Logger, _userId, ex.Message);
        if (ex is ServiceUnavailableException)
        {
            // No inference silo: the rest of the refresh (lifecycle, rules) goes on with her last embedding, stale; calls
            // that answer with the embedding itself report UNAVAILABLE (ThrowIfEmbeddingUnavailable).
            if (_embeddingUnavailable is null)
            {
                // Refreshed by the silo as soon as an inference silo is there, if no event or query comes first.
                _services.StaleEmbeddings.Add(_key, _self ??= this.AsReference<IUserGrain>());
            }

            _embeddingUnavailable = ex.Message;
        }

        return false;
    }

    // The refresh after her embedding: her ML segment (when the embedding tier gave one, or kept her last), her
    // interactions counted under it, her memberships and her customer entry. Completes at once unless her ML segment
    // changed (CountUnderMlSegmentAsync then reads her stream).
    private async ValueTask FinishRefreshAsync(DateTimeOffset? at, DateTimeOffset now, bool embedded, bool recomputed)
    {
        if (Embeddings is not null && embedded)
        {
            AssignMlSegment(now, recomputed);
        }

        await CountUnderMlSegmentAsync();
        // The full view only for her tenant's rules (memberships and customer entry read the same one); without rules
        // nothing here needs more than her stage, which costs no view. The lifecycle's explanation only for watchers
        // (the reason of a membership change): rules read the stage.
        var view = _rules?.Current is { Count: > 0 }
            ? _profile.View(now, recentItems: false, lifecycleExplained: _segments?.Feed.WatcherCount > 0)
            : null;
        if (_segments is not null)
        {
            // Churn band and anomaly flag as segments, for watchers (a win-back campaign subscribes to churn:high).
            var scored = _segments.Feed.WatcherCount > 0 ? ScoredMemberships(now) : null;
            _memberships = _segments.Update(_userId, _profile, _memberships, at ?? now, _mlAssignment?.SegmentId, view, scored);
        }

        if (_services.Users.Customers is { } customers)
        {
            // Under her tenant: its ListSegments counts her against its own segmentations and rules.
            customers.Record(_tenant, _userId, CustomerFacts.Of(_profile), _mlAssignment?.SegmentId ?? -1, RuleIds(customers, view, now), now);
        }

        ClearPending();
        _refreshedAt = _services.Refreshes.Timestamp();
    }

    // The rule segments of her tenant she matches, without the prefix, in id order (her tenant's rules are kept in id
    // order); her previous entry's array when they did not change (100,000 users keep one array each only where they
    // match a rule), and then nothing is allocated: the rules' own id strings, no list, no prefix cut off per refresh.
    private string[] RuleIds(CustomerIndex customers, ProfileView? view, DateTimeOffset now)
    {
        if (_rules?.Current is not { Count: > 0 } rules)
        {
            return [];
        }

        // Tenant default: the memberships the refresh just updated hold them. Another tenant's user keeps no memberships
        // (no change feed for her): her tenant's rules on this refresh's view.
        var traits = _segments is null ? view ?? _profile.View(now, recentItems: false) : null;
        Span<bool> matched = rules.Count <= 64 ? stackalloc bool[rules.Count] : new bool[rules.Count];
        var count = 0;
        for (var i = 0; i < rules.Count; i++)
        {
            matched[i] = traits is null ? SegmentTracker.ReasonFor(_memberships, rules[i].MembershipKey) is not null : rules[i].Rule.Matches(traits);
            count += matched[i] ? 1 : 0;
        }

        if (count == 0)
        {
            return [];
        }

        var previous = customers.RulesOf(_tenant, _userId);
        if (previous?.Length == count)
        {
            var same = true;
            for (int i = 0, k = 0; same && i < rules.Count; i++)
            {
                same = !matched[i] || string.Equals(previous[k++], rules[i].Id, StringComparison.Ordinal);
            }

            if (same)
            {
                return previous;
            }
        }

        var ids = new string[count];
        for (int i = 0, k = 0; i < rules.Count; i++)
        {
            if (matched[i])
            {
                ids[k++] = rules[i].Id;
            }
        }

        return ids;
    }

    // Owes a refresh for events up to `latest` (event time); queues it with the silo's refresh scheduler when none was
    // owed yet, so a burst of events costs one refresh.
    private void ScheduleRefresh(DateTimeOffset latest)
    {
        if (_pending is { } pending)
        {
            pending.Through = latest > pending.Through ? latest : pending.Through;
            return;
        }

        _self ??= this.AsReference<IUserGrain>();
        pending = new PendingRefresh(_self, latest, Activity.Current?.Context ?? default);
        _pending = pending;
        _services.CountPendingRefresh(+1);
        _services.Refreshes.Schedule(pending);
    }

    /// <summary>The scheduler's call: nothing to do when a query (or the sweep) refreshed in the meantime.</summary>
    public async Task RefreshDueAsync()
    {
        if (_pending is not { } pending)
        {
            return;
        }

        using var span = SegmentationDiagnostics.Source.StartActivity("segment refresh", ActivityKind.Internal, pending.Cause);
        try
        {
            await RefreshSegmentAsync(pending.Through);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Still owed (the embedder failed, say): try again after another delay.
            HostLog.RefreshFailed(Logger, _key, ex);
            _services.Refreshes.Schedule(pending);
        }
    }

    private void ClearPending()
    {
        if (_pending is { } pending)
        {
            _pending = null;
            pending.Cancelled = true;
            _services.CountPendingRefresh(-1);
        }
    }

    // Her ML segment under the published model, from the embedding the refresh just computed (recomputed) or her last one.
    private void AssignMlSegment(DateTimeOffset now, bool recomputed)
    {
        if (_ml is null)
        {
            return;
        }

        var model = _ml.Current;
        _mlVersionSeen = model?.Version ?? -1;
        var sameEncoder = model is not null && NamesVersion(model.EmbeddingModelVersion, _embeddingVersion);
        if (_embedding is not null && _embedding.Length > 0 && model is not null && !sameEncoder && _mlAssignment is not null)
        {
            // A new encoder is served, and the segmentation in force was clustered over the previous one's vectors. Her
            // membership under it still answers (and still counts in its segment) until the segmentation over the new
            // encoder is published: activation re-clusters at once (AdminApi.ActivateModel), whose sweep refreshes her.
            return;
        }

        if (_embedding is null || _embedding.Length == 0 || model is null || !sameEncoder)
        {
            // No model, or one clustered over another encoder's vectors that she was never assigned under: no ML
            // segment until re-clustering.
            _ml.Leave(_userId);
            ForgetMlSegment();
            return;
        }

        if (!recomputed && _mlAssignment is { } current && model.Assign(_embedding) is var moved && moved.SegmentId == current.SegmentId)
        {
            // Only the centroids moved (a newer version), not her: same segment, nothing for the segment grains to learn.
            UseMlSegment(moved, model.Version);
            return;
        }

        using var assign = SegmentationDiagnostics.Source.StartActivity("assign");
        // Her traits from the fold state: the same as those of her view at `now`, without building the view.
        var assignment = _ml.Assign(_userId, MemberTraits.Of(_profile, now, _embedding));
        if (assignment is null)
        {
            ForgetMlSegment();
        }
        else
        {
            UseMlSegment(assignment, model.Version);
        }
    }

    private void UseMlSegment(SegmentAssignment assignment, long modelVersion)
    {
        _mlAssignment = assignment;
        _mlModelVersion = modelVersion;
        _mlExplained = null;
    }

    private void ForgetMlSegment()
    {
        _mlAssignment = null;
        _mlExplained = null;
    }

    /// <summary>
    /// Makes ML-segment popularity count her interactions under the segment she is assigned now: when the recommenders
    /// count her under another (or none: after a restart, a rebuild, another silo's activation), her interactions move
    /// there (<see cref="Recommendations.LiveRecommender.MoveMlSegment"/>).
    /// </summary>
    /// <remarks>
    /// Her interactions come from her stream in the log, every event with an item (her profile keeps only the last
    /// ones): one read of her stream per change of her ML segment, O(her events) moved; nothing when it is unchanged.
    /// Every event in her stream was observed before this runs (an ingest observes its events in the turn that
    /// appended them; the start-up rebuild observed the rest), so what is taken back is what was counted.
    /// </remarks>
    private async ValueTask CountUnderMlSegmentAsync()
    {
        if (_recommender is null)
        {
            return;
        }

        var segment = _mlAssignment?.SegmentId;
        if (_recommender.MlSegmentOf(_userId) == segment)
        {
            return;
        }

        var interactions = new List<Interaction>();
        await foreach (var record in EventLog.ReadStreamAsync(_key, 0, CancellationToken.None))
        {
            var e = EventCodec.Decode(record.Payload.Span);
            if (e.ItemId.Length > 0)
            {
                interactions.Add(Interaction.From(e));
            }
        }

        _recommender.MoveMlSegment(_userId, segment, interactions);
    }

    // Whether a segmentation's encoder version (text) names `version` as InvariantCulture writes it: compared in place,
    // not formatted into a string at every refresh.
    private static bool NamesVersion(string? text, long version)
    {
        Span<char> digits = stackalloc char[20];
        return text is not null && version.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture) && digits[..written].SequenceEqual(text);
    }

    private void ThrowIfEmbeddingUnavailable()
    {
        if (_embeddingStale && _embeddingUnavailable is { } reason)
        {
            throw new ServiceUnavailableException(reason);
        }
    }

    private async Task EnsureFreshAsync()
    {
        if (_pending is { } pending)
        {
            await RefreshSegmentAsync(pending.Through);
        }
        else if (Embeddings is not null && (_embeddingStale || (Embeddings.Version ?? 0) != _embeddingVersion || (_ml?.Current is { } m && m.Version != _mlVersionSeen)))
        {
            await RefreshSegmentAsync(null);
        }
    }

    private static string[] Explain(ProfileView view, SegmentAssignment assignment)
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

    // Whether she was in the experiment's segment at `at`: her stage then, her ML segment and churn band now (both are
    // derived after the ack), a rule on her view then.
    private bool IsMember(Experiment experiment, DateTimeOffset at)
    {
        var segment = experiment.Segment;
        if (segment.Length == 0)
        {
            return true;
        }

        if (segment.StartsWith("lifecycle:", StringComparison.Ordinal))
        {
            return segment.AsSpan("lifecycle:".Length).SequenceEqual(LifecycleStageNames.Of(_profile.StageAt(at)));
        }

        if (segment.StartsWith("ml:", StringComparison.Ordinal))
        {
            return _mlAssignment is { } ml && segment.AsSpan("ml:".Length).SequenceEqual(ml.SegmentId.ToString(CultureInfo.InvariantCulture));
        }

        if (segment.StartsWith("value:", StringComparison.Ordinal))
        {
            return Values?.Score(_profile, at) is { } value && segment.AsSpan("value:".Length).SequenceEqual(value.SegmentId.ToString(CultureInfo.InvariantCulture));
        }

        if (segment.StartsWith("churn:", StringComparison.Ordinal))
        {
            return Churn?.Score(_profile, at) is { } risk && segment.AsSpan("churn:".Length).SequenceEqual(risk.Band);
        }

        return ExperimentCatalog.IsMember(experiment, Segments(at, includeRules: true));
    }

    // Rules read traits of the full view; without rules the lifecycle alone is cheaper.
    private SegmentsView Segments(DateTimeOffset now, bool includeRules)
    {
        // The rule catalog is this process's copy, reloaded on every silo when any of them changes it (ClusterReplication).
        var rules = includeRules ? _rules?.Current ?? [] : [];
        if (rules.Count == 0)
        {
            return new SegmentsView(_profile.AssessLifecycle(now), [], Explained(null, now)) { Churn = Churn?.Score(_profile, now), Anomaly = Anomaly(), Value = Values?.Score(_profile, now) };
        }

        // Rules and the ML explanation read no recent items.
        var view = _profile.View(now, recentItems: false);
        return new SegmentsView(view.Lifecycle, RuleSegmentCatalog.Evaluate(rules, view), Explained(view, now)) { Churn = Churn?.Score(_profile, now), Anomaly = Anomaly(), Value = Values?.Score(_profile, now) };
    }

    // The segments the served churn, value and anomaly models put her in now, with their reasons.
    private List<KeyValuePair<string, string>> ScoredMemberships(DateTimeOffset now)
    {
        var scored = new List<KeyValuePair<string, string>>(2);
        if (Churn?.Score(_profile, now) is { } churn)
        {
            scored.Add(new("churn:" + churn.Band, string.Create(CultureInfo.InvariantCulture, $"churn risk {churn.Probability:P0}: {string.Join("; ", churn.Reasons)}")));
        }

        if (Values?.Score(_profile, now) is { } value)
        {
            scored.Add(new("value:" + value.SegmentId.ToString(CultureInfo.InvariantCulture), string.Create(CultureInfo.InvariantCulture, $"{value.Label}: last order {value.RecencyDays:0} days ago, {value.Frequency} orders, {value.Monetary:0.00} spent")));
        }

        if (Anomaly() is { Flagged: true } anomaly)
        {
            scored.Add(new("anomaly:flagged", string.Create(CultureInfo.InvariantCulture, $"anomaly score {anomaly.Score:0.000}: {string.Join("; ", anomaly.Reasons)}")));
        }

        return scored;
    }

    // Her anomaly score: a function of her events and the forest served, so it is kept until either changes.
    private AnomalyFlag? Anomaly()
    {
        if (Anomalies is not { Current: { } served } anomalies)
        {
            return null;
        }

        if (_anomaly is null || !ReferenceEquals(_anomaly.ModelVersion, served.Version))
        {
            _anomaly = anomalies.Score(_profile);
        }

        return _anomaly;
    }

    // Her ML segment with its explanation, written now if the last assignment has none yet (from the profile as of the
    // query, which is at least as new as the one she was assigned with).
    private MlMembership? Explained(ProfileView? view, DateTimeOffset now) =>
        _mlAssignment is not { } assignment ? null : _mlExplained ??= new MlMembership(assignment, _mlModelVersion, Explain(view ?? _profile.View(now, recentItems: false), assignment));

    private static BehaviorEvent[] Decode(byte[][] payloads)
    {
        var events = new BehaviorEvent[payloads.Length];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = EventCodec.Decode(payloads[i]);
        }

        return events;
    }

    // Room grows by half (at least for the `more` sequences this batch may still add), so a user whose events arrive
    // one call at a time does not copy her array at every event, nor keep twice the room she needs.
    private void RememberOwnAppend(long sequence, int more)
    {
        if (_ownAppends is null || _ownAppendCount == _ownAppends.Length)
        {
            Array.Resize(ref _ownAppends, Math.Max(_ownAppendCount + more, _ownAppendCount + (_ownAppendCount / 2)));
        }

        _ownAppends[_ownAppendCount++] = sequence;
    }

    private void ForgetOwnAppends()
    {
        _ownAppends = null;
        _ownAppendCount = 0;
    }

    private void Fold(BehaviorEvent e)
    {
        _profile.Apply(e);
        _anomaly = null;
        _unsnapshotted++;
        // In a cluster, event time also advances from the other silos' events (SiloPeerGrain, with their recommender changes).
        _eventClock?.Observe(_userId, e.Timestamp);
    }

    /// <summary>
    /// Folds what other activations appended to this stream since it was last read, so the snapshot's sequence closes a
    /// complete prefix of the stream (see the remarks on the class).
    /// </summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        List<BehaviorEvent>? others = null;
        await foreach (var record in EventLog.ReadStreamAsync(_key, _readThrough, cancellationToken))
        {
            var own = _ownAppends is null ? -1 : Array.IndexOf(_ownAppends, record.Sequence, 0, _ownAppendCount);
            if (own >= 0)
            {
                // Order does not matter: the last one takes its place.
                _ownAppends![own] = _ownAppends[--_ownAppendCount];
            }
            else
            {
                (others ??= []).Add(EventCodec.Decode(record.Payload.Span));
            }

            _readThrough = record.Sequence;
        }

        // Dropped rather than cleared, which would keep the largest buffer for the rest of the activation.
        ForgetOwnAppends();
        if (others is not null)
        {
            await FoldInOrderAsync(others, cancellationToken);
        }
    }

    // Folds events read from the log (activation, catch-up) in event-time order: on when they all sort after what she
    // has, else her whole stream again (RefoldAsync). The recommenders observed them when they were appended.
    private async Task FoldInOrderAsync(List<BehaviorEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        events.Sort(UserProfile.FoldOrder);
        if (_profile.FoldsAfter(events[0]))
        {
            foreach (var e in events)
            {
                Fold(e);
            }
        }
        else
        {
            await RefoldAsync(null, cancellationToken);
        }
    }

    /// <summary>
    /// Folds her whole stream again in event-time order, because an event came that sorts before what she had folded
    /// (a late event): her profile is then the fold of her set of events, as if they had arrived in time order.
    /// </summary>
    /// <remarks>
    /// <para>Cost, the bound README states: one read of her stream from the log and one fold of each of her events
    /// (twice when the recommenders learn: once for the stages before, a light profile), however late the event is,
    /// once per ingest call that brings a late event (not per event), and once at activation when the log's tail has
    /// one. Events that arrive in time order (or late only within their own batch) cost nothing extra. Counted by
    /// <c>segmentation.profiles.refolds</c> and <c>segmentation.profiles.refolded_events</c>.</para>
    /// <para>For a user with more distinct items than <c>Recommendations:MaxItemsPerUser</c>, her co-occurrence pairs
    /// are derived again from the first late event on (<see cref="Recommendations.LiveRecommender.ReplayPairs"/>:
    /// O(her events after it × MaxItemsPerUser) pair updates), so they too are those of her events in time order.</para>
    /// <para>The recommenders learn the <paramref name="fresh"/> events with the lifecycle stage each was made in,
    /// judged among the events before it in time; her older events whose stage the late ones changed (a late first
    /// event makes later ones no longer "new") move from the old stage's popularity to the new one's
    /// (<see cref="Recommendations.LiveRecommender.Restage"/>), so popularity per stage is also a function of the events.</para>
    /// </remarks>
    private async Task RefoldAsync(IReadOnlyList<(BehaviorEvent Event, long Sequence)>? fresh, CancellationToken cancellationToken)
    {
        var stream = new List<(BehaviorEvent Event, long Sequence)>();
        var through = _readThrough;
        await foreach (var record in EventLog.ReadStreamAsync(_key, 0, cancellationToken))
        {
            stream.Add((EventCodec.Decode(record.Payload.Span), record.Sequence));
            through = Math.Max(through, record.Sequence);
        }

        stream.Sort(static (a, b) => UserProfile.FoldOrder(a.Event, b.Event));
        HashSet<string>? freshIds = null;
        UserProfile? before = null;
        if (fresh is not null && _recommender is not null)
        {
            freshIds = new HashSet<string>(fresh.Count, StringComparer.Ordinal);
            foreach (var (e, _) in fresh)
            {
                freshIds.Add(e.EventId);
            }

            // What the re-fold needs of her events before the late ones: the stage each was made in, nothing else.
            before = new UserProfile(_userId, new ProfileOptions
            {
                Lifecycle = ProfileOptions.Lifecycle,
                EventWeights = [],
                MaxCategories = 1,
                RecentItems = 1,
                HistoryInteractions = 0,
                PurchasedItems = 0,
            });
        }

        var pairsReplayed = false;
        if (freshIds is not null)
        {
            // What she pairs in co-occurrence depends on the order she is learned in once she has more distinct items
            // than her list holds: then her pairs are derived again in this order (LiveRecommender.ReplayPairs).
            var learned = new List<Interaction>(stream.Count);
            var all = new List<Interaction>(stream.Count);
            foreach (var (e, _) in stream)
            {
                if (e.ItemId.Length > 0)
                {
                    var interaction = Interaction.From(e);
                    all.Add(interaction);
                    if (!freshIds.Contains(e.EventId))
                    {
                        learned.Add(interaction);
                    }
                }
            }

            pairsReplayed = _recommender!.ReplayPairs(_userId, learned, all);
        }

        var profile = new UserProfile(_userId, ProfileOptions);
        foreach (var (e, sequence) in stream)
        {
            profile.Apply(e);
            _eventClock?.Observe(_userId, e.Timestamp);
            if (freshIds is null)
            {
                continue;
            }

            if (freshIds.Contains(e.EventId))
            {
                if (e.ItemId.Length > 0)
                {
                    _recommender!.Observe(_userId, e, profile.StageAt(e.Timestamp), sequence, pairsReplayed);
                }

                continue;
            }

            before!.Apply(e);
            if (e.ItemId.Length > 0 && before.StageAt(e.Timestamp) is var was && profile.StageAt(e.Timestamp) is var now && was != now)
            {
                _recommender!.Restage(_userId, e, was, now);
            }
        }

        _profile = profile;
        _readThrough = through;
        ForgetOwnAppends();
        _unsnapshotted += Math.Max(1, fresh?.Count ?? 0);
        SegmentationDiagnostics.CountRefold(stream.Count);
    }

    private async Task TryWriteSnapshotAsync(CancellationToken cancellationToken)
    {
        try
        {
            await CatchUpAsync(cancellationToken);
            var data = SnapshotCodec.Encode(_profile.ToState());
            _etag = await Snapshots.WriteAsync(TenantKeys.UserSnapshot(_key), data, _readThrough, _etag, cancellationToken);
            _unsnapshotted = 0;
        }
        catch (InconsistentStateException ex)
        {
            // Another activation wrote this user's snapshot: ours is stale. Stop writing, drop this activation; the next
            // call activates afresh from that snapshot and the log.
            _fenced = true;
            HostLog.SnapshotFenced(Logger, _key, ex.ActualETag);
            DeactivateOnIdle();
        }
    }

    /// <summary>
    /// A refresh owed: <see cref="Through"/> is the newest event time among the events it covers (it stamps the published
    /// changes, as when they were made inside the ingest call); <see cref="Cause"/> is the trace of the call that made it
    /// owed, so the deferred embed and assign spans stay in the trace of the event that caused them.
    /// </summary>
    private sealed class PendingRefresh(IUserGrain grain, DateTimeOffset through, ActivityContext cause) : SegmentRefreshScheduler.Entry(grain)
    {
        public DateTimeOffset Through { get; set; } = through;

        public ActivityContext Cause { get; } = cause;
    }
}
