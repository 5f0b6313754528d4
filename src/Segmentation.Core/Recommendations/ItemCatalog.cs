using System.Collections.Concurrent;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// What the recommenders know about items: which exist (an item is known once any event names it) and their dotted
/// category path, learned from events ("home.kitchen.mugs"). Thread-safe; the last non-empty category observed wins.
/// </summary>
public sealed class ItemCatalog
{
    private readonly ConcurrentDictionary<string, string> _categories = new(StringComparer.Ordinal);
    private long _categoryChanges;

    /// <summary>Remembers <paramref name="itemId"/> and its category (an empty category keeps the one known).</summary>
    public void Observe(string itemId, string category)
    {
        if (string.IsNullOrEmpty(itemId))
        {
            return;
        }

        // Lock-free reads first: almost every event names an item already known with the same category, and the
        // dictionary's writes (even TryAdd of a present key) take a bucket lock that every ingesting grain contends on.
        if (_categories.TryGetValue(itemId, out var known) && (category.Length == 0 || string.Equals(known, category, StringComparison.Ordinal)))
        {
            return;
        }

        if (string.IsNullOrEmpty(category))
        {
            _categories.TryAdd(itemId, "");
        }
        else
        {
            _categories[itemId] = category;
            if (known is not null)
            {
                // Counted after the write: whoever reads the new count reads the new category too.
                Interlocked.Increment(ref _categoryChanges);
            }
        }
    }

    /// <summary>
    /// How many times a known item's category has changed (not counting items first named): what was derived from
    /// categories read at a count is still true while the count is the same (<see cref="SegmentPopularity"/>'s
    /// per-category rankings).
    /// </summary>
    public long CategoryChanges => Interlocked.Read(ref _categoryChanges);

    /// <summary>Whether any event named <paramref name="itemId"/>.</summary>
    public bool Contains(string itemId) => _categories.ContainsKey(itemId);

    /// <summary>Items known.</summary>
    public int Count => _categories.Count;

    /// <summary>The category of <paramref name="itemId"/>, or "" when unknown.</summary>
    public string CategoryOf(string itemId) => _categories.TryGetValue(itemId, out var c) ? c : "";

    /// <summary>
    /// Whether <paramref name="category"/> equals <paramref name="prefix"/> or lies under it on a dot boundary
    /// ("home.kitchen.mugs" is in "home.kitchen" and "home", not in "home.kit").
    /// </summary>
    public static bool IsIn(string category, string prefix) =>
        prefix.Length == 0 ||
        (category.StartsWith(prefix, StringComparison.Ordinal) && (category.Length == prefix.Length || category[prefix.Length] == '.'));

    /// <summary>The first <paramref name="depth"/> levels of <paramref name="category"/> ("home.kitchen.mugs", 1 → "home").</summary>
    public static string Truncate(string category, int depth)
    {
        var end = -1;
        for (var level = 0; level < depth; level++)
        {
            end = category.IndexOf('.', end + 1);
            if (end < 0)
            {
                return category;
            }
        }

        return category[..end];
    }
}
