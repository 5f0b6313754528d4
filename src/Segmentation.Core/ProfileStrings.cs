using CommunityToolkit.HighPerformance.Buffers;

namespace Segmentation.Core;

/// <summary>
/// One copy of each item id and category path that live profiles hold. Every event decodes fresh strings, and a
/// profile keeps them for as long as she stays active (her recent items, history, purchases and category paths), so
/// without sharing a million live users hold a million copies of "sku-00042" and "home.kitchen".
/// </summary>
/// <remarks>
/// A bounded, lossy pool (CommunityToolkit's <see cref="StringPool"/>): when it is full an older entry makes room, and a
/// string that was pushed out is simply held by its profiles as a copy of its own. So a catalogue larger than the pool,
/// or a stream of made-up ids, costs at most the pool's fixed size, never unbounded memory; only the sharing degrades.
/// Thread-safe.
/// </remarks>
public static class ProfileStrings
{
    // 65,536 strings of ~20 characters: about 4 MB when full.
    private static readonly StringPool s_pool = new(65_536);

    // A lock-free front for the pool, which locks one of its buckets on every lookup: every ingested event shares its
    // item id and category paths, and the ingesting grains contended on those locks. A slot holds the last shared string
    // whose hash fell on it; a miss (another string, or a race that overwrote the slot) goes to the pool and takes the
    // slot. Reference reads and writes are atomic, so a reader sees a whole earlier string or null, never a torn one.
    // It keeps at most 4,096 strings alive beyond the pool's (one pushed out of the pool stays shared from here until
    // its slot is taken).
    private static readonly string?[] s_recent = new string?[4_096];

    /// <summary>The pooled copy of <paramref name="value"/> (itself, if it is the one pooled).</summary>
    public static string Share(string value)
    {
        if (value.Length == 0)
        {
            return "";
        }

        ref var slot = ref s_recent[value.GetHashCode() & (s_recent.Length - 1)];
        if (Volatile.Read(ref slot) is { } recent && string.Equals(recent, value, StringComparison.Ordinal))
        {
            return recent;
        }

        var shared = s_pool.GetOrAdd(value);
        Volatile.Write(ref slot, shared);
        return shared;
    }

    /// <summary>The pooled copy of <paramref name="value"/>, allocated only when it is not pooled yet.</summary>
    public static string Share(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            return "";
        }

        ref var slot = ref s_recent[string.GetHashCode(value) & (s_recent.Length - 1)];
        if (Volatile.Read(ref slot) is { } recent && value.SequenceEqual(recent))
        {
            return recent;
        }

        var shared = s_pool.GetOrAdd(value);
        Volatile.Write(ref slot, shared);
        return shared;
    }
}
