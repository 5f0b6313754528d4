using System.Diagnostics;
using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// The recommenders of one tenant on one host (<see cref="TenantRecommenders"/>), learned online: every event a <see cref="Grains.UserGrain"/> appends is observed
/// here before the ingest call is acknowledged, so the next recommendation already knows it. Sources: item
/// co-occurrence ("often bought with"), popularity per lifecycle stage, per ML segment (each user's interactions under
/// the segment she is in now, <see cref="MoveMlSegment"/>) and overall ("popular in your segment"), and
/// the user's own recent views ("you viewed it recently"), blended per placement (DESIGN.md section 8) with the served
/// item model (EASEᴿ, <see cref="UseItemModel"/>) under the weights tuned for it.
/// </summary>
/// <remarks>
/// The models are derived state: <see cref="RebuildAsync"/> replays the whole event log into them at start, each
/// user's events in event-time order: the observations the live path makes of a time-ordered load. Thread-safe: every source serialises on its own lock.
/// </remarks>
internal sealed class LiveRecommender
{
    /// <summary>Most items a request may exclude.</summary>
    public const int MaxExcludedItems = 1_000;

    // The popularity keys of every lifecycle stage and of the first ML segment ids, made once instead of per event.
    private static readonly string[] s_lifecycleKeys = [.. Enumerable.Range(0, (int)LifecycleStage.Reactivated + 1).Select(i => LifecycleKey((LifecycleStage)i))];
    private static readonly string[] s_mlSegmentKeys = [.. Enumerable.Range(0, 1_024).Select(MlSegmentKey)];

    private readonly RecommendationOptions _options;
    private readonly ItemCoOccurrence _coOccurrence;
    private readonly SegmentPopularity _popularity;
    private readonly RecentlyViewed _recent;
    private readonly RecommendationBlender _similar;
    private readonly SwappableEmbeddingIndex _embeddingIndex;

    // The live path's gate around a rebuild (RebuildWithoutAsync): learning, the journal kept while a rebuild runs, the
    // sequence the last rebuild read through, and erased users whose observations are ignored (user id → until when,
    // Environment.TickCount64). Every source has its own lock besides; this one only orders learning against a swap.
    private readonly Lock _learning = new();
    private readonly SemaphoreSlim _rebuilding = new(1, 1);
    private readonly Dictionary<string, long> _forgotten = new(StringComparer.Ordinal);
    private List<Observation>? _journal;

    // The ML segment each user's interactions are counted under in ML-segment popularity (user id → segment id; absent:
    // none), under _learning. Her grain moves her (MoveMlSegment) whenever the segment it assigned her differs from
    // this one; replicas follow through MlSegmentMoved changes. One entry per user with an ML segment, as the
    // segmentation's own member records. Not stored: at start it is empty (the rebuild counts nobody under an ML
    // segment) and the start-up sweep's assignments move every user into hers.
    private readonly Dictionary<string, int> _mlCounted = new(StringComparer.Ordinal);

    // While a rebuild runs: the ML segments users were counted under when it began (what it counts their logged
    // events under) and the moves made since, in order with the journaled observations (applied at the swap).
    private Dictionary<string, int>? _mlCountedAtRebuild;
    private long _rebuiltThrough;

    // Replaced whole (with the served item model and its weights), read without a lock.
    private volatile Served _served;

    // Each user's last answer in this tenant (null: off, CacheMaxAge 0); cleared whenever what answers changes other
    // than by learning. One per tenant's recommender, so one tenant's swap, rebuild or erasure clears its own only.
    private readonly RecommendationCache? _cache;

    public LiveRecommender(RecommendationOptions options, string tenant = TenantKeys.DefaultTenant)
    {
        _options = options;
        Tenant = tenant;
        _embeddingIndex = new SwappableEmbeddingIndex(Catalog);
        _coOccurrence = new ItemCoOccurrence(CoOccurrenceOptionsOf(options));
        _popularity = new SegmentPopularity(Catalog, options.PopularityHalfLife);
        _recent = new RecentlyViewed(options.RecentlyViewedHalfLife);
        _served = Compose(null, null);
        _cache = options.CacheMaxAge > TimeSpan.Zero ? new RecommendationCache(tenant, options.CacheMaxAge, options.CacheEntries) : null;

        // Product pages: what is bought with this item; popularity in its category fills in when little is known.
        _similar = new RecommendationBlender([new BlendedSource(_coOccurrence, 1), new BlendedSource(_popularity, 0.1)], Catalog);
    }

    /// <summary>Items known and their categories.</summary>
    public ItemCatalog Catalog { get; } = new();

    /// <summary>The co-occurrence model (for checks against a replay of the log).</summary>
    internal ItemCoOccurrence CoOccurrence => _coOccurrence;

    /// <summary>The popularity model (for checks against a replay of the log).</summary>
    internal SegmentPopularity Popularity => _popularity;
    /// <summary>The tenant whose users' events this recommender learns (and only theirs).</summary>
    public string Tenant { get; }

    /// <summary>The co-occurrence settings of the live model (also those the item model's blend is tuned with).</summary>
    public static ItemCoOccurrenceOptions CoOccurrenceOptionsOf(RecommendationOptions options) => new()
    {
        HalfLife = options.CoOccurrenceHalfLife,
        AffinityHalfLife = options.AffinityHalfLife,
        MaxItemsPerUser = options.MaxItemsPerUser,
        MaxNeighbours = options.MaxNeighbours,
    };

    /// <summary>The served item model's manifest, or null when none is served.</summary>
    public ItemModelManifest? ItemModel => _served.Manifest;

    /// <summary>
    /// Serves <paramref name="model"/> (EASEᴿ) blended under the weights its <paramref name="manifest"/> records (those
    /// of co-occurrence, recency and popularity relative to the model's 1; the embedding keeps its configured
    /// weight), or, with null, the online sources alone under the configured weights. A hot swap: calls in flight
    /// finish on the blend they started with.
    /// </summary>
    public void UseItemModel(EaseModel? model, ItemModelManifest? manifest)
    {
        _served = model is null || manifest is null ? Compose(null, null) : Compose(model, manifest);
        _cache?.Clear();
    }

    private Served Compose(EaseModel? model, ItemModelManifest? manifest)
    {
        double Weight(string name, double configured) =>
            manifest is null ? configured : manifest.BlendWeights.GetValueOrDefault(name);

        // The recency half-life and personal ranking tuned with the weights, where the manifest records them (an older
        // manifest, or a value out of range, leaves the configured one).
        var recent = manifest?.RecentlyViewedHalfLife is { } halfLife && halfLife > TimeSpan.Zero ? new RecentlyViewed(halfLife) : _recent;
        var ranking = PersonalRankingOf(_options);
        if (manifest?.AffinityBoost is { } boost && double.IsFinite(boost) && boost >= 0)
        {
            ranking = ranking with { AffinityBoost = boost };
        }

        if (manifest?.MaxCategoryShare is { } share && share is > 0 and <= 1)
        {
            ranking = ranking with { MaxCategoryShare = share };
        }

        var outside = manifest?.PopularityOutsideWeight is { } o && o is >= 0 and <= 1 ? o : PersonalPopularity.OutsideWeight;

        // The split of the list between reminders and items new to her, tuned with the weights (none without a model).
        var discovery = manifest?.DiscoveryShare is { } d && d is >= 0 and <= 1 ? d : 0;

        // Reasons tie towards the earlier source: the online evidence first, the learned model after it.
        var sources = new List<BlendedSource>();
        foreach (var (source, weight) in new (ICandidateSource, double)[]
        {
            (_coOccurrence, Weight("coOccurrence", _options.CoOccurrenceWeight)),
            (recent, Weight("recentlyViewed", _options.RecentlyViewedWeight)),
            (model ?? (ICandidateSource)recent, model is null ? 0 : Weight("ease", 1)),
            (new PersonalPopularity(_popularity, Catalog, PersonalRankingOf(_options), outside, manifest?.PopularityNewItemsOnly ?? false), Weight("popularity", _options.PopularityWeight)),
            (_embeddingIndex, _options.EmbeddingWeight),
        })
        {
            if (weight > 0)
            {
                sources.Add(new BlendedSource(source, weight));
            }
        }

        var placements = new Dictionary<string, RecommendationBlender>(StringComparer.Ordinal)
        {
            [""] = new RecommendationBlender(sources, Catalog, BlendOptionsOf(_options, ranking, _options.Defaults) with { DiscoveryShare = discovery }),
        };
        foreach (var (name, placement) in _options.Placements)
        {
            placements[name] = new RecommendationBlender(sources, Catalog, BlendOptionsOf(_options, ranking, placement, _options.Defaults) with { DiscoveryShare = discovery });
        }

        return new Served(placements, manifest);
    }

    private sealed record Served(Dictionary<string, RecommendationBlender> Placements, ItemModelManifest? Manifest);

    /// <summary>
    /// Serves item embeddings (the served user encoder's item vectors) for "matches your taste profile" candidates;
    /// null turns that source off. Swapped whole when another encoder is activated.
    /// </summary>
    public void UseItemEmbeddings(ItemEmbeddingIndex? index)
    {
        _embeddingIndex.Current = index;
        _cache?.Clear();
    }

    /// <summary>The item embeddings in use (null when none).</summary>
    public ItemEmbeddingIndex? ItemEmbeddings => _embeddingIndex.Current;

    /// <summary>The segment key under which popularity of an ML segment is kept, e.g. "ml:3".</summary>
    public static string MlSegmentKey(int segmentId) => "ml:" + segmentId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The segment key under which popularity of a lifecycle stage is kept, e.g. "lifecycle:at-risk".</summary>
    public static string LifecycleKey(LifecycleStage stage) => "lifecycle:" + LifecycleStageNames.Of(stage);

    /// <summary><see cref="LifecycleKey"/>, made once per stage.</summary>
    internal static string CachedLifecycleKey(LifecycleStage stage) =>
        (uint)stage < (uint)s_lifecycleKeys.Length ? s_lifecycleKeys[(int)stage] : LifecycleKey(stage);

    /// <summary><see cref="MlSegmentKey"/>, made once per segment id (below the ids kept).</summary>
    internal static string CachedMlSegmentKey(int segmentId) =>
        (uint)segmentId < (uint)s_mlSegmentKeys.Length ? s_mlSegmentKeys[segmentId] : MlSegmentKey(segmentId);

    /// <summary>Whether a placement of that name is configured ("" always is).</summary>
    public bool HasPlacement(string placement) => _served.Placements.ContainsKey(placement);

    /// <summary>
    /// Learns from one event of <paramref name="userId"/>, who was in <paramref name="stage"/> right after it, under the
    /// ML segment her interactions are counted under (<see cref="MlSegmentOf"/>); <paramref name="sequence"/> is its
    /// event-log sequence number (0: unknown), which lets a rebuild that runs meanwhile (<see cref="RebuildWithoutAsync"/>)
    /// count it once. With <paramref name="pairsReplayed"/>, <see cref="ReplayPairs"/> already placed it in her
    /// co-occurrence pairs: only its popularity is learned.
    /// </summary>
    public void Observe(string userId, BehaviorEvent e, LifecycleStage stage, long sequence = 0, bool pairsReplayed = false)
    {
        if (e.ItemId.Length == 0)
        {
            return;
        }

        lock (_learning)
        {
            int? mlSegment = _mlCounted.TryGetValue(userId, out var counted) ? counted : null;
            if (Learn(userId, e.ItemId, e.Category, Interaction.From(e), stage, mlSegment, sequence, pairsReplayed))
            {
                Outbox?.Add(new RecommenderChange(RecommenderChangeKind.Observed, userId, e.ItemId, e.Category, e.Type, e.Timestamp, e.Rating, stage, mlSegment ?? -1, Sequence: sequence)
                {
                    Tenant = Tenant,
                    PairsReplayed = pairsReplayed,
                });
            }
        }
    }

    /// <summary>
    /// Late events of <paramref name="userId"/> arrived: <paramref name="before"/> are her item interactions already
    /// learned, <paramref name="after"/> the same with the late ones, both in the order her events fold in (event time,
    /// then event id). When she has more distinct items than <c>MaxItemsPerUser</c>, what she pairs depends on that
    /// order, so her pairs are derived again from it (<see cref="ItemCoOccurrence.Replay"/>) and this returns true: the
    /// caller then observes the late events with <c>pairsReplayed</c>. Otherwise nothing happens (recording a late
    /// event is exact) and this returns false.
    /// </summary>
    public bool ReplayPairs(string userId, IReadOnlyList<Interaction> before, IReadOnlyList<Interaction> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (!_coOccurrence.Evicts(after) || IsForgotten(userId))
        {
            return false;
        }

        lock (_learning)
        {
            _coOccurrence.Replay(userId, before, after);
            _cache?.Invalidate(userId);
            Outbox?.Add(new RecommenderChange(RecommenderChangeKind.Replayed, userId, History: Replicated(after)) { Before = Replicated(before), Tenant = Tenant });
        }

        return true;

        static RecommenderInteraction[] Replicated(IReadOnlyList<Interaction> interactions) =>
            [.. interactions.Select(i => new RecommenderInteraction(i.ItemId, i.Type, i.Timestamp, i.Rating))];
    }

    /// <summary>
    /// A late event of <paramref name="userId"/> changed the lifecycle stage <paramref name="e"/> (observed earlier) was
    /// made in, from <paramref name="from"/> to <paramref name="to"/>: its popularity moves to the new stage's key, so
    /// popularity per stage counts each event under the stage her events in time order give it (see UserGrain's re-fold).
    /// </summary>
    public void Restage(string userId, BehaviorEvent e, LifecycleStage from, LifecycleStage to)
    {
        if (e.ItemId.Length == 0 || from == to)
        {
            return;
        }

        Outbox?.Add(new RecommenderChange(RecommenderChangeKind.Restaged, userId, e.ItemId, e.Category, e.Type, e.Timestamp, e.Rating, to) { FromStage = from, Tenant = Tenant });
        _popularity.Move(CachedLifecycleKey(from), CachedLifecycleKey(to), Interaction.From(e));
    }

    /// <summary>The ML segment <paramref name="userId"/>'s interactions are counted under in popularity, or null (none).</summary>
    public int? MlSegmentOf(string userId)
    {
        lock (_learning)
        {
            return _mlCounted.TryGetValue(userId, out var segment) ? segment : null;
        }
    }

    /// <summary>
    /// <paramref name="userId"/>'s ML segment is now <paramref name="to"/> (null: none), and <paramref name="interactions"/>
    /// are all her interactions learned so far (every one of her events with an item, from her stream in the log): they
    /// move from the popularity of the segment she was counted under (<see cref="MlSegmentOf"/>) to that of
    /// <paramref name="to"/>, each one's decayed weight taken back there and added here (<see cref="SegmentPopularity.MoveAll"/>),
    /// and her later events count under <paramref name="to"/>. So popularity per ML segment counts each user's events
    /// under the segment she is in now, whatever order they arrived in and whenever she was assigned. Replicated as a
    /// <see cref="RecommenderChangeKind.MlSegmentMoved"/> change. Nothing happens when she is counted under
    /// <paramref name="to"/> already, or was erased.
    /// </summary>
    public void MoveMlSegment(string userId, int? to, IReadOnlyList<Interaction> interactions)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        lock (_learning)
        {
            int? from = _mlCounted.TryGetValue(userId, out var counted) ? counted : null;
            if (from == to || IsForgotten(userId))
            {
                return;
            }

            MoveMl(userId, from, to, interactions);
            _cache?.Invalidate(userId);
            Outbox?.Add(new RecommenderChange(RecommenderChangeKind.MlSegmentMoved, userId, MlSegment: to ?? -1,
                History: [.. interactions.Select(i => new RecommenderInteraction(i.ItemId, i.Type, i.Timestamp, i.Rating))])
            {
                FromMlSegment = from ?? -1,
                Tenant = Tenant,
            });
        }
    }

    // Under _learning: moves her interactions from `from` to `to` in popularity and counts her under `to`; journaled
    // while a rebuild runs (RebuildWithoutAsync applies the move to the rebuilt counts at the swap).
    private void MoveMl(string userId, int? from, int? to, IReadOnlyList<Interaction> interactions)
    {
        _popularity.MoveAll(from is { } f ? CachedMlSegmentKey(f) : null, to is { } t ? CachedMlSegmentKey(t) : null, interactions);
        if (to is { } segment)
        {
            _mlCounted[userId] = segment;
        }
        else
        {
            _mlCounted.Remove(userId);
        }

        _journal?.Add(new Observation(userId, "", "", default, LifecycleStage.Unspecified, to, 0) { MovedFrom = from, Moved = interactions });
    }

    /// <summary>
    /// Where this silo's own changes go for the other silos' replicas (<see cref="Replication.ClusterReplication"/>),
    /// or null: the embedded default has no other silo and records nothing.
    /// </summary>
    public RecommenderOutbox? Outbox { get; set; }

    /// <summary>
    /// Applies changes another silo's recommenders made (its users' events, activations and deactivations), in the
    /// order it made them, as if they were made here; they are not sent on again.
    /// </summary>
    public void Apply(IEnumerable<RecommenderChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var change in changes)
        {
            switch (change.Kind)
            {
                case RecommenderChangeKind.Observed when change.ItemId.Length > 0:
                    lock (_learning)
                    {
                        Learn(change.UserId, change.ItemId, change.Category, new Interaction(change.ItemId, change.Type, change.Timestamp, change.Rating),
                            change.Stage, change.MlSegment < 0 ? null : change.MlSegment, change.Sequence, change.PairsReplayed);
                    }

                    break;
                case RecommenderChangeKind.Replayed when change.History is { } after && change.Before is { } before && !IsForgotten(change.UserId):
                    lock (_learning)
                    {
                        _coOccurrence.Replay(change.UserId, [.. before.Select(ToInteraction)], [.. after.Select(ToInteraction)]);
                        _cache?.Invalidate(change.UserId);
                    }

                    break;
                case RecommenderChangeKind.Activated when change.History is { Length: > 0 } history && !IsForgotten(change.UserId):
                    _coOccurrence.RestoreUser(change.UserId, history.Select(i => new Interaction(i.ItemId, i.Type, i.Timestamp, i.Rating)));
                    break;
                case RecommenderChangeKind.MlSegmentMoved when change.History is { } history && !IsForgotten(change.UserId):
                    lock (_learning)
                    {
                        // The origin's move as it made it (from where it counted her), so the replica's counts stay its.
                        MoveMl(change.UserId, change.FromMlSegment < 0 ? null : change.FromMlSegment, change.MlSegment < 0 ? null : change.MlSegment,
                            [.. history.Select(ToInteraction)]);
                        _cache?.Invalidate(change.UserId);
                    }

                    break;
                case RecommenderChangeKind.Restaged when change.ItemId.Length > 0:
                    _popularity.Move(CachedLifecycleKey(change.FromStage), CachedLifecycleKey(change.Stage), new Interaction(change.ItemId, change.Type, change.Timestamp, change.Rating));
                    break;
                case RecommenderChangeKind.Deactivated:
                    _coOccurrence.ForgetUser(change.UserId);
                    break;
            }
        }
    }

    private static Interaction ToInteraction(RecommenderInteraction i) => new(i.ItemId, i.Type, i.Timestamp, i.Rating);

    // Under _learning: the live path's gate around a rebuild (see RebuildWithoutAsync). Returns whether it was learned.
    // Its parts as arguments, not an Observation: one is made only while a rebuild journals (this runs for every event).
    private bool Learn(string userId, string itemId, string category, Interaction interaction, LifecycleStage stage, int? mlSegment, long sequence, bool pairsReplayed)
    {
        if (sequence > 0 && sequence <= _rebuiltThrough)
        {
            // Read from the log by the last rebuild, which counted it already (an observation that was on its way then).
            return false;
        }

        if (_forgotten.Count > 0 && IsForgotten(userId))
        {
            return false;
        }

        _journal?.Add(new Observation(userId, itemId, category, interaction, stage, mlSegment, sequence, pairsReplayed));
        Learn(_coOccurrence, _popularity, userId, itemId, category, interaction, stage, mlSegment, pairsReplayed);
        // Her history changed too, which alone recomputes her answer where the grain's history is read; this covers a
        // replica that learns her event after her grain (on another silo) already reported it.
        _cache?.Invalidate(userId);
        return true;
    }

    private void Learn(ItemCoOccurrence coOccurrence, SegmentPopularity popularity, string userId, string itemId, string category, Interaction interaction, LifecycleStage stage, int? mlSegment, bool pairsReplayed = false)
    {
        Catalog.Observe(itemId, category);
        if (!pairsReplayed)
        {
            coOccurrence.Record(userId, interaction);
        }

        // Keys from caches and on the stack: this runs for every ingested event.
        var lifecycle = CachedLifecycleKey(stage);
        if (mlSegment is { } ml)
        {
            popularity.Record([CachedMlSegmentKey(ml), lifecycle, SegmentPopularity.Everyone], interaction);
        }
        else
        {
            popularity.Record([lifecycle, SegmentPopularity.Everyone], interaction);
        }
    }

    /// <summary>
    /// A user's grain activated: the co-occurrence model remembers her items again, from her profile's interactions
    /// (without counting them twice), so her next events pair with what she did before.
    /// </summary>
    /// <remarks>
    /// The items remembered per user are the only part of the models that grows with users rather than items, so they
    /// are kept for live users only (<see cref="UserDeactivated"/>): 200,000 users touched once cost nothing here once
    /// their grains are collected. Her profile keeps every purchase and her last interactions, so the list restored is
    /// the one she had, except for items she only viewed more than a profile's history ago.
    /// </remarks>
    public void UserActivated(string userId, UserProfile profile)
    {
        if (!profile.IsEmpty && !IsForgotten(userId))
        {
            var history = profile.RecommendationHistory().OrderBy(i => i.Timestamp).ToArray();
            _coOccurrence.RestoreUser(userId, history);
            Outbox?.Add(new RecommenderChange(RecommenderChangeKind.Activated, userId,
                History: Array.ConvertAll(history, i => new RecommenderInteraction(i.ItemId, i.Type, i.Timestamp, i.Rating)))
            { Tenant = Tenant });
        }
    }

    /// <summary>A user's grain deactivated: her items are forgotten (see <see cref="UserActivated"/>); what they counted stays.</summary>
    public void UserDeactivated(string userId)
    {
        _coOccurrence.ForgetUser(userId);
        Outbox?.Add(new RecommenderChange(RecommenderChangeKind.Deactivated, userId) { Tenant = Tenant });
    }

    /// <summary>
    /// Recommendations for <paramref name="request"/> under the rules of <paramref name="placement"/> (which must exist).
    /// A user's answer is kept (<see cref="RecommendationCache"/>) and served again for the same request while her
    /// history, segments and embedding are unchanged, for at most <see cref="RecommendationOptions.CacheMaxAge"/>.
    /// </summary>
    public IReadOnlyList<Recommendation> Recommend(string placement, RecommendationRequest request)
    {
        if (_cache is null || request.UserId.Length == 0)
        {
            return _served.Placements[placement].Recommend(request);
        }

        if (_cache.TryGet(placement, request, out var cached))
        {
            return cached;
        }

        // The generation before the blend it answers with: a swap in between makes the answer unkept.
        var generation = _cache.Generation;
        var answer = _served.Placements[placement].Recommend(request);
        _cache.Add(placement, request, generation, answer);
        return answer;
    }

    /// <summary>The per-user answer cache (null when off), for tests.</summary>
    internal RecommendationCache? Cache => _cache;

    /// <summary>Items bought with <paramref name="itemId"/>, then popular ones of its category; never the item itself.</summary>
    public IReadOnlyList<Recommendation> SimilarItems(string itemId, int count, IReadOnlySet<string> excluded, DateTimeOffset now) =>
        _similar.Recommend(new RecommendationRequest
        {
            ContextItemId = itemId,
            ContextCategory = Catalog.CategoryOf(itemId) is { Length: > 0 } category ? category : null,
            ExcludedItems = excluded,
            Count = count,
            Now = now,
        });

    /// <summary>
    /// Replays every event in <paramref name="log"/> into the models of its tenant (<paramref name="recommenderOf"/>, by
    /// the tenant of the event's stream), user by user, each user's events in event-time order (then event id), as her
    /// grain folds them, with a light profile for the lifecycle stage each event was made in: the models equal those of
    /// an event-time-ordered load, whatever order the events were appended in. One read of the log (a query per user)
    /// holding one user's events at a time. Returns the events observed and the time it took.
    /// </summary>
    public static async Task<(long Events, TimeSpan Elapsed)> RebuildAsync(
        IEventLog log, ProfileOptions profileOptions, Func<string, LiveRecommender> recommenderOf, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var rebuilt = new Dictionary<string, Replayed?>(StringComparer.Ordinal);
        var (events, _) = await ReplayAsync(log, profileOptions, tenant =>
        {
            var recommender = recommenderOf(tenant);
            // At start nobody is counted under an ML segment yet: her grain moves her into hers when it assigns her one.
            return new Replayed(recommender, recommender._coOccurrence, recommender._popularity, null);
        }, rebuilt, fixedThrough: false, cancellationToken);

        // Counts are rebuilt; the items remembered per user are kept for live users only, and each user's come back
        // from her profile when her grain activates (UserActivated).
        foreach (var replayed in rebuilt.Values)
        {
            replayed?.CoOccurrence.ForgetAllUsers();
            replayed?.Recommender._cache?.Clear();
        }

        return (events, stopwatch.Elapsed);
    }

    /// <summary>
    /// Rebuilds co-occurrence and popularity from <paramref name="log"/>, from which some events were just deleted (an
    /// erasure, retention), and swaps the result in while the live path keeps learning: the counts then equal a replay of
    /// the log as it is now. <paramref name="forgottenUsers"/> (user ids) are erased: their remembered items go, and
    /// their observations still on their way (another silo's batch, an outbox) are ignored until
    /// <see cref="ForgetFor"/> after the swap. Rebuilds run one at a time.
    /// </summary>
    /// <remarks>
    /// Why a rebuild rather than subtracting her events: the counts are not sums of per-event terms that can be taken
    /// back. A pair's count grows by what the weaker side gained given the items she had then (at most
    /// <c>MaxItemsPerUser</c>, forgotten and restored with her grain), a pair's evidence ("bought together") is a flag
    /// that other users may share, and both are decayed from when they were made. Only a replay is exact. Its cost is a
    /// read of the whole log (a few seconds per million events), paid by the erasure call.
    /// <para>Events learned during the replay are not lost and not counted twice: while it runs, every observation is
    /// also journaled with its log sequence number; at the swap (under the same gate as learning) the journaled ones the
    /// replay did not read (sequence above the last it read) are applied to the new counts, and any observation that
    /// arrives later with a sequence the replay read is skipped.</para>
    /// <para>ML-segment popularity ("popular with &lt;segment&gt;"): the replay counts each user's events under the ML
    /// segment she was counted under when the rebuild began (<see cref="MlSegmentOf"/>; an erased user under none), and
    /// the moves made while it ran (<see cref="MoveMlSegment"/>) are journaled with the observations and applied at the
    /// swap in the order they were made, so it too equals the log as it is now, counted under each user's segment.</para>
    /// </remarks>
    public async Task<(long Events, TimeSpan Elapsed)> RebuildWithoutAsync(IEventLog log, ProfileOptions profileOptions, IReadOnlyCollection<string> forgottenUsers, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var forgotten = forgottenUsers.ToHashSet(StringComparer.Ordinal);
        await _rebuilding.WaitAsync(cancellationToken);
        try
        {
            lock (_learning)
            {
                foreach (var user in forgotten)
                {
                    _forgotten[user] = long.MaxValue;
                    _mlCounted.Remove(user);
                }

                _journal = [];
                _mlCountedAtRebuild = new Dictionary<string, int>(_mlCounted, StringComparer.Ordinal);
            }

            var coOccurrence = new ItemCoOccurrence(CoOccurrenceOptionsOf(_options));
            var popularity = new SegmentPopularity(Catalog, _options.PopularityHalfLife);
            try
            {
                // Only this tenant's streams: another tenant's events are not this recommender's to learn.
                var (events, through) = await ReplayAsync(
                    log, profileOptions, tenant => tenant == Tenant ? new Replayed(this, coOccurrence, popularity, _mlCountedAtRebuild) : null, [], fixedThrough: true, cancellationToken);
                lock (_learning)
                {
                    foreach (var o in _journal)
                    {
                        if (o.Moved is { } moved)
                        {
                            // A move after the replay's start: the replay counted her under where she was then (MovedFrom
                            // or before it), and the moves since apply in order on top.
                            if (!IsForgotten(o.UserId))
                            {
                                popularity.MoveAll(o.MovedFrom is { } f ? CachedMlSegmentKey(f) : null, o.MlSegment is { } t ? CachedMlSegmentKey(t) : null, moved);
                            }
                        }
                        else if ((o.Sequence == 0 || o.Sequence > through) && !IsForgotten(o.UserId))
                        {
                            // A late event whose pairs the live model replayed is recorded here as it came (the replay
                            // ran against the old counts): exact again for her at the next late event or start.
                            Learn(coOccurrence, popularity, o.UserId, o.ItemId, o.Category, o.Interaction, o.Stage, o.MlSegment);
                        }
                    }

                    _coOccurrence.ReplaceCountsWith(coOccurrence, forgotten);
                    _popularity.ReplaceWith(popularity);
                    _cache?.Clear();
                    _rebuiltThrough = Math.Max(_rebuiltThrough, through);
                    var until = Environment.TickCount64 + (long)ForgetFor.TotalMilliseconds;
                    foreach (var user in forgotten)
                    {
                        _forgotten[user] = until;
                    }
                }

                return (events, stopwatch.Elapsed);
            }
            finally
            {
                lock (_learning)
                {
                    _journal = null;
                    _mlCountedAtRebuild = null;
                }
            }
        }
        finally
        {
            _rebuilding.Release();
        }
    }

    /// <summary>
    /// How long after a rebuild the observations of an erased user are still ignored: long enough for a batch of another
    /// silo's changes that was on its way (sent every <c>ReplicationInterval</c>) to arrive. Her new events in that time
    /// are stored and folded, but learned by the recommenders only at the next start.
    /// </summary>
    public static TimeSpan ForgetFor { get; } = TimeSpan.FromSeconds(10);

    // Under _learning (or for a quick look without it: entries only expire).
    private bool IsForgotten(string userId)
    {
        lock (_learning)
        {
            if (!_forgotten.TryGetValue(userId, out var until))
            {
                return false;
            }

            if (until > Environment.TickCount64)
            {
                return true;
            }

            _forgotten.Remove(userId);
            return false;
        }
    }

    // The models a replay learns one tenant's events into, and the recommender whose catalogue they share.
    // MlCounted: the ML segment each user's events are counted under (null: nobody's under any).
    private sealed record Replayed(LiveRecommender Recommender, ItemCoOccurrence CoOccurrence, SegmentPopularity Popularity, IReadOnlyDictionary<string, int>? MlCounted);

    // Replays the log into the models targetOf gives each tenant (null: that tenant's events are skipped, and not counted),
    // remembered in targets by tenant, user by user: each user's events in the order her grain folds them (event time,
    // then event id), so the models are those an event-time-ordered load learns, whatever order the log holds the
    // events in (co-occurrence and popularity are sums of per-user terms: the order between users does not matter).
    // Memory: the stream ids and one user's events at a time. With `fixedThrough` (a rebuild while the live path learns)
    // the log's last sequence number is read first and no stream is read past it, so every event is either replayed
    // here or journaled (RebuildWithoutAsync); that costs one more read of the log. Returns the events learned and the
    // last sequence number read.
    private static async Task<(long Events, long Through)> ReplayAsync(
        IEventLog log, ProfileOptions profileOptions, Func<string, Replayed?> targetOf, Dictionary<string, Replayed?> targets, bool fixedThrough, CancellationToken cancellationToken)
    {
        var light = new ProfileOptions
        {
            Lifecycle = profileOptions.Lifecycle,
            Rfm = profileOptions.Rfm,
            AffinityHalfLife = profileOptions.AffinityHalfLife,
            EventWeights = [],
            MaxCategories = 1,
            RecentItems = 1,
            HistoryInteractions = 0,
            PurchasedItems = 0,
        };

        Replayed? TargetOf(string stream)
        {
            var tenant = TenantKeys.TenantOf(stream);
            if (!targets.TryGetValue(tenant, out var target))
            {
                target = targetOf(tenant);
                targets.Add(tenant, target);
            }

            return target;
        }

        // By stream (tenant/user): the same user id in two tenants is two users.
        var streams = new List<string>();
        var through = long.MaxValue;
        if (fixedThrough)
        {
            through = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            await foreach (var record in log.ReadAllAsync(0, cancellationToken))
            {
                through = record.Sequence;
                if (seen.Add(record.StreamId) && TargetOf(record.StreamId) is not null)
                {
                    streams.Add(record.StreamId);
                }
            }
        }
        else
        {
            await foreach (var stream in log.ReadStreamIdsAsync(cancellationToken))
            {
                streams.Add(stream);
            }
        }

        long events = 0;
        long read = 0;
        await foreach (var (stream, stored, last) in LogProfiles.ReadStreamsAsync(log, streams.Where(s => TargetOf(s) is not null), through, cancellationToken))
        {
            var target = TargetOf(stream)!;
            read = Math.Max(read, last);
            var userId = TenantKeys.UserIdOf(stream);
            var profile = new UserProfile(userId, light);
            int? ml = target.MlCounted is { } counted && counted.TryGetValue(userId, out var segment) ? segment : null;
            foreach (var e in stored)
            {
                profile.Apply(e);
                if (e.ItemId.Length > 0)
                {
                    // Every silo rebuilds: nothing to send.
                    target.Recommender.Learn(target.CoOccurrence, target.Popularity, e.UserId, e.ItemId, e.Category, Interaction.From(e), profile.StageAt(e.Timestamp), ml);
                }

                events++;
            }
        }

        return (events, fixedThrough ? through : read);
    }

    // One observation, as journaled while a rebuild runs.
    // A journaled ML-segment move (MoveMl) has Moved set: her interactions moved from MovedFrom to MlSegment.
    private sealed record Observation(string UserId, string ItemId, string Category, Interaction Interaction, LifecycleStage Stage, int? MlSegment, long Sequence, bool PairsReplayed = false)
    {
        public int? MovedFrom { get; init; }

        public IReadOnlyList<Interaction>? Moved { get; init; }
    }

    private static BlendOptions BlendOptionsOf(RecommendationOptions options, PersonalRanking ranking, PlacementOptions placement, PlacementOptions? defaults = null) => new()
    {
        RepurchasableCategories = options.RepurchasableCategories,
        ExcludedCategories = placement.ExcludedCategories ?? defaults?.ExcludedCategories ?? [],
        MaxPerCategory = placement.MaxPerCategory ?? defaults?.MaxPerCategory ?? 0,
        CategoryDepth = placement.CategoryDepth ?? defaults?.CategoryDepth ?? 1,
        Personalization = placement.Personalized ?? defaults?.Personalized ?? true ? ranking : null,
    };

    /// <summary>The personal ranking <paramref name="options"/> configure (also the one the item model's blend is tuned with).</summary>
    public static PersonalRanking PersonalRankingOf(RecommendationOptions options) => new()
    {
        AffinityBoost = options.Personalization.AffinityBoost,
        MaxCategoryShare = options.Personalization.MaxCategoryShare,
        TopCategories = options.Personalization.TopCategories,
    };

    // A candidate source that reads whichever item-embedding index is current (none: no candidates). The encoder is
    // shared by every tenant of the deployment (trained on the whole log), so its index may hold other tenants' items:
    // only items this tenant's catalogue knows are candidates.
    private sealed class SwappableEmbeddingIndex(ItemCatalog catalog) : ICandidateSource
    {
        private ItemEmbeddingIndex? _current;

        public ItemEmbeddingIndex? Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }

        public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
        {
            var index = Current;
            if (index is null || (request.UserVector is { } vector && vector.Length != index.Dimension))
            {
                return [];
            }

            return index.GetCandidates(request, count, item => catalog.Contains(item) && allowed(item));
        }
    }
}
