using Orleans.Concurrency;
using Segmentation.Core;
using Segmentation.Core.Rules;

namespace Segmentation.Grains;

/// <summary>
/// One user's live profile (key <see cref="TenantKeys.User"/>: <c>tenant/userId</c>). The event log is the source of
/// truth: <see cref="ApplyAsync"/> appends durably before it folds and acknowledges; queries answer from memory.
/// </summary>
/// <remarks>
/// Calls run one at a time per activation (not reentrant), so the fold order of one activation is its log order.
/// Methods returning null mean "the user has no events". Results are immutable: Orleans hands them over uncopied.
/// </remarks>
[Alias("segmentation.IUserGrain")]
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>
    /// Appends the events (stored payloads of one user) durably, idempotent by event id, folds the new ones and reports
    /// per event whether it was appended or a duplicate. Nothing is acknowledged before it is durable.
    /// </summary>
    /// <remarks>
    /// A <see cref="ValueTask{TResult}"/>: Orleans answers a call with a pooled completion source, and a
    /// <see cref="Task{TResult}"/> would wrap each answer in one more object (ingest makes one call per user per batch).
    /// Await it once.
    /// </remarks>
    [Alias("Apply")]
    ValueTask<ApplyResult> ApplyAsync(EventBatch batch);

    /// <summary>The lifecycle stage as of <paramref name="now"/>.</summary>
    [Alias("GetLifecycle")]
    Task<LifecycleAssessment?> GetLifecycleAsync(DateTimeOffset now);

    /// <summary>Her segments as of <paramref name="now"/>; rule segments (the catalog in force) only when <paramref name="includeRules"/>.</summary>
    [Alias("GetSegments")]
    Task<SegmentsView?> GetSegmentsAsync(DateTimeOffset now, bool includeRules);

    /// <summary>Her history, segments and embedding for a recommendation.</summary>
    [Alias("GetRecommendationInput")]
    Task<RecommendationInput?> GetRecommendationInputAsync(DateTimeOffset now, bool includeRules);

    /// <summary>
    /// What Recommend needs of her as of <paramref name="now"/> (history, lifecycle stage, ML segment, embedding,
    /// category affinities) and nothing else: no churn, value or anomaly score, no explanation.
    /// </summary>
    [Alias("GetRecommendationSignals")]
    Task<RecommendationSignals?> GetRecommendationSignalsAsync(DateTimeOffset now);

    /// <summary>The profile as of <paramref name="now"/> with her embedding.</summary>
    [Alias("GetProfile")]
    Task<ProfileWithEmbedding?> GetProfileAsync(DateTimeOffset now);

    /// <summary>Her embedding and traits for re-clustering (computed now if stale); null also without a served encoder.</summary>
    [Alias("GetSegmentationInput")]
    Task<SegmentationInput?> GetSegmentationInputAsync();

    /// <summary>Computes her embedding again if the profile or the served model changed, and assigns her ML segment.</summary>
    [Alias("RefreshSegment")]
    Task RefreshSegmentAsync();

    /// <summary>
    /// Runs the segment refresh she owes for events already acknowledged, if she still owes one: what her silo's refresh
    /// scheduler calls once the refresh delay has passed (one-way: a failed refresh stays owed and is scheduled again).
    /// </summary>
    [Alias("RefreshDue"), OneWay]
    Task RefreshDueAsync();

    /// <summary>
    /// Whether her profile as of <paramref name="now"/> matches the rule written in <paramref name="ruleText"/> (the
    /// rule language of <see cref="SegmentRule"/>; the grain compiles it). Rules cross grain calls as text, never as
    /// compiled objects.
    /// </summary>
    /// <exception cref="RuleSyntaxException">The text is not a rule.</exception>
    [Alias("EvaluateRule")]
    Task<RuleMatch?> EvaluateRuleAsync(string ruleText, DateTimeOffset now);

    /// <summary>
    /// Forgets her (erasure, retention): deletes her events from the log when <paramref name="deleteEvents"/> (an
    /// erasure; retention deletes the old ones itself first), deletes her snapshot, leaves her ML segment, forgets her
    /// remembered items and in-memory state, and deactivates without writing a snapshot. The next call activates afresh
    /// from what the log holds then: nothing, after an erasure.
    /// </summary>
    [Alias("Forget")]
    Task<UserErasure> ForgetAsync(bool deleteEvents);
}
