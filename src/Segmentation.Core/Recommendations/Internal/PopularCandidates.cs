using System.Runtime.InteropServices;

namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// The candidates of one <see cref="SegmentPopularity"/> query over the request's keys, each item once: its best score
/// over the keys in everyone's list (All) and in the narrower filter's list (Narrowed, her categories' items for
/// <see cref="PersonalPopularity"/>), each with the reason of the key that gave it, and, once <see cref="Select"/> ran,
/// whether it is among that list's best. Reused (cleared between queries); not thread-safe.
/// </summary>
/// <remarks>
/// Why one table and not a dictionary per list keyed by id, then a set to merge the two lists: a Recommend put about
/// 300 items through those dictionaries and 100 through the set, and each hashed the item's id (both dictionaries, the
/// two top-k lists drawn from them and the set were about 9 % of the miss's samples). Here an item is found by the hash
/// its key computed once when the item entered it (<see cref="HashOf"/>), and an item in both lists is one entry, so
/// PersonalPopularity reads each item once without a set.
/// </remarks>
internal sealed class PopularCandidates
{
    private readonly Dictionary<ItemKey, int> _index = [];
    private Item[] _items = new Item[128];
    private int _count;

    // One each per item: the keys of a selection, a copy it reorders, and its answer.
    private long[] _keys = new long[128];
    private long[] _work = new long[128];
    private bool[] _chosen = new bool[128];

    /// <summary>The items found so far, in no particular order; valid until the next <see cref="Add"/> or <see cref="Clear"/>.</summary>
    public ReadOnlySpan<Item> Items => _items.AsSpan(0, _count);

    /// <summary>The hash <see cref="Add"/> is given for <paramref name="id"/>: computed once per item and key, where the key holds the item.</summary>
    public static int HashOf(string id) => id.GetHashCode(StringComparison.Ordinal);

    /// <summary>
    /// Keeps <paramref name="score"/> for the item in one list (<paramref name="narrowed"/>) when the item is not in that
    /// list yet or the score is higher than the one kept (so the first key to give the best score names the reason).
    /// Its category is the first known one given (every one given is the catalog's: see SegmentPopularity's Held).
    /// </summary>
    public void Add(string id, int hash, double score, RecommendationReason reason, string? category, bool narrowed)
    {
        ref var index = ref CollectionsMarshal.GetValueRefOrAddDefault(_index, new ItemKey(id, hash), out var known);
        if (!known)
        {
            if (_count == _items.Length)
            {
                Grow();
            }

            index = _count;
            _items[_count++] = new Item { Id = id };
        }

        ref var item = ref _items[index];
        ref var listed = ref narrowed ? ref item.Narrowed : ref item.All;
        if (listed.Reason is null || score > listed.Score)
        {
            listed = new Listed(score, reason);
        }

        item.Category ??= category;
    }

    /// <summary>
    /// Marks each list's best <paramref name="count"/> items (<see cref="Item.InAll"/>, <see cref="Item.InNarrowed"/>), in
    /// the order <see cref="TopK{T}"/> keeps: score at ranking precision descending, then id.
    /// </summary>
    public void Select(int count)
    {
        SelectList(count, narrowed: false);
        SelectList(count, narrowed: true);
    }

    private void SelectList(int count, bool narrowed)
    {
        var items = _items.AsSpan(0, _count);
        var keys = Keys;
        for (var i = 0; i < items.Length; i++)
        {
            var listed = items[i].In(narrowed);
            keys[i] = listed.Reason is null ? Absent : KeyOf(listed.Score);
        }

        var chosen = ChooseBest(count);
        for (var i = 0; i < items.Length; i++)
        {
            items[i].Mark(narrowed, chosen[i]);
        }
    }

    /// <summary>The key of an item that is not a candidate (<see cref="ChooseBest"/>).</summary>
    public const long Absent = long.MinValue;

    /// <summary>
    /// One key per item (<see cref="KeyOf"/> of its score, or <see cref="Absent"/>) for <see cref="ChooseBest"/> to read;
    /// valid until the next <see cref="Add"/>.
    /// </summary>
    public Span<long> Keys => _keys.AsSpan(0, _count);

    /// <summary>
    /// A score at ranking precision (<see cref="TopK{T}.Rank"/>) as an integer that orders as <see cref="double.CompareTo(double)"/>
    /// orders ranks (NaN below every number, −0 and +0 tied), above <see cref="Absent"/>: the selection compares integers.
    /// </summary>
    public static long KeyOf(double score)
    {
        var rank = TopK<byte>.Rank(score);
        if (double.IsNaN(rank))
        {
            return Absent + 1;
        }

        if (rank == 0)
        {
            return 0;
        }

        // Positive doubles order as their bits; negative ones in reverse, so their magnitude bits are flipped.
        var bits = BitConverter.DoubleToInt64Bits(rank);
        return bits >= 0 ? bits : bits ^ long.MaxValue;
    }

    /// <summary>
    /// Which items are the best <paramref name="count"/> of those with a key in <see cref="Keys"/> (all of them when no
    /// more): greater key first, then smaller id, the order TopK keeps; valid until the next call.
    /// </summary>
    /// <remarks>
    /// Why not a TopK: its heap moved each entry (an id and a value: references, so through the write barrier) about
    /// log k times per item offered; the three selections of a Recommend's ~100 items each were ~6 % of the miss's
    /// samples. Here the k-th best key is found in a copy of the keys (quickselect), then each item is compared with it.
    /// </remarks>
    public ReadOnlySpan<bool> ChooseBest(int count)
    {
        var keys = Keys;
        var chosen = _chosen.AsSpan(0, _count);
        var candidates = _work.AsSpan(0, _count);
        var n = 0;
        foreach (var key in keys)
        {
            candidates[n] = key;
            n += key != Absent ? 1 : 0;
        }

        // Every key is above Absent, so when all are in, the cut is just above it.
        var cut = count <= 0 ? long.MaxValue : n <= count ? Absent + 1 : KthLargest(candidates[..n], count);
        var above = 0;
        var atCut = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            chosen[i] = keys[i] >= cut;
            above += keys[i] > cut ? 1 : 0;
            atCut += keys[i] == cut ? 1 : 0;
        }

        // Of the items at the cut, `count - above` are in (all of them, unless ids must break a tie).
        if (count > 0 && n > count && count - above < atCut)
        {
            ChooseTied(cut, count - above, chosen);
        }

        return chosen;
    }

    // Of the items at the cut, the `tiedIn` with the smallest ids (ordinal). Rare: it takes two scores equal to about 12
    // digits straddling the k-th place.
    private void ChooseTied(long cut, int tiedIn, Span<bool> chosen)
    {
        var tied = new List<string>();
        var keys = Keys;
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i] == cut)
            {
                tied.Add(_items[i].Id);
            }
        }

        tied.Sort(StringComparer.Ordinal);
        var last = tied[tiedIn - 1];
        for (var i = 0; i < keys.Length; i++)
        {
            chosen[i] = keys[i] > cut || (keys[i] == cut && string.CompareOrdinal(_items[i].Id, last) <= 0);
        }
    }

    // The `k`-th greatest of `keys` (1 ≤ k ≤ keys.Length), which it reorders: Hoare's selection, partitioning around
    // a middle pivot (the keys come about best first per key, where a first or last pivot would be the worst).
    internal static long KthLargest(Span<long> keys, int k)
    {
        var target = k - 1;
        var lo = 0;
        var hi = keys.Length - 1;
        while (lo < hi)
        {
            var pivot = keys[lo + ((hi - lo) / 2)];
            var i = lo;
            var j = hi;
            while (i <= j)
            {
                while (keys[i] > pivot)
                {
                    i++;
                }

                while (keys[j] < pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (keys[i], keys[j]) = (keys[j], keys[i]);
                    i++;
                    j--;
                }
            }

            // Now keys[lo..j] ≥ pivot ≥ keys[i..hi], and any between j and i equal the pivot.
            if (target <= j)
            {
                hi = j;
            }
            else if (target >= i)
            {
                lo = i;
            }
            else
            {
                return keys[target];
            }
        }

        return keys[target];
    }

    /// <summary>
    /// The selected items of one list as candidates, best first (<paramref name="sorted"/>) or in no particular order, in
    /// an array rented or of their own (<see cref="RentedCandidates"/>); rented ones carry the items' categories.
    /// </summary>
    public ArraySegment<Candidate> Candidates(int count, bool narrowed, bool sorted, bool rented)
    {
        // Appended, never offered: the list holds at most `count` selected items.
        var result = new TopK<(RecommendationReason, string?)>(count);
        foreach (ref readonly var item in Items)
        {
            if (narrowed ? item.InNarrowed : item.InAll)
            {
                var listed = item.In(narrowed);
                result.Append(item.Id, listed.Score, (listed.Reason!, item.Category));
            }
        }

        return result.DrainCandidates(rented ? s_candidateWithCategory : s_candidate, sorted, rented);
    }

    private static readonly Func<string, double, (RecommendationReason Reason, string? Category), Candidate> s_candidate =
        static (id, score, value) => new Candidate(id, score, value.Reason);

    private static readonly Func<string, double, (RecommendationReason Reason, string? Category), Candidate> s_candidateWithCategory =
        static (id, score, value) => new Candidate(id, score, value.Reason) { Category = value.Category };

    private void Grow()
    {
        Array.Resize(ref _items, 2 * _items.Length);
        _keys = new long[_items.Length];
        _work = new long[_items.Length];
        _chosen = new bool[_items.Length];
    }

    /// <summary>Empties the table (its items' references are dropped, so it keeps nothing alive between queries).</summary>
    public void Clear()
    {
        _items.AsSpan(0, _count).Clear();
        _count = 0;
        _index.Clear();
    }

    /// <summary>An item's score in one list and the reason of the key that gave it (null: not in the list).</summary>
    internal readonly record struct Listed(double Score, RecommendationReason? Reason);

    /// <summary>One item of the query: its place in each list, its category when a ranking read it.</summary>
    internal struct Item
    {
        public string Id;
        public Listed All;
        public Listed Narrowed;
        public string? Category;
        public bool InAll;
        public bool InNarrowed;

        public readonly Listed In(bool narrowed) => narrowed ? Narrowed : All;

        public void Mark(bool narrowed, bool selected)
        {
            if (narrowed)
            {
                InNarrowed = selected;
            }
            else
            {
                InAll = selected;
            }
        }
    }

    // An item's id with the hash its key computed: the dictionary compares the hashes first and the ids only when equal
    // (the same string when both came from one key, so that comparison is by reference).
    private readonly struct ItemKey(string id, int hash) : IEquatable<ItemKey>
    {
        private readonly string _id = id;
        private readonly int _hash = hash;

        public bool Equals(ItemKey other) => _hash == other._hash && string.Equals(_id, other._id, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is ItemKey other && Equals(other);

        public override int GetHashCode() => _hash;
    }
}
