using Segmentation.Core;
using Segmentation.Grains;

namespace Segmentation.Host.Segments;

/// <summary>
/// Works out a user's segment memberships after her profile changed and publishes what changed to the
/// <see cref="SegmentChangeFeed"/>. Used by each user grain inside its turn; shared and stateless otherwise.
/// </summary>
/// <remarks>
/// Segment ids are kind-prefixed: <c>lifecycle:&lt;stage&gt;</c>, <c>rule:&lt;id&gt;</c> and <c>ml:&lt;segment id&gt;</c>. Memberships are
/// re-evaluated when events arrive, so a change that time alone causes (a user turning at-risk after 30 quiet days, a
/// rule created later) is published with the user's next event; queries always evaluate at the current time.
/// </remarks>
internal sealed class SegmentTracker
{
    // Every live user holds her membership ids: one shared string per lifecycle stage and per ML segment id, not one per
    // user.
    private static readonly string[] s_lifecycleIds = [.. Enumerable.Range(0, (int)LifecycleStage.Reactivated + 1).Select(i => "lifecycle:" + LifecycleStageNames.Of((LifecycleStage)i))];
    private static readonly string[] s_mlIds = [.. Enumerable.Range(0, 1_024).Select(i => "ml:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private readonly RuleSegmentCatalog _rules;
    private readonly TimeProvider _domainClock;
    private readonly string _tenant;
    // Other tenants' trackers, made from tenant default's (one per tenant, sharing its feed).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SegmentTracker>? _tenants;

    public SegmentTracker(RuleSegmentCatalog rules, SegmentChangeFeed feed, TimeProvider domainClock)
        : this(rules, feed, domainClock, TenantKeys.DefaultTenant)
    {
        _tenants = new(StringComparer.Ordinal);
    }

    private SegmentTracker(RuleSegmentCatalog rules, SegmentChangeFeed feed, TimeProvider domainClock, string tenant)
    {
        _rules = rules;
        Feed = feed;
        _domainClock = domainClock;
        _tenant = tenant;
    }

    /// <summary>
    /// The tracker of <paramref name="tenant"/>'s users: her tenant's rules and clock, the same feed, its changes
    /// stamped with the tenant so that watchers see their own tenant's users only. Made once per tenant.
    /// </summary>
    public SegmentTracker For(string tenant, RuleSegmentCatalog rules, TimeProvider domainClock) =>
        tenant == _tenant ? this
        : _tenants is null ? throw new InvalidOperationException("a tenant's tracker makes no others")
        : _tenants.GetOrAdd(tenant, t => new SegmentTracker(rules, Feed, domainClock, t));

    /// <summary>Where changes go.</summary>
    public SegmentChangeFeed Feed { get; }

    /// <summary>
    /// The segment ids <paramref name="profile"/> is in now (and ML segment <paramref name="mlSegment"/>), with the reason
    /// for each while a watcher is subscribed (the reasons are what the feed publishes; without a watcher the lifecycle's
    /// and rules' are empty). <paramref name="view"/>: the profile's view, when the caller has one already (its time is
    /// "now"; its recent items are not read).
    /// </summary>
    /// <remarks>
    /// An array of (id, reason) pairs, not a dictionary: every live user keeps hers (usually one or two pairs, 56 B as an
    /// array against about 200 B as a dictionary), and a handful is searched faster than hashed.
    /// </remarks>
    public KeyValuePair<string, string>[] Memberships(UserProfile profile, int? mlSegment, ProfileView? view = null, IReadOnlyList<KeyValuePair<string, string>>? scored = null)
    {
        if (profile.IsEmpty)
        {
            return [];
        }

        var result = new List<KeyValuePair<string, string>>(4);
        Build(result, profile, mlSegment, view, scored);
        return [.. result];
    }

    /// <summary>The reason for <paramref name="id"/> among <paramref name="memberships"/>, or null when she is not in it.</summary>
    public static string? ReasonFor(KeyValuePair<string, string>[] memberships, string id)
    {
        foreach (var (key, reason) in memberships)
        {
            if (string.Equals(key, id, StringComparison.Ordinal))
            {
                return reason;
            }
        }

        return null;
    }

    private void Build(List<KeyValuePair<string, string>> result, UserProfile profile, int? mlSegment, ProfileView? view, IReadOnlyList<KeyValuePair<string, string>>? scored)
    {

        foreach (var (id, reason) in scored ?? [])
        {
            result.Add(new(id, reason));
        }

        if (mlSegment is { } ml)
        {
            result.Add(new(MlId(ml), "nearest centroid of the segmentation model"));
        }

        var now = view?.AsOf ?? _domainClock.GetUtcNow();
        var rules = _rules.Current;
        if (rules.Count == 0)
        {
            // Reasons are read only by watchers: without any, the stage alone is enough (and much cheaper).
            if (Feed.WatcherCount == 0)
            {
                result.Add(new(LifecycleId(profile.StageAt(now)), ""));
                return;
            }

            var lifecycle = Explained(view, profile, now);
            result.Add(new(LifecycleId(lifecycle.Stage), lifecycle.Explanation));
            return;
        }

        view ??= profile.View(now, recentItems: false, lifecycleExplained: Feed.WatcherCount > 0);
        if (Feed.WatcherCount == 0)
        {
            // Nobody to tell why: the rules decided without their reasons (no comparison formatted), the stage without its
            // explanation, as in the case without rules.
            result.Add(new(LifecycleId(view.Lifecycle.Stage), ""));
            foreach (var rule in rules)
            {
                if (rule.Rule.Matches(view))
                {
                    result.Add(new(rule.MembershipKey, ""));
                }
            }

            return;
        }

        var assessed = Explained(view, profile, now);
        result.Add(new(LifecycleId(assessed.Stage), assessed.Explanation));
        foreach (var match in RuleSegmentCatalog.Evaluate(rules, view))
        {
            result.Add(new("rule:" + match.Id, string.Join("; ", match.Reasons)));
        }
    }

    /// <summary>
    /// Re-evaluates <paramref name="profile"/>, publishes every segment entered or left since <paramref name="before"/>
    /// (left first, then entered, each in id order) stamped <paramref name="at"/>, and returns the new memberships.
    /// <paramref name="view"/>: the profile's view, when the caller has one already. <paramref name="scored"/>: the
    /// segments a served model puts her in (<c>churn:&lt;band&gt;</c>, <c>anomaly:flagged</c>) with their reasons, which
    /// the caller scores only while someone watches.
    /// </summary>
    public KeyValuePair<string, string>[] Update(string userId, UserProfile profile, KeyValuePair<string, string>[] before, DateTimeOffset at, int? mlSegment, ProfileView? view = null, IReadOnlyList<KeyValuePair<string, string>>? scored = null)
    {
        if (Feed.WatcherCount == 0 && _rules.Current.Count == 0 && !profile.IsEmpty && SameStageAndMl(profile, before, mlSegment, view))
        {
            // Most refreshes move nobody: without watchers or rules her memberships are her stage and ML segment (reasons
            // empty), so the ones she has stand, and no dictionary is built per refresh.
            return before;
        }

        if (Feed.WatcherCount == 0)
        {
            // Nobody to tell: built in a scratch list and kept as an array only when it differs from what she had, so a
            // refresh that moves nobody (most of them, with rules too) makes no array.
            var scratch = s_threadScratch ??= new List<KeyValuePair<string, string>>(4);
            try
            {
                if (!profile.IsEmpty)
                {
                    Build(scratch, profile, mlSegment, view, scored);
                }

                return Same(scratch, before) ? before : [.. scratch];
            }
            finally
            {
                scratch.Clear();
            }
        }

        var after = Memberships(profile, mlSegment, view, scored);

        foreach (var (left, reason) in before.Where(m => ReasonFor(after, m.Key) is null).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            Feed.Publish(new MembershipChange(userId, left, Entered: false, at, reason.Length > 0 ? "no longer: " + reason : "no longer in it", _tenant));
        }

        foreach (var (entered, reason) in after.Where(m => ReasonFor(before, m.Key) is null).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            Feed.Publish(new MembershipChange(userId, entered, Entered: true, at, reason, _tenant));
        }

        return after;
    }

    // Whether `before` is exactly what Memberships would answer without watchers or rules.
    private bool SameStageAndMl(UserProfile profile, KeyValuePair<string, string>[] before, int? mlSegment, ProfileView? view)
    {
        if (before.Length != (mlSegment is null ? 1 : 2) || (mlSegment is { } ml && ReasonFor(before, MlId(ml)) is null))
        {
            return false;
        }

        var stage = profile.StageAt(view?.AsOf ?? _domainClock.GetUtcNow());
        return ReasonFor(before, LifecycleId(stage)) is { Length: 0 };
    }

    // Her lifecycle with its explanation, for watchers: the view's, unless the view was made while nobody watched (the
    // stage alone, explanation empty: a watcher came since), then assessed here.
    private static LifecycleAssessment Explained(ProfileView? view, UserProfile profile, DateTimeOffset now) =>
        view?.Lifecycle is { Explanation.Length: > 0 } explained ? explained : profile.AssessLifecycle(now);

    private static bool Same(List<KeyValuePair<string, string>> memberships, KeyValuePair<string, string>[] other)
    {
        if (memberships.Count != other.Length)
        {
            return false;
        }

        for (var i = 0; i < other.Length; i++)
        {
            if (!string.Equals(memberships[i].Key, other[i].Key, StringComparison.Ordinal) || !string.Equals(memberships[i].Value, other[i].Value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    // Update's memberships before they are compared with hers, per thread (a refresh runs on one thread, start to end).
    [ThreadStatic]
    private static List<KeyValuePair<string, string>>? s_threadScratch;

    private static string LifecycleId(LifecycleStage stage) =>
        (uint)stage < (uint)s_lifecycleIds.Length ? s_lifecycleIds[(int)stage] : "lifecycle:" + LifecycleStageNames.Of(stage);

    private static string MlId(int segmentId) =>
        (uint)segmentId < (uint)s_mlIds.Length ? s_mlIds[segmentId] : "ml:" + segmentId.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
