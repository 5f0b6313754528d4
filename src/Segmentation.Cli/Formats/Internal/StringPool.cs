namespace Segmentation.Cli.Formats.Internal;

/// <summary>Turns the text of a field into the string an event keeps.</summary>
internal delegate string FieldText(ReadOnlySpan<char> raw);

/// <summary>
/// Reuses one string per distinct field text for low-cardinality columns (countries, categories, stock codes), so a
/// file of millions of rows does not allocate millions of equal strings. Bounded: once full, new texts are converted
/// but not kept. Not thread-safe: one instance per file being read.
/// </summary>
internal sealed class StringPool
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;
    private readonly FieldText _convert;

    /// <param name="capacity">Most distinct texts kept.</param>
    /// <param name="convert">How a raw field becomes the kept string (for example unquoting, lower-casing).</param>
    public StringPool(int capacity, FieldText convert)
    {
        _capacity = capacity;
        _convert = convert;
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The converted string for <paramref name="raw"/>.</summary>
    public string Get(ReadOnlySpan<char> raw)
    {
        if (raw.IsEmpty)
        {
            return _convert(raw);
        }

        if (_lookup.TryGetValue(raw, out var value))
        {
            return value;
        }

        value = _convert(raw);
        if (_strings.Count < _capacity)
        {
            _lookup[raw] = value;
        }

        return value;
    }
}

/// <summary>
/// Reuses the previous row's string when a field repeats on consecutive rows (the customer of an invoice, the user of
/// a sorted log) without the cost of a table. Not thread-safe.
/// </summary>
internal sealed class RecentString(FieldText convert)
{
    private readonly FieldText _convert = convert;
    private string _raw = "";
    private string _value = "";

    /// <summary>The converted string for <paramref name="raw"/>.</summary>
    public string Get(ReadOnlySpan<char> raw)
    {
        if (!raw.SequenceEqual(_raw) || _raw.Length == 0)
        {
            _raw = raw.ToString();
            _value = _convert(raw);
        }

        return _value;
    }
}
