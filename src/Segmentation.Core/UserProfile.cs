using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Segmentation.Core;

/// <summary>
/// A user's live profile: a fold of her events in event-time order (<see cref="FoldOrder"/>: time, then event id), so it
/// is a function of her set of events, not of their arrival order. Stored values are those that do not depend on
/// "now"; everything time-relative (recency, decay, lifecycle) is derived by <see cref="View"/> at a given time, so the
/// same events give the same answers whenever they are replayed.
/// </summary>
/// <remarks>
/// <para>Deterministic: the same events in the same order give an identical <see cref="ToState"/>, and restoring a
/// snapshot then folding the rest equals folding everything.</para>
/// <para>Orders: a purchase starts a new order unless its <c>order_id</c> attribute equals that of the previous purchase
/// folded (invoice lines share an order id); a purchase without one is an order by itself. Spend adds price × quantity
/// of purchases, Returned that of returns; monetary value is Spend − Returned; average order value is Spend / Orders.</para>
/// <para>Category affinity: each event with a category credits its type's weight (<see cref="ProfileOptions.EventWeights"/>)
/// to the path and every parent ("home.kitchen.mugs" also credits "home.kitchen" and "home"), decaying with half-life
/// <see cref="ProfileOptions.AffinityHalfLife"/> in event time. Each entry keeps (value, as-of): an event at t ≥ as-of
/// makes it value·2^(−(t−as-of)/h) + w at t; a late event adds w·2^(−(as-of−t)/h). Values are clamped at 0 and an entry
/// at 0 is dropped; beyond <see cref="ProfileOptions.MaxCategories"/> the weakest entry (deepest path on ties) goes.</para>
/// <para>Recent items: the <see cref="ProfileOptions.RecentItems"/> distinct items with the latest event times, newest first.</para>
/// <para>Not thread-safe: it lives inside one grain, which runs one turn at a time.</para>
/// </remarks>
public sealed class UserProfile
{
    private const double TicksPerDay = TimeSpan.TicksPerDay;
    private readonly ProfileOptions _options;
    private readonly ProfileState _state;

    // The last lifecycle assessment and the day counts it was decided from. Every query asks for the assessment; between
    // two folds its stage, dates and explanation change only when one of those whole-day counts (or the stage) does, so
    // a query on the same day hands back the same immutable object instead of formatting the explanation again.
    private AssessmentMemo? _lastAssessment;

    // Whether her interaction lists (State.History, State.Purchased) are in event-time order, or null until asked (then
    // read off the list once). Kept as she folds: an entry goes at the end of its list, so a list stays in order unless
    // that entry is older than the last one, and removing entries keeps the order of the others. EncoderFeatures.Encode
    // asks at every refresh of the ingest path, and walking both lists each time was about 1 % of the process's CPU.
    // A list taken out of order is read again once its oldest entries go (that may put it back in order).
    private bool? _historyInTimeOrder;
    private bool? _purchasedInTimeOrder;

    // RecommendationHistory's answer, handed out again until an interaction of hers changes it (RememberInteraction is
    // the only writer of both lists): every Recommend that misses the answer cache asks for it, and building it made
    // 2–2.7 KB a call. An array no caller can change through the IReadOnlyList it is handed as.
    private Recommendations.Interaction[]? _recommendationHistory;

    /// <summary>Creates an empty profile.</summary>
    public UserProfile(string userId, ProfileOptions options)
        : this(new ProfileState { UserId = userId, Format = ProfileState.CurrentFormat }, options)
    {
    }

    private UserProfile(ProfileState state, ProfileOptions options)
    {
        _state = state;
        _options = options;
        if (_state.Counts.Length <= (int)EventType.Wishlist)
        {
            var counts = _state.Counts;
            Array.Resize(ref counts, (int)EventType.Wishlist + 1);
            _state.Counts = counts;
        }
    }

    /// <summary>The user.</summary>
    public string UserId => _state.UserId;

    /// <summary>The live fold state, read in place by hot paths of this assembly (never modify it from outside the fold).</summary>
    internal ProfileState State => _state;

    /// <summary>Events folded.</summary>
    public long EventCount => _state.EventCount;

    /// <summary>
    /// Whether the entries of both interaction lists (<see cref="ProfileState.History"/>, <see cref="ProfileState.Purchased"/>)
    /// are in event-time order (times never decrease along a list): true of a profile folded in event-time order.
    /// </summary>
    internal bool InteractionsInTimeOrder =>
        (_historyInTimeOrder ??= InTimeOrder(_state.History)) && (_purchasedInTimeOrder ??= InTimeOrder(_state.Purchased));

    private static bool InTimeOrder(List<InteractionState> entries)
    {
        for (var i = 1; i < entries.Count; i++)
        {
            if (entries[i].At < entries[i - 1].At)
            {
                return false;
            }
        }

        return true;
    }

    // Whether a list known to be in order (true) stays so with an entry at `at` added at its end; a list known out of
    // order is read again (null) once its oldest entries went, since they may have been the ones out of place.
    private static bool? InTimeOrderAfterAdding(bool? inOrder, List<InteractionState> entries, DateTimeOffset at, bool removedOldest) =>
        inOrder switch
        {
            true => entries.Count == 0 || entries[^1].At <= at,
            false when removedOldest => null,
            _ => inOrder,
        };

    /// <summary>Whether no event was folded.</summary>
    public bool IsEmpty => _state.EventCount == 0;

    /// <summary>
    /// The order profiles are folded in: event time, then <see cref="EventKey"/> of the event id, then the id itself
    /// (ordinal) between equal times, so equal timestamps (invoice lines, a batch stamped at once) fold the same way
    /// whatever order they arrived in.
    /// </summary>
    public static Comparison<BehaviorEvent> FoldOrder { get; } = static (a, b) =>
    {
        var byTime = a.Timestamp.UtcTicks.CompareTo(b.Timestamp.UtcTicks);
        if (byTime != 0)
        {
            return byTime;
        }

        var byKey = EventKey(a.EventId).CompareTo(EventKey(b.EventId));
        return byKey != 0 ? byKey : string.CompareOrdinal(a.EventId, b.EventId);
    };

    /// <summary>
    /// A stable 64-bit key of an event id (FNV-1a over its UTF-16 code units; the same in every process and build), the
    /// tie-break of <see cref="FoldOrder"/> that a profile remembers in 8 bytes (<see cref="ProfileState.LastEventKey"/>).
    /// Hand-written: the BCL's string hashes are randomised per process, and a package for five lines is not worth it.
    /// </summary>
    public static long EventKey(string eventId)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in eventId)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return unchecked((long)hash);
    }

    /// <summary>
    /// Whether <paramref name="e"/> sorts after every event folded so far (<see cref="FoldOrder"/>), so folding it now
    /// gives the same state as folding all of them in order. False for a late event.
    /// </summary>
    public bool FoldsAfter(BehaviorEvent e)
    {
        var s = _state;
        if (s.EventCount == 0)
        {
            return true;
        }

        // Equal keys (a collision of two ids at one instant) count as late: the re-fold sorts them by id.
        var byTime = e.Timestamp.UtcTicks.CompareTo(s.LastSeen.UtcTicks);
        return byTime > 0 || (byTime == 0 && EventKey(e.EventId) > s.LastEventKey);
    }

    /// <summary>Restores a profile from a snapshot (the state is copied).</summary>
    public static UserProfile FromState(ProfileState state, ProfileOptions options) => new(Copy(state, share: true), options);

    /// <summary>A copy of the fold state, for snapshots.</summary>
    public ProfileState ToState() => Copy(_state, share: false);

    /// <summary>
    /// Folds one event that passed <see cref="EventValidator"/>. Gives a function of the set of events only when called
    /// in <see cref="FoldOrder"/> (see the remarks on the class); out of order it still keeps first/last seen as
    /// minimum/maximum, and a late event never counts as a return.
    /// </summary>
    public void Apply(BehaviorEvent e)
    {
        var s = _state;
        var t = e.Timestamp;
        _lastAssessment = null;
        if (FoldsAfter(e))
        {
            s.LastEventKey = EventKey(e.EventId);
        }

        if (s.EventCount == 0)
        {
            s.FirstSeen = t;
            s.LastSeen = t;
        }
        else
        {
            var gap = t - s.LastSeen;
            if (gap > TimeSpan.FromDays(_options.Lifecycle.ChurnedAfterDays))
            {
                s.ReactivatedAt = t;
                s.ReactivationGapDays = (int)gap.TotalDays;
            }

            if (gap > TimeSpan.FromDays(_options.Lifecycle.AtRiskAfterDays))
            {
                s.ResumedAt = t;
            }

            if (t < s.FirstSeen)
            {
                s.FirstSeen = t;
            }

            if (t > s.LastSeen)
            {
                s.LastSeen = t;
            }
        }

        s.EventCount++;
        s.Counts[(int)e.Type]++;
        var value = e.Price * e.Quantity;
        if (e.Type == EventType.Purchase)
        {
            e.Attributes.TryGetValue("order_id", out var orderId);
            orderId ??= "";
            if (orderId.Length == 0 || orderId != s.LastOrderId)
            {
                s.Orders++;
            }

            s.LastOrderId = orderId;
            s.Spend += value;
            if (s.LastPurchase is null || t > s.LastPurchase)
            {
                s.LastPurchase = t;
            }
        }
        else if (e.Type == EventType.Return)
        {
            s.Returned += value;
        }

        if (e.Category.Length > 0 && _options.EventWeights.TryGetValue(e.Type, out var weight) && weight != 0)
        {
            CreditCategories(e.Category, weight, t);
        }

        if (e.ItemId.Length > 0)
        {
            // Kept for as long as she is live: one shared copy of the id, not this event's own.
            var itemId = ProfileStrings.Share(e.ItemId);
            RememberItem(itemId, e.Type, t);
            RememberInteraction(e, itemId);
        }
    }

    /// <summary>
    /// What the recommenders need to know of this user: every remembered purchase (up to
    /// <see cref="ProfileOptions.PurchasedItems"/> distinct items, so they can be filtered out) and the last
    /// <see cref="ProfileOptions.HistoryInteractions"/> item interactions. A purchase in both lists appears once per list.
    /// The same immutable list is handed out until her next interaction changes it.
    /// </summary>
    public IReadOnlyList<Recommendations.Interaction> RecommendationHistory()
    {
        if (_recommendationHistory is { } known)
        {
            return known;
        }

        var s = _state;
        var count = s.Purchased.Count;
        foreach (var h in s.History)
        {
            count += h.Type != EventType.Purchase ? 1 : 0;
        }

        var result = count == 0 ? [] : new Recommendations.Interaction[count];
        var n = 0;
        foreach (var p in s.Purchased)
        {
            result[n++] = new Recommendations.Interaction(p.ItemId, EventType.Purchase, p.At);
        }

        foreach (var h in s.History)
        {
            if (h.Type != EventType.Purchase)
            {
                result[n++] = new Recommendations.Interaction(h.ItemId, h.Type, h.At, h.Rating);
            }
        }

        _recommendationHistory = result;
        return result;
    }

    /// <summary>
    /// Her decayed affinities to top-level categories ("sports", not "sports.running") as of <paramref name="now"/>, the
    /// largest first (then by category, ordinal), at most <paramref name="max"/>, each with its share of their total:
    /// what the recommenders personalise with. The same numbers as <see cref="View"/>'s top-level entries, without the rest.
    /// </summary>
    public IReadOnlyList<CategoryAffinity> TopLevelAffinities(DateTimeOffset now, int max)
    {
        var categories = _state.Categories;
        var total = 0.0;
        // Ranked as (category, value) pairs first, in a rented array, and an affinity made only for each one kept, once
        // its share is known: a record per category, a copy of each kept one with its share and the list's arrays were
        // most of the bytes this made per Recommend.
        var rented = ArrayPool<(string Category, double Value)>.Shared.Rent(Math.Max(1, categories.Count));
        var n = 0;
        try
        {
            foreach (var c in categories)
            {
                if (!c.Category.Contains('.', StringComparison.Ordinal))
                {
                    var value = Decay(c.Value, c.AsOf, now);
                    total += value;
                    if (value > 0)
                    {
                        rented[n++] = (c.Category, value);
                    }
                }
            }

            var ranked = rented.AsSpan(0, n);
            ranked.Sort(static (a, b) =>
            {
                var byValue = b.Value.CompareTo(a.Value);
                return byValue != 0 ? byValue : string.CompareOrdinal(a.Category, b.Category);
            });
            var top = new CategoryAffinity[Math.Min(Math.Max(0, max), n)];
            for (var i = 0; i < top.Length; i++)
            {
                top[i] = new CategoryAffinity(ranked[i].Category, ranked[i].Value, Math.Min(1, ranked[i].Value / total));
            }

            return top;
        }
        finally
        {
            // Back without the category names (the pool must not keep them alive).
            rented.AsSpan(0, n).Clear();
            ArrayPool<(string Category, double Value)>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Her top-level category ("sports", not "sports.running") with the largest decayed affinity at <paramref name="now"/>
    /// (the smaller ordinally on a tie), or "" without one: the first top-level entry of <see cref="View"/>'s
    /// <see cref="ProfileView.TopCategories"/>, found without sorting or allocating.
    /// </summary>
    internal string TopLevelCategoryAt(DateTimeOffset now)
    {
        var top = "";
        var topValue = 0.0;
        foreach (var c in _state.Categories)
        {
            if (c.Category.Contains('.', StringComparison.Ordinal))
            {
                continue;
            }

            // View's order: larger value first, then the category (ordinal); CompareTo orders NaN as View's sort does.
            var value = Decay(c.Value, c.AsOf, now);
            var byValue = top.Length == 0 ? 1 : value.CompareTo(topValue);
            if (byValue > 0 || (byValue == 0 && string.CompareOrdinal(c.Category, top) < 0))
            {
                top = c.Category;
                topValue = value;
            }
        }

        return top;
    }

    /// <summary>
    /// The profile with every derived value as of <paramref name="now"/>; <paramref name="recentItems"/> false leaves
    /// <see cref="ProfileView.RecentItems"/> empty, for readers that never look at them: rules read only counts, money,
    /// RFM, dates, the lifecycle and affinities (<see cref="Rules.ProfileTraits"/>), and the ingest path's refresh, which
    /// evaluates them for every refreshed user, copied her recent items (about 1 KB) for nothing.
    /// <paramref name="lifecycleExplained"/> false gives <see cref="ProfileView.Lifecycle"/> her stage alone (its
    /// <see cref="LifecycleAssessment.Since"/> is <paramref name="now"/> and its explanation empty), for readers of the
    /// stage only (rules): each event makes the explanation's strings anew, about 250 B a refresh.
    /// </summary>
    public ProfileView View(DateTimeOffset now, bool recentItems = true, bool lifecycleExplained = true)
    {
        var s = _state;
        var counts = new List<EventTypeCount>();
        for (var type = EventType.View; type <= EventType.Wishlist; type++)
        {
            if (s.Counts[(int)type] > 0)
            {
                counts.Add(new EventTypeCount(type, s.Counts[(int)type]));
            }
        }

        // Runs in every ingest call (embedding inputs, segment traits, rules), so plain loops over arrays: the LINQ
        // sort it replaced allocated a dozen iterators, delegates and buffers per call for the same order.
        var categories = s.Categories;
        var decayed = new (string Category, double Value)[categories.Count];
        var total = 0.0;
        for (var i = 0; i < decayed.Length; i++)
        {
            var c = categories[i];
            decayed[i] = (c.Category, Decay(c.Value, c.AsOf, now));
            // Shares are of the top-level categories' total, so a path and its parents do not count twice.
            if (!c.Category.Contains('.', StringComparison.Ordinal))
            {
                total += decayed[i].Value;
            }
        }

        // Largest value first, then by category (ordinal). Category paths are unique, so the order is total and an
        // unstable sort gives the same order as the stable one.
        Array.Sort(decayed, static (a, b) =>
        {
            var byValue = b.Value.CompareTo(a.Value);
            return byValue != 0 ? byValue : string.CompareOrdinal(a.Category, b.Category);
        });
        var top = new List<CategoryAffinity>(decayed.Length);
        foreach (var (category, value) in decayed)
        {
            top.Add(new CategoryAffinity(category, value, total > 0 ? Math.Min(1, value / total) : 0));
        }

        var recent = new List<RecentItem>(recentItems ? s.RecentItems.Count : 0);
        for (var i = 0; recentItems && i < s.RecentItems.Count; i++)
        {
            var r = s.RecentItems[i];
            recent.Add(new RecentItem(r.ItemId, r.Type, r.At));
        }

        return new ProfileView(
            s.UserId,
            s.FirstSeen,
            s.LastSeen,
            s.EventCount,
            counts,
            s.Orders,
            s.Spend,
            s.Returned,
            s.Orders > 0 ? s.Spend / s.Orders : 0,
            s.LastPurchase,
            Rfm(now),
            top,
            recent,
            lifecycleExplained ? AssessLifecycle(now) : new LifecycleAssessment(StageAt(now), now, ""),
            now);
    }

    /// <summary>RFM at <paramref name="now"/>.</summary>
    public RfmScore Rfm(DateTimeOffset now)
    {
        var s = _state;
        var o = _options.Rfm;
        var recencyDays = s.LastPurchase is { } last ? WholeDays(now - last) : -1;
        var monetary = s.Spend - s.Returned;
        // Loops, not LINQ's Count with capturing lambdas: this runs on every view, in the ingest call.
        var recencyScore = 5;
        foreach (var bound in o.RecencyDays ?? RfmOptions.DefaultRecencyDays)
        {
            recencyScore -= recencyDays > bound ? 1 : 0;
        }

        recencyScore = recencyDays < 0 ? 1 : recencyScore;
        var frequencyScore = 1;
        foreach (var bound in o.Frequency ?? RfmOptions.DefaultFrequency)
        {
            frequencyScore += s.Orders >= bound ? 1 : 0;
        }

        var monetaryScore = 1;
        foreach (var bound in o.Monetary ?? RfmOptions.DefaultMonetary)
        {
            monetaryScore += monetary >= bound ? 1 : 0;
        }

        return new RfmScore(recencyDays, s.Orders, monetary, Score(recencyScore), Score(frequencyScore), Score(monetaryScore));
    }

    /// <summary>
    /// The lifecycle stage at <paramref name="now"/>, the first that applies (any event counts as activity):
    /// <list type="bullet">
    /// <item>churned: more than <see cref="LifecycleOptions.ChurnedAfterDays"/> since the last activity (since = last activity + that many days);</item>
    /// <item>at-risk: more than <see cref="LifecycleOptions.AtRiskAfterDays"/> since the last activity (since = last activity + that many days);</item>
    /// <item>reactivated: an event came after a gap of more than the churn threshold, at most
    /// <see cref="LifecycleOptions.ReactivatedForDays"/> ago (since = that event);</item>
    /// <item>new: first seen at most <see cref="LifecycleOptions.NewForDays"/> ago (since = first seen);</item>
    /// <item>active: since the start of the current active period (the end of the new or reactivated period, or the
    /// return after an at-risk gap, whichever is latest).</item>
    /// </list>
    /// The explanation is one line, e.g. "last activity 47 days ago (last purchase 67 days ago); at-risk after 30 days
    /// of inactivity". A profile without events is <see cref="LifecycleStage.Unspecified"/>.
    /// </summary>
    public LifecycleAssessment AssessLifecycle(DateTimeOffset now)
    {
        var s = _state;
        var stage = StageAt(now);
        if (stage == LifecycleStage.Unspecified)
        {
            return new(LifecycleStage.Unspecified, now, "no activity yet");
        }

        var idle = WholeDays(now - s.LastSeen);
        // Everything below reads the fold state (fixed until the next Apply), the options, the stage and these counts.
        var purchaseDays = s.LastPurchase is { } purchased ? WholeDays(now - purchased) : -1;
        var backDays = s.ReactivatedAt is { } returned ? WholeDays(now - returned) : -1;
        var firstDays = WholeDays(now - s.FirstSeen);
        if (_lastAssessment is { } memo && memo.Stage == stage && memo.Idle == idle && memo.Purchase == purchaseDays && memo.Back == backDays && memo.First == firstDays)
        {
            return memo.Result;
        }

        var result = Assess(stage, idle, purchaseDays, backDays, firstDays);
        _lastAssessment = new AssessmentMemo(stage, idle, purchaseDays, backDays, firstDays, result);
        return result;
    }

    private LifecycleAssessment Assess(LifecycleStage stage, int idle, int purchaseDays, int backDays, int firstDays)
    {
        var s = _state;
        var o = _options.Lifecycle;
        var activity = $"last activity {Ago(idle)}" + (s.LastPurchase is { } p && p != s.LastSeen ? $" (last purchase {Ago(purchaseDays)})" : s.LastPurchase is null ? "" : " (a purchase)");
        switch (stage)
        {
            case LifecycleStage.Churned:
                return new(stage, s.LastSeen.AddDays(o.ChurnedAfterDays), $"{activity}; churned after {o.ChurnedAfterDays} days of inactivity");
            case LifecycleStage.AtRisk:
                return new(stage, s.LastSeen.AddDays(o.AtRiskAfterDays), $"{activity}; at-risk after {o.AtRiskAfterDays} days of inactivity");
            case LifecycleStage.Reactivated:
                return new(stage, s.ReactivatedAt!.Value, $"came back {Ago(backDays)} after {s.ReactivationGapDays} days away; {activity}");
            case LifecycleStage.New:
                return new(stage, s.FirstSeen, $"first seen {Ago(firstDays)}; new for the first {o.NewForDays} days; {activity}");
        }

        var since = s.FirstSeen.AddDays(o.NewForDays);
        if (s.ResumedAt is { } resumed && resumed > since)
        {
            since = resumed;
        }

        if (s.ReactivatedAt is { } reactivated && reactivated.AddDays(o.ReactivatedForDays) > since)
        {
            since = reactivated.AddDays(o.ReactivatedForDays);
        }

        return new(LifecycleStage.Active, since, $"{activity}; active while inactivity stays under {o.AtRiskAfterDays} days");
    }

    /// <summary>The lifecycle stage at <paramref name="now"/> (what <see cref="AssessLifecycle"/> decides, without building its explanation).</summary>
    public LifecycleStage StageAt(DateTimeOffset now)
    {
        var s = _state;
        return s.EventCount == 0 ? LifecycleStage.Unspecified : StageAt(s.FirstSeen, s.LastSeen, s.ReactivatedAt, now, _options.Lifecycle);
    }

    /// <summary>
    /// The lifecycle stage at <paramref name="now"/> of a user with events, from the three times it depends on: what
    /// <see cref="StageAt(DateTimeOffset)"/> decides, for callers that keep those times without the profile.
    /// </summary>
    public static LifecycleStage StageAt(DateTimeOffset firstSeen, DateTimeOffset lastSeen, DateTimeOffset? reactivatedAt, DateTimeOffset now, LifecycleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (now - lastSeen > TimeSpan.FromDays(options.ChurnedAfterDays))
        {
            return LifecycleStage.Churned;
        }

        if (now - lastSeen > TimeSpan.FromDays(options.AtRiskAfterDays))
        {
            return LifecycleStage.AtRisk;
        }

        if (reactivatedAt is { } back && now - back <= TimeSpan.FromDays(options.ReactivatedForDays))
        {
            return LifecycleStage.Reactivated;
        }

        return now - firstSeen <= TimeSpan.FromDays(options.NewForDays) ? LifecycleStage.New : LifecycleStage.Active;
    }

    private void CreditCategories(string category, double weight, DateTimeOffset t)
    {
        // Credit the path and each parent: "home.kitchen.mugs" also counts for "home.kitchen" and "home".
        var end = category.Length;
        while (end > 0)
        {
            Credit(category, end, weight, t);
            end = category.LastIndexOf('.', end - 1);
        }

        var categories = _state.Categories;
        categories.RemoveAll(static c => c.Value <= 0);
        var max = Math.Max(1, _options.MaxCategories);
        while (categories.Count > max)
        {
            // Compare all at one time; on ties drop the deeper path, so a parent outlives its children (paths are
            // unique, so the order is total).
            var latest = categories[0].AsOf;
            foreach (var c in categories)
            {
                latest = c.AsOf > latest ? c.AsOf : latest;
            }

            var weakest = 0;
            var weakestValue = Decay(categories[0].Value, categories[0].AsOf, latest);
            for (var i = 1; i < categories.Count; i++)
            {
                var value = Decay(categories[i].Value, categories[i].AsOf, latest);
                var byValue = value.CompareTo(weakestValue);
                var byDepth = categories[weakest].Category.Length.CompareTo(categories[i].Category.Length);
                if (byValue < 0 || (byValue == 0 && (byDepth < 0 || (byDepth == 0 && string.CompareOrdinal(categories[i].Category, categories[weakest].Category) < 0))))
                {
                    weakest = i;
                    weakestValue = value;
                }
            }

            categories.RemoveAt(weakest);
        }
    }

    // Credits the prefix category[..length]: matched as a span, so a parent path is allocated as a string only when
    // its entry is created, not on every event.
    private void Credit(string category, int length, double weight, DateTimeOffset t)
    {
        var path = category.AsSpan(0, length);
        var categories = _state.Categories;
        var index = -1;
        for (var i = 0; i < categories.Count && index < 0; i++)
        {
            index = path.SequenceEqual(categories[i].Category) ? i : -1;
        }

        if (index < 0)
        {
            // The pool hands out its shared copy of the path, allocating only the first time it sees one. The bound
            // leaves room for the path's parents, pruned right after (CreditCategories).
            EnsureRoom(categories, Math.Max(1, _options.MaxCategories) + 4);
            categories.Add(new CategoryState { Category = ProfileStrings.Share(path), AsOf = t });
            index = categories.Count - 1;
        }

        ref var entry = ref CollectionsMarshal.AsSpan(categories)[index];
        if (t >= entry.AsOf)
        {
            entry.Value = Math.Max(0, Decay(entry.Value, entry.AsOf, t) + weight);
            entry.AsOf = t;
        }
        else
        {
            // A late event: its credit has decayed by the time the entry is at.
            entry.Value = Math.Max(0, entry.Value + Decay(weight, t, entry.AsOf));
        }
    }

    private void RememberItem(string itemId, EventType type, DateTimeOffset t)
    {
        var items = _state.RecentItems;
        var existing = -1;
        for (var i = 0; i < items.Count && existing < 0; i++)
        {
            existing = items[i].ItemId == itemId ? i : -1;
        }

        if (existing >= 0)
        {
            if (items[existing].At > t)
            {
                return;
            }

            items.RemoveAt(existing);
        }

        var position = -1;
        for (var i = 0; i < items.Count && position < 0; i++)
        {
            position = items[i].At <= t ? i : -1;
        }

        // Inserting and then dropping the oldest beyond the bound: the same as dropping first (when full) and then
        // inserting, which never grows the list past its bound.
        var max = Math.Max(1, _options.RecentItems);
        if (items.Count >= max)
        {
            if (position < 0)
            {
                return; // older than every item kept
            }

            items.RemoveAt(items.Count - 1);
            position = Math.Min(position, items.Count);
        }

        EnsureRoom(items, max);
        items.Insert(position < 0 ? items.Count : position, new RecentItemState { ItemId = itemId, Type = type, At = t });
    }

    private void RememberInteraction(BehaviorEvent e, string itemId)
    {
        // Cart removals are kept beside the adds so the recommenders know what is still in the cart ("in your cart");
        // they weigh 0 for every learned source (InteractionWeights), which skips them.
        if (e.Type is not (EventType.View or EventType.AddToCart or EventType.RemoveFromCart or EventType.Wishlist or EventType.Purchase or EventType.Rating))
        {
            return;
        }

        _recommendationHistory = null;
        var history = _state.History;
        if (_options.HistoryInteractions > 0)
        {
            var full = history.Count >= _options.HistoryInteractions;
            if (full)
            {
                history.RemoveRange(0, history.Count - _options.HistoryInteractions + 1);
            }

            EnsureRoom(history, _options.HistoryInteractions);
            _historyInTimeOrder = InTimeOrderAfterAdding(_historyInTimeOrder, history, e.Timestamp, removedOldest: full);
            history.Add(new InteractionState { ItemId = itemId, Type = e.Type, At = e.Timestamp, Rating = e.Rating });
        }

        if (e.Type == EventType.Purchase && _options.PurchasedItems > 0)
        {
            var purchased = _state.Purchased;
            var existing = -1;
            for (var i = 0; i < purchased.Count && existing < 0; i++)
            {
                existing = purchased[i].ItemId == itemId ? i : -1;
            }

            var at = e.Timestamp;
            var removedOldest = false;
            if (existing >= 0)
            {
                at = purchased[existing].At > at ? purchased[existing].At : at;
                purchased.RemoveAt(existing);
                removedOldest = existing == 0;
            }
            else if (purchased.Count >= _options.PurchasedItems)
            {
                purchased.RemoveAt(0);
                removedOldest = true;
            }

            EnsureRoom(purchased, _options.PurchasedItems);
            _purchasedInTimeOrder = InTimeOrderAfterAdding(_purchasedInTimeOrder, purchased, at, removedOldest);
            purchased.Add(new InteractionState { ItemId = itemId, Type = EventType.Purchase, At = at });
        }
    }

    private double Decay(double value, DateTimeOffset from, DateTimeOffset to)
    {
        var elapsed = (to - from).Ticks;
        return elapsed <= 0 ? value : value * Math.Pow(2, -elapsed / (double)_options.AffinityHalfLife.Ticks);
    }

    private static int Score(int score) => Math.Clamp(score, 1, 5);

    /// <summary>An assessment and the inputs that vary with "now" it was made from (-1: no such date).</summary>
    private sealed record AssessmentMemo(LifecycleStage Stage, int Idle, int Purchase, int Back, int First, LifecycleAssessment Result);

    private static int WholeDays(TimeSpan span) => span <= TimeSpan.Zero ? 0 : (int)(span.Ticks / TicksPerDay);

    private static string Ago(int days) => days switch
    {
        0 => "today",
        1 => "1 day ago",
        _ => days.ToString(CultureInfo.InvariantCulture) + " days ago",
    };

    // A list grows by doubling, so one bounded at 100 entries would end at a capacity of 128 and one at 20 at 32: grow
    // toward the bound, never past it. Live profiles are most of a silo's memory.
    private static void EnsureRoom<T>(List<T> list, int bound)
    {
        if (list.Count == list.Capacity)
        {
            list.Capacity = Math.Max(list.Count + 1, Math.Min(Math.Max(4, list.Count * 2), bound));
        }
    }

    // Restoring (share) puts the snapshot's strings through the pool, as folding does; a copy for a snapshot keeps them.
    private static ProfileState Copy(ProfileState s, bool share) => new()
    {
        Format = s.Format,
        UserId = s.UserId,
        EventCount = s.EventCount,
        Counts = [.. s.Counts],
        FirstSeen = s.FirstSeen,
        LastSeen = s.LastSeen,
        LastEventKey = s.LastEventKey,
        ResumedAt = s.ResumedAt,
        ReactivatedAt = s.ReactivatedAt,
        ReactivationGapDays = s.ReactivationGapDays,
        Orders = s.Orders,
        LastOrderId = s.LastOrderId,
        Spend = s.Spend,
        Returned = s.Returned,
        LastPurchase = s.LastPurchase,
        Categories = share ? s.Categories.ConvertAll(static c => c with { Category = ProfileStrings.Share(c.Category) }) : [.. s.Categories],
        RecentItems = share ? s.RecentItems.ConvertAll(static r => r with { ItemId = ProfileStrings.Share(r.ItemId) }) : [.. s.RecentItems],
        History = share ? s.History.ConvertAll(static h => h with { ItemId = ProfileStrings.Share(h.ItemId) }) : [.. s.History],
        Purchased = share ? s.Purchased.ConvertAll(static p => p with { ItemId = ProfileStrings.Share(p.ItemId) }) : [.. s.Purchased],
    };
}
