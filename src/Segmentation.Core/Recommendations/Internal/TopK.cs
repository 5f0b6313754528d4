namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// Keeps the best k of a stream of (id, score, value) with a bounded min-heap: O(n log k). "Best" is score
/// descending, then id ascending (ordinal), so results are deterministic whatever the input order. Scores are compared
/// at <see cref="Rank"/>'s precision, so sums that are equal but were added in another order tie and fall to the id.
/// Not thread-safe.
/// </summary>
internal sealed class TopK<T>
{
    private static readonly Comparer<(double Score, string Id)> s_worseFirst = Comparer<(double Score, string Id)>.Create(static (a, b) =>
    {
        var c = Rank(a.Score).CompareTo(Rank(b.Score));
        return c != 0 ? c : string.CompareOrdinal(b.Id, a.Id);
    });

    private readonly PriorityQueue<(string Id, double Score, T Value), (double Score, string Id)> _heap;
    private readonly int _k;

    public TopK(int k)
    {
        _k = Math.Max(0, k);
        _heap = new PriorityQueue<(string, double, T), (double, string)>(Math.Min(_k, 1024) + 1, s_worseFirst);
    }

    /// <summary>Whether an item with <paramref name="score"/> could still enter (cheap pre-check before building its value).</summary>
    public bool Admits(double score) => _heap.Count < _k || (_heap.TryPeek(out _, out var worst) && Rank(score) >= Rank(worst.Score));

    /// <summary>
    /// A score as ranked: rounded to 40 of a double's 52 fraction bits (about 12 significant digits). The learned
    /// scores are sums of decayed counts whose last bits depend on the order the events arrived in; rounding them away
    /// makes a ranking a function of the events (up to a tie straddling a rounding boundary, about 1 in 4,000).
    /// </summary>
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

        var priority = (score, id);
        if (_heap.Count < _k)
        {
            _heap.Enqueue((id, score, value), priority);
        }
        else if (_heap.TryPeek(out _, out var worst) && s_worseFirst.Compare(priority, worst) > 0)
        {
            _heap.EnqueueDequeue((id, score, value), priority);
        }
    }

    /// <summary>The kept items, best first. Empties the collector.</summary>
    public List<(string Id, double Score, T Value)> Drain()
    {
        var result = new List<(string, double, T)>(_heap.Count);
        while (_heap.TryDequeue(out var item, out _))
        {
            result.Add(item);
        }

        result.Reverse();
        return result;
    }
}
