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

    /// <summary>The pooled copy of <paramref name="value"/> (itself, if it is the one pooled).</summary>
    public static string Share(string value) => value.Length == 0 ? "" : s_pool.GetOrAdd(value);

    /// <summary>The pooled copy of <paramref name="value"/>, allocated only when it is not pooled yet.</summary>
    public static string Share(ReadOnlySpan<char> value) => value.IsEmpty ? "" : s_pool.GetOrAdd(value);
}
