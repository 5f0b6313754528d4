namespace Segmentation.Storage;

/// <summary>Turns "stream ids starting with a prefix" into a range an index on the stream id can answer.</summary>
public static class StreamPrefix
{
    /// <summary>
    /// The least string greater than every string that starts with <paramref name="prefix"/>, in code point (and so
    /// UTF-8 byte) order: the prefix with its last character raised by one, after dropping trailing U+FFFF characters;
    /// null when there is none (an empty prefix, or one of U+FFFF only), meaning no upper bound.
    /// </summary>
    /// <remarks>Meant for prefixes of ASCII or BMP characters outside the surrogate range, such as tenant keys (<c>tenant/</c>).</remarks>
    public static string? UpperBound(string prefix)
    {
        var end = prefix.Length;
        while (end > 0 && prefix[end - 1] == char.MaxValue)
        {
            end--;
        }

        return end == 0 ? null : string.Concat(prefix.AsSpan(0, end - 1), ((char)(prefix[end - 1] + 1)).ToString());
    }
}
