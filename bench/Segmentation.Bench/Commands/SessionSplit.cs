using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Commands;

/// <summary>
/// A time-ordered split per user for session-aware evaluation: each user's events sorted by time (then by their order
/// in the source), her item events cut at 80 % (at least one on each side); the training part is everything she did
/// before the cut. Targets: (a) her next interaction, the item of the first item event after the cut; (b) her next
/// purchase, the first purchase event at or after the cut (on MovieLens, which has no purchases: her next rating of
/// 4 or 5 stars). Users with fewer than three item events are left out.
/// </summary>
internal sealed class SessionSplit
{
    private const double TrainShare = 0.8;

    private SessionSplit(List<Event> train, List<SessionCase> cases)
    {
        Train = train;
        Cases = cases;
    }

    /// <summary>Every training event of every user, sorted by time (the order they are ingested in).</summary>
    public List<Event> Train { get; }

    /// <summary>One per evaluated user.</summary>
    public List<SessionCase> Cases { get; }

    /// <summary>Splits <paramref name="events"/> (any order) per user.</summary>
    public static SessionSplit Make(IReadOnlyList<Event> events, Func<Event, bool> isPurchase)
    {
        var train = new List<Event>();
        var cases = new List<SessionCase>();
        var order = events.Select((e, i) => (Event: e, Index: i));
        foreach (var user in order.GroupBy(x => x.Event.UserId).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var sorted = user.OrderBy(x => x.Event.Timestamp.ToDateTimeOffset()).ThenBy(x => x.Index).Select(x => x.Event).ToList();
            var itemPositions = sorted.Select((e, i) => (e, i)).Where(x => x.e.ItemId.Length > 0).Select(x => x.i).ToList();
            if (itemPositions.Count < 3)
            {
                train.AddRange(sorted);
                continue;
            }

            var cut = Math.Clamp((int)(itemPositions.Count * TrainShare), 1, itemPositions.Count - 1);
            var cutAt = itemPositions[cut];
            var mine = sorted.Take(cutAt).ToList();
            train.AddRange(mine);
            var seen = mine.Where(e => e.ItemId.Length > 0).Select(e => e.ItemId).ToHashSet(StringComparer.Ordinal);
            var bought = mine.Where(e => e.Type == EventType.Purchase).Select(e => e.ItemId).ToHashSet(StringComparer.Ordinal);
            var next = sorted[cutAt].ItemId;
            var purchase = sorted.Skip(cutAt).FirstOrDefault(isPurchase)?.ItemId;
            cases.Add(new SessionCase(user.Key, mine.Where(e => e.ItemId.Length > 0).ToList(), seen, bought, next, purchase));
        }

        train.Sort((a, b) => a.Timestamp.ToDateTimeOffset().CompareTo(b.Timestamp.ToDateTimeOffset()));
        return new SessionSplit(train, cases);
    }
}

/// <summary>One user's side of a <see cref="SessionSplit"/>.</summary>
/// <param name="UserId">The user.</param>
/// <param name="History">Her training item events, oldest first.</param>
/// <param name="Seen">Items of her training events.</param>
/// <param name="Bought">Items she bought in training (never recommended again: the service filters them, so do the baselines).</param>
/// <param name="NextItem">The item of her first item event after the cut.</param>
/// <param name="NextPurchase">The item of her first purchase after the cut, or null.</param>
internal sealed record SessionCase(string UserId, List<Event> History, HashSet<string> Seen, HashSet<string> Bought, string NextItem, string? NextPurchase);
