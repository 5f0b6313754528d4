using System.Collections.Concurrent;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// What the recommenders know about items: their dotted category path, learned from events ("home.kitchen.mugs").
/// Thread-safe; the last category observed for an item wins.
/// </summary>
public sealed class ItemCatalog
{
    private readonly ConcurrentDictionary<string, string> _categories = new(StringComparer.Ordinal);

    /// <summary>Remembers the category of <paramref name="itemId"/> (an empty category is ignored).</summary>
    public void Observe(string itemId, string category)
    {
        if (!string.IsNullOrEmpty(itemId) && !string.IsNullOrEmpty(category))
        {
            _categories[itemId] = category;
        }
    }

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
