using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Commands;

/// <summary>
/// The simple recommenders the served list must beat, learned from a <see cref="SessionSplit"/>'s training events.
/// Each returns up to k items, never one she bought in training (the service filters those too) nor one excluded.
/// </summary>
internal sealed class SessionBaselines
{
    private readonly List<string> _popular;
    private readonly Dictionary<string, Dictionary<string, int>> _coCounts = new(StringComparer.Ordinal);

    /// <summary>Learns popularity (distinct users per item) and co-occurrence (distinct users per item pair).</summary>
    public SessionBaselines(IReadOnlyList<Event> train)
    {
        var usersItems = train.Where(e => e.ItemId.Length > 0).GroupBy(e => e.UserId)
            .Select(g => g.Select(e => e.ItemId).Distinct(StringComparer.Ordinal).ToArray()).ToList();
        var users = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var items in usersItems)
        {
            foreach (var i in items)
            {
                users[i] = users.GetValueOrDefault(i) + 1;
                if (!_coCounts.TryGetValue(i, out var row))
                {
                    row = new Dictionary<string, int>(StringComparer.Ordinal);
                    _coCounts[i] = row;
                }

                foreach (var j in items)
                {
                    if (!ReferenceEquals(i, j) && i != j)
                    {
                        row[j] = row.GetValueOrDefault(j) + 1;
                    }
                }
            }
        }

        _popular = [.. users.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key)];
    }

    /// <summary>Her viewed, carted, wishlisted or rated items, newest first.</summary>
    public static List<string> RecentlyViewed(SessionCase c, IReadOnlySet<string> excluded, int k) =>
        [.. Enumerable.Reverse(c.History).Where(e => e.Type is EventType.View or EventType.AddToCart or EventType.Wishlist or EventType.Rating)
            .Select(e => e.ItemId).Distinct(StringComparer.Ordinal).Where(i => !c.Bought.Contains(i) && !excluded.Contains(i)).Take(k)];

    /// <summary>The items most users interacted with.</summary>
    public List<string> Popularity(SessionCase c, IReadOnlySet<string> excluded, int k) =>
        [.. _popular.Where(i => !c.Bought.Contains(i) && !excluded.Contains(i)).Take(k)];

    /// <summary>Items not hers, scored by Σ over her items of the users who had both (the 30-line co-occurrence script).</summary>
    public List<string> CoOccurrence(SessionCase c, IReadOnlySet<string> excluded, int k)
    {
        var scores = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var j in c.Seen)
        {
            if (_coCounts.TryGetValue(j, out var row))
            {
                foreach (var (i, n) in row)
                {
                    if (!c.Seen.Contains(i) && !excluded.Contains(i))
                    {
                        scores[i] = scores.GetValueOrDefault(i) + n;
                    }
                }
            }
        }

        return [.. scores.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(k).Select(p => p.Key)];
    }

    /// <summary>
    /// <see cref="CoOccurrence"/> given as many places as <paramref name="served"/> gives items new to her (not in
    /// <see cref="SessionCase.Seen"/>): the two rankings of new items compared place for place, apart from how many
    /// places each list keeps for them (co-occurrence alone keeps all ten; the served list's discovery split fewer).
    /// </summary>
    public List<string> CoOccurrenceInNewPlacesOf(IReadOnlyList<string> served, SessionCase c, IReadOnlySet<string> excluded) =>
        CoOccurrence(c, excluded, served.Count(i => !c.Seen.Contains(i)));
}
