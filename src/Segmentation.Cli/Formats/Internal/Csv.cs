namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// RFC 4180 field splitting for one line without copying: fields are ranges into the line. A field that starts with
/// a quote runs to the closing quote (commas and doubled quotes inside are data); a quote elsewhere is plain text.
/// Rows never span lines here (none of our formats has line breaks inside fields).
/// </summary>
internal static class Csv
{
    /// <summary>
    /// Splits <paramref name="line"/> at commas into <paramref name="fields"/> (raw text, quotes included) and returns
    /// the number of fields in the line, which may exceed <c>fields.Length</c> (the extra ones are not stored).
    /// </summary>
    public static int Split(ReadOnlySpan<char> line, Span<Range> fields) => Split(line, ',', fields);

    /// <summary>As <see cref="Split(ReadOnlySpan{char}, Span{Range})"/> with another separator (quotes are honoured).</summary>
    public static int Split(ReadOnlySpan<char> line, char separator, Span<Range> fields)
    {
        var count = 0;
        var i = 0;
        while (true)
        {
            var start = i;
            if (i < line.Length && line[i] == '"')
            {
                i = ClosingQuote(line, i + 1) + 1;
            }

            var next = i < line.Length ? line[i..].IndexOf(separator) : -1;
            var end = next < 0 ? line.Length : i + next;
            if (count < fields.Length)
            {
                fields[count] = start..end;
            }

            count++;
            if (next < 0)
            {
                return count;
            }

            i = end + 1;
        }
    }

    /// <summary>The field's value without its enclosing quotes; doubled quotes inside are left doubled (see <see cref="Text"/>).</summary>
    public static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> raw)
    {
        if (raw.Length == 0 || raw[0] != '"')
        {
            return raw;
        }

        return raw.Length >= 2 && raw[^1] == '"' ? raw[1..^1] : raw[1..];
    }

    /// <summary>The field's value as a string: enclosing quotes removed, doubled quotes collapsed.</summary>
    public static string Text(ReadOnlySpan<char> raw)
    {
        var value = Unquote(raw);
        return raw.Length > 0 && raw[0] == '"' && value.Contains("\"\"", StringComparison.Ordinal)
            ? value.ToString().Replace("\"\"", "\"", StringComparison.Ordinal)
            : value.ToString();
    }

    /// <summary>Index of the quote that closes a quoted field whose content starts at <paramref name="from"/>; the line's end if unterminated.</summary>
    private static int ClosingQuote(ReadOnlySpan<char> line, int from)
    {
        var i = from;
        while (i < line.Length)
        {
            var quote = line[i..].IndexOf('"');
            if (quote < 0)
            {
                return line.Length;
            }

            i += quote;
            if (i + 1 < line.Length && line[i + 1] == '"')
            {
                i += 2; // An escaped quote inside the field.
                continue;
            }

            return i;
        }

        return line.Length;
    }
}
