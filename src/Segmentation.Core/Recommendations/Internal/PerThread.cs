namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// One reusable <typeparamref name="T"/> per thread (a query's dictionaries and sets), taken out while in use and kept
/// again after: a query on the same thread inside another one (none today) finds none kept and makes its own, so two
/// never share one. Whoever keeps it again clears it first.
/// </summary>
internal static class PerThread<T>
    where T : class, new()
{
    [ThreadStatic]
    private static T? s_kept;

    /// <summary>This thread's kept one, or a new one; either way it is this caller's until <see cref="Keep"/>.</summary>
    public static T Take()
    {
        var taken = s_kept ?? new T();
        s_kept = null;
        return taken;
    }

    /// <summary>Keeps <paramref name="cleared"/> for this thread's next <see cref="Take"/>.</summary>
    public static void Keep(T cleared) => s_kept = cleared;
}
