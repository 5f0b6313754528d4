using System.Numerics;

namespace Segmentation.Bench.Measurement;

/// <summary>
/// A high-dynamic-range latency histogram in the manner of HdrHistogram: log-linear buckets that keep three
/// significant decimal digits (relative error ≤ 1/1024) from 1 ns to hours, in a fixed 36k-slot array.
/// <see cref="Record"/> is lock-free and may be called from many threads; reads are for after the run.
/// </summary>
public sealed class LatencyHistogram
{
    // Values below 2^SubBucketBits are counted exactly; above, each power of two is split into 2^(SubBucketBits-1)
    // equal slots, so a slot's width is at most 1/1024 of its values.
    private const int SubBucketBits = 11;
    private const int SubBucketCount = 1 << SubBucketBits;
    private const int HalfCount = SubBucketCount / 2;
    private const int MaxShift = 63 - SubBucketBits + 1;

    private readonly long[] _counts = new long[SubBucketCount + (MaxShift * HalfCount)];
    private long _total;
    private long _max;
    private double _sum;

    /// <summary>Values recorded.</summary>
    public long Count => Interlocked.Read(ref _total);

    /// <summary>The largest value recorded, exactly (nanoseconds).</summary>
    public long Max => Interlocked.Read(ref _max);

    /// <summary>The mean (nanoseconds).</summary>
    public double Mean => Count == 0 ? 0 : Volatile.Read(ref _sum) / Count;

    /// <summary>Records one latency in nanoseconds (negative values count as 0).</summary>
    public void Record(long nanoseconds)
    {
        var value = Math.Max(0, nanoseconds);
        Interlocked.Increment(ref _counts[IndexOf(value)]);
        Interlocked.Increment(ref _total);
        long seen;
        while (value > (seen = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, value, seen) != seen)
        {
        }

        double sum, updated;
        do
        {
            sum = Volatile.Read(ref _sum);
            updated = sum + value;
        }
        while (Interlocked.CompareExchange(ref _sum, updated, sum) != sum);
    }

    /// <summary>Adds every count of <paramref name="other"/> to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        _total += other._total;
        _max = Math.Max(_max, other._max);
        _sum += other._sum;
    }

    /// <summary>
    /// The value at quantile <paramref name="q"/> (0..1], in nanoseconds: the highest value equivalent to the bucket
    /// that holds the ⌈q·N⌉-th smallest value (never more than the true maximum). 0 when empty.
    /// </summary>
    public long ValueAt(double q)
    {
        var total = Count;
        if (total == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(Math.Clamp(q, 0, 1) * total));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(HighestEquivalent(i), Max);
            }
        }

        return Max;
    }

    /// <summary>The value at quantile <paramref name="q"/> in milliseconds.</summary>
    public double Milliseconds(double q) => ValueAt(q) / 1e6;

    internal static int IndexOf(long value)
    {
        if (value < SubBucketCount)
        {
            return (int)value;
        }

        // The top SubBucketBits bits of the value select the slot within its power of two.
        var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - (SubBucketBits - 1);
        var top = (int)(value >> shift); // in [HalfCount, SubBucketCount)
        return SubBucketCount + ((shift - 1) * HalfCount) + (top - HalfCount);
    }

    internal static long HighestEquivalent(int index)
    {
        if (index < SubBucketCount)
        {
            return index;
        }

        var shift = ((index - SubBucketCount) / HalfCount) + 1;
        long top = ((index - SubBucketCount) % HalfCount) + HalfCount;
        return ((top + 1) << shift) - 1;
    }
}
