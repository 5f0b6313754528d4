using Segmentation.Core.Recommendations;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// <see cref="PopularCandidates"/>: its selection chooses the items a <see cref="TopK{T}"/> keeps (ties at the cut
/// included), and <see cref="PersonalPopularity"/> built on it answers what its definition says: her categories' best
/// and everyone's best per key, relative to each list's leader, best over the keys, re-weighed by her shares.
/// </summary>
public sealed class PopularCandidatesTests
{
    private static readonly DateTimeOffset s_now = new(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly RecommendationReason s_reason = new(ReasonKind.PopularInSegment, "");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ChooseBest_ChoosesTheItemsATopKKeeps(int seed)
    {
        // Few distinct scores, so that many items tie at the cut, some only below ranking precision; absent items,
        // NaN, zeros of both signs and infinities among them.
        var random = new Random(seed);
        double[] scores = [0.5, 0.5 * (1 + 1e-14), 0.25, 1, 3, 0, -0.0, -2, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.125];
        for (var round = 0; round < 50; round++)
        {
            var n = random.Next(0, 120);
            var found = new PopularCandidates();
            var given = new double?[n];
            for (var i = 0; i < n; i++)
            {
                var id = $"item-{random.Next(1_000_000):D7}-{i}";
                found.Add(id, PopularCandidates.HashOf(id), 1, s_reason, null, narrowed: false);
                given[i] = random.Next(6) == 0 ? null : scores[random.Next(scores.Length)];
            }

            var items = found.Items.ToArray();
            foreach (var count in new[] { 0, 1, random.Next(1, n + 2), n - 1, n, n + 1 })
            {
                var keys = found.Keys;
                for (var i = 0; i < n; i++)
                {
                    keys[i] = given[i] is { } score ? PopularCandidates.KeyOf(score) : PopularCandidates.Absent;
                }

                var chosen = found.ChooseBest(count).ToArray();

                var top = new TopK<int>(count);
                for (var i = 0; i < n; i++)
                {
                    if (given[i] is { } score)
                    {
                        top.Offer(items[i].Id, score, i);
                    }
                }

                var kept = top.Drain().Select(e => e.Value).ToHashSet();
                Assert.Equal(Enumerable.Range(0, n).Select(kept.Contains), chosen);
            }
        }
    }

    [Fact]
    public void KthLargest_IsTheKthOfTheKeysSorted()
    {
        var random = new Random(7);
        for (var round = 0; round < 500; round++)
        {
            var keys = Enumerable.Range(0, random.Next(1, 200)).Select(_ => (long)random.Next(-5, 20)).ToArray();
            // Sorted and reversed runs too: the walks hand over their items about best first.
            if (round % 3 == 1)
            {
                Array.Sort(keys);
            }
            else if (round % 3 == 2)
            {
                Array.Sort(keys, (a, b) => b.CompareTo(a));
            }

            var k = random.Next(1, keys.Length + 1);
            var expected = keys.OrderByDescending(x => x).ElementAt(k - 1);

            Assert.Equal(expected, PopularCandidates.KthLargest(keys.ToArray(), k));
        }
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 12)]
    [InlineData(3, 40)]
    [InlineData(4, 3)]
    public void PersonalPopularity_AnswersItsDefinition_TiesIncluded(int seed, int count)
    {
        // Counts without decay (exact integers), few of them, so that items tie within and across keys.
        var random = new Random(seed);
        var catalog = new ItemCatalog();
        var popularity = new SegmentPopularity(catalog, halfLife: null);
        string[] categories = ["sports.running", "sports.bikes", "home.kitchen", "books", "toys", ""];
        string[] keys = ["ml:1", "lifecycle:active", SegmentPopularity.Everyone];
        for (var i = 0; i < 150; i++)
        {
            var item = $"item-{i:D3}";
            catalog.Observe(item, categories[random.Next(categories.Length)]);
            for (var n = random.Next(1, 5); n > 0; n--)
            {
                string[] under = random.Next(3) switch { 0 => ["ml:1", SegmentPopularity.Everyone], 1 => ["lifecycle:active", SegmentPopularity.Everyone], _ => [SegmentPopularity.Everyone] };
                popularity.Record(under, new Interaction(item, EventType.View, s_now));
            }
        }

        var rejected = Enumerable.Range(0, 150).Where(_ => random.Next(6) == 0).Select(i => $"item-{i:D3}").ToHashSet(StringComparer.Ordinal);
        bool Allowed(string item) => !rejected.Contains(item);
        var source = new PersonalPopularity(popularity, catalog, new PersonalRanking());
        foreach (CategoryAffinity[] affinities in (CategoryAffinity[][])[
            [new("sports", 3, 0.6), new("home", 2, 0.3), new("books", 1, 0.1)],
            [new("toys", 1, 0.8), new("home.kitchen", 1, 0.2)],
            [new("books", 1, 1)]])
        {
            var request = new RecommendationRequest { Now = s_now, SegmentKeys = ["ml:1", "lifecycle:active"], CategoryAffinities = affinities };

            var sorted = source.GetCandidates(request, count, Allowed);
            var rented = ((IUnorderedCandidateSource)source).GetUnorderedCandidates(request, count, Allowed);
            var unordered = rented.ToArray();
            RentedCandidates.Return(rented);

            var expected = Defined(popularity, catalog, keys, affinities, count, Allowed);
            Assert.Equal(Describe(expected), Describe(sorted));
            Assert.Equal(Describe(expected), Describe(unordered));
            Assert.Equal(expected.Select(c => c.ItemId), sorted.Select(c => c.ItemId));
        }
    }

    // PersonalPopularity as its documentation defines it, from each key's items and values (every key's ranking is
    // fresh, and holds all its items): per key, its best `count` allowed items and the best `count` of those in her top
    // categories, each scored relative to its list's best and weighed by the key (everyone's by half); each item's best
    // score over the keys in each list, the first key naming the reason on a tie; each list's best `count`; then her
    // categories' items with their score among hers, the others with theirs among everyone's, times her share of the
    // item's category over her top one's (at least 0.1): the best `count`, best first.
    private static List<Candidate> Defined(
        SegmentPopularity popularity, ItemCatalog catalog, string[] keys, CategoryAffinity[] affinities, int count, Func<string, bool> allowed)
    {
        var top = affinities.Take(new PersonalRanking().TopCategories).ToArray();
        double Share(string item) => top.FirstOrDefault(a => ItemCatalog.IsIn(catalog.CategoryOf(item), a.Category))?.Share ?? 0;
        var all = new Dictionary<string, (double Score, RecommendationReason Reason)>(StringComparer.Ordinal);
        var hers = new Dictionary<string, (double Score, RecommendationReason Reason)>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var reason = new RecommendationReason(ReasonKind.PopularInSegment, key);
            var weight = key == SegmentPopularity.Everyone ? 0.5 : 1;
            var items = popularity.ItemsOf(key, s_now).Where(p => allowed(p.Key)).ToList();
            Keep(all, Best(items, count), weight, reason);
            Keep(hers, Best(items.Where(p => Share(p.Key) > 0), count), weight, reason);
        }

        var leader = top[0].Share;
        var offered = new Dictionary<string, (double Score, RecommendationReason Reason)>(StringComparer.Ordinal);
        foreach (var list in new[] { hers, all })
        {
            foreach (var (item, (score, reason)) in Best(list.Select(p => new KeyValuePair<string, double>(p.Key, p.Value.Score)), count).Select(p => (p.Key, list[p.Key])))
            {
                offered.TryAdd(item, (score * Math.Max(Share(item) / leader, PersonalPopularity.OutsideWeight), reason));
            }
        }

        return [.. Best(offered.Select(p => new KeyValuePair<string, double>(p.Key, p.Value.Score)), count).Select(p => new Candidate(p.Key, p.Value, offered[p.Key].Reason))];

        static void Keep(Dictionary<string, (double Score, RecommendationReason Reason)> best, List<KeyValuePair<string, double>> ranked, double weight, RecommendationReason reason)
        {
            foreach (var (item, value) in ranked)
            {
                var score = weight * value / ranked[0].Value;
                if (!best.TryGetValue(item, out var current) || score > current.Score)
                {
                    best[item] = (score, reason);
                }
            }
        }
    }

    // The best `count`, best first, in TopK's order: score at ranking precision descending, then id.
    private static List<KeyValuePair<string, double>> Best(IEnumerable<KeyValuePair<string, double>> scored, int count) =>
        [.. scored.OrderByDescending(p => TopK<byte>.Rank(p.Value)).ThenBy(p => p.Key, StringComparer.Ordinal).Take(count)];

    private static string[] Describe(IEnumerable<Candidate> candidates) =>
        [.. candidates.Select(c => FormattableString.Invariant($"{c.ItemId} {c.Score:G15} {c.Reason.Kind} {c.Reason.Cause}")).Order(StringComparer.Ordinal)];
}
