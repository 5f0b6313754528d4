using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// Keeps the best k of a stream of (id, score, value) with a bounded min-heap: O(n log k). "Best" is score
/// descending, then id ascending (ordinal), so results are deterministic whatever the input order. Scores are compared
/// at <see cref="Rank"/>'s precision, so sums that are equal but were added in another order tie and fall to the id.
/// Not thread-safe.
/// </summary>
/// <remarks>
/// The heap is an array rented from <see cref="ArrayPool{T}.Shared"/> and given back by <see cref="Drain()"/>: a
/// Recommend makes about ten of these (every source, and every popularity key a source walks), and a heap allocated
/// per use was the largest share of the bytes a call allocated. Each entry holds its score at ranking precision, so a
/// comparison does not round it again. A collector that is never drained only leaves its array to the collector.
/// </remarks>
internal sealed class TopK<T>
{
    private readonly int _k;
    private Entry[] _heap;
    private int _count;

    // Filled by Append: the entries are not a heap (Offer refuses).
    private bool _unordered;

    public TopK(int k)
    {
        _k = Math.Max(0, k);
        _heap = _k == 0 ? [] : ArrayPool<Entry>.Shared.Rent(Math.Min(_k, 1024));
    }

    /// <summary>How many items are kept now.</summary>
    public int Count => _count;

    /// <summary>
    /// The rank (<see cref="Rank"/>) an item must reach to enter now: its worst entry's when full; −∞ while it has room
    /// (and for k = 0, where nothing enters: <see cref="Offer"/> checks that).
    /// </summary>
    public double WorstRank => _count < _k || _count == 0 ? double.NegativeInfinity : _heap[0].Rank;

    /// <summary>Whether an item with <paramref name="score"/> could still enter (cheap pre-check before building its value).</summary>
    /// <remarks>Inlined: the item model asks it of each of its ~3,000 scores a call, and the call was most of the cost.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Admits(double score) => _count < _k || (_count > 0 && Rank(score) >= _heap[0].Rank);

    /// <summary>
    /// A score as ranked: rounded to 40 of a double's 52 fraction bits (about 12 significant digits). The learned
    /// scores are sums of decayed counts whose last bits depend on the order the events arrived in; rounding them away
    /// makes a ranking a function of the events (up to a tie straddling a rounding boundary, about 1 in 4,000).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Rank(double score)
    {
        if (!double.IsFinite(score))
        {
            return score;
        }

        const long half = 1L << 11;
        const long mask = ~((1L << 12) - 1);
        return BitConverter.Int64BitsToDouble((BitConverter.DoubleToInt64Bits(score) + half) & mask);
    }

    public void Offer(string id, double score, T value)
    {
        if (_k == 0)
        {
            return;
        }

        if (_unordered)
        {
            ThrowOfferedAfterAppend();
        }

        var entry = new Entry(id, score, Rank(score), value);
        if (_count < _k)
        {
            if (_count == _heap.Length)
            {
                Grow();
            }

            // Sift up from the new leaf.
            var i = _count++;
            while (i > 0)
            {
                var parent = (i - 1) / 2;
                if (!IsWorse(entry, _heap[parent]))
                {
                    break;
                }

                _heap[i] = _heap[parent];
                i = parent;
            }

            _heap[i] = entry;
        }
        else if (IsWorse(_heap[0], entry))
        {
            // Full: the new entry takes the worst one's place at the root and sinks.
            var i = 0;
            while (true)
            {
                var child = (2 * i) + 1;
                if (child >= _count)
                {
                    break;
                }

                if (child + 1 < _count && IsWorse(_heap[child + 1], _heap[child]))
                {
                    child++;
                }

                if (!IsWorse(_heap[child], entry))
                {
                    break;
                }

                _heap[i] = _heap[child];
                i = child;
            }

            _heap[i] = entry;
        }
    }

    /// <summary>
    /// Keeps an item without ordering the heap, for a caller that offers at most k items (so none is ever pushed out)
    /// and reads them through <see cref="Unordered"/>, <see cref="Sorted"/> or a drain: popularity's walks, which meet
    /// their items best first, so that each one offered sank to the root of the min-heap, moving about log k entries
    /// (and their references, through the write barrier) per item. A collector appended to takes no <see cref="Offer"/>.
    /// </summary>
    public void Append(string id, double score, T value)
    {
        if (_count >= _k)
        {
            ThrowFull();
        }

        if (_count == _heap.Length)
        {
            Grow();
        }

        _unordered = true;
        _heap[_count++] = new Entry(id, score, Rank(score), value);
    }

    [DoesNotReturn]
    private static void ThrowFull() => throw new InvalidOperationException("TopK.Append: already holds k items");

    [DoesNotReturn]
    private static void ThrowOfferedAfterAppend() => throw new InvalidOperationException("TopK.Offer after Append: the heap is not ordered");

    /// <summary>The kept items, best first. Empties the collector.</summary>
    public List<(string Id, double Score, T Value)> Drain()
    {
        var kept = SortedInPlace();
        var result = new List<(string, double, T)>(kept.Length);
        foreach (var e in kept)
        {
            result.Add((e.Id, e.Score, e.Value));
        }

        Release();
        return result;
    }

    /// <summary>The kept items, best first, each made by <paramref name="map"/> (id, score, value). Empties the collector.</summary>
    public TResult[] Drain<TResult>(Func<string, double, T, TResult> map) => DrainAs(SortedInPlace(), map);

    /// <summary>
    /// The kept items, best first, read in place: valid until <see cref="Release"/>, which the caller owes (a collector
    /// read this way allocates nothing of its own).
    /// </summary>
    public ReadOnlySpan<Entry> Sorted() => SortedInPlace();

    /// <summary>
    /// The kept items in no particular order, read in place: valid until <see cref="Release"/>, which the caller owes.
    /// For a caller that needs the set (and at most its best entry), not the order: it spares the sort.
    /// </summary>
    public ReadOnlySpan<Entry> Unordered() => _heap.AsSpan(0, _count);

    /// <summary>The kept items in no particular order, each made by <paramref name="map"/>. Empties the collector.</summary>
    public TResult[] DrainUnordered<TResult>(Func<string, double, T, TResult> map) => DrainAs(Unordered(), map);

    /// <summary>
    /// The kept candidates, best first (<paramref name="sorted"/>) or in no particular order, each made by
    /// <paramref name="map"/>, into an array rented (<see cref="RentedCandidates"/>) or of their own. Empties the collector.
    /// </summary>
    public ArraySegment<Candidate> DrainCandidates(Func<string, double, T, Candidate> map, bool sorted, bool rented)
    {
        var kept = sorted ? SortedInPlace() : _heap.AsSpan(0, _count);
        var result = RentedCandidates.Make(kept.Length, rented);
        for (var i = 0; i < kept.Length; i++)
        {
            result[i] = map(kept[i].Id, kept[i].Score, kept[i].Value);
        }

        Release();
        return result;
    }

    // `kept` (this collector's heap, in the order wanted) mapped, then the collector emptied.
    private TResult[] DrainAs<TResult>(ReadOnlySpan<Entry> kept, Func<string, double, T, TResult> map)
    {
        var result = kept.Length == 0 ? [] : new TResult[kept.Length];
        for (var i = 0; i < kept.Length; i++)
        {
            result[i] = map(kept[i].Id, kept[i].Score, kept[i].Value);
        }

        Release();
        return result;
    }

    /// <summary>Gives the heap back to the pool and empties the collector.</summary>
    public void Release()
    {
        Return(_heap, _count);
        _heap = [];
        _count = 0;
        _unordered = false;
    }

    // Worse: a lower score at ranking precision, or the same and a later id.
    private static bool IsWorse(in Entry a, in Entry b)
    {
        var c = a.Rank.CompareTo(b.Rank);
        return c != 0 ? c < 0 : string.CompareOrdinal(a.Id, b.Id) > 0;
    }

    private Span<Entry> SortedInPlace()
    {
        // By Entry's own order (better first): the runtime's sort then calls CompareTo directly, inlined, instead of
        // a delegate per comparison (about a tenth of the miss's samples sort ~50 entries in one of these).
        var kept = _heap.AsSpan(0, _count);
        kept.Sort();
        return kept;
    }

    private void Grow()
    {
        var larger = ArrayPool<Entry>.Shared.Rent(Math.Min(_k, Math.Max(16, 2 * _heap.Length)));
        _heap.AsSpan(0, _count).CopyTo(larger);
        Return(_heap, _count);
        _heap = larger;
    }

    // Back to the pool without the ids and values it held (they would otherwise stay reachable from the pool).
    private static void Return(Entry[] array, int used)
    {
        if (array.Length > 0)
        {
            array.AsSpan(0, used).Clear();
            ArrayPool<Entry>.Shared.Return(array);
        }
    }

    /// <summary>
    /// A kept item: its id, score, the score at ranking precision, and its value. Ordered better first: score
    /// descending at ranking precision, then id ascending (ordinal), the order <see cref="Drain()"/> returns; a
    /// collector's ids are distinct, so the order is total.
    /// </summary>
    internal readonly record struct Entry(string Id, double Score, double Rank, T Value) : IComparable<Entry>
    {
        public int CompareTo(Entry other)
        {
            var c = other.Rank.CompareTo(Rank);
            return c != 0 ? c : string.CompareOrdinal(Id, other.Id);
        }
    }
}
