using System.Globalization;
using Google.Protobuf.WellKnownTypes;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// Culture-invariant parsing of the fields our formats carry. A field that does not parse gives the value the server
/// rejects (see each method), never an exception: the server is the one judge of validity.
/// </summary>
internal static class FieldParsers
{
    /// <summary>An integer; 0 when empty or not a number (quantities: the server requires >= 1 where they matter).</summary>
    public static int Int32OrZero(ReadOnlySpan<char> text) =>
        int.TryParse(text, NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : 0;

    /// <summary>Whether <paramref name="text"/> is an integer (surrounding blanks allowed).</summary>
    public static bool IsInteger(ReadOnlySpan<char> text) =>
        long.TryParse(text, NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);

    /// <summary>A price; 0 ("unknown") when empty, NaN when not a number so that the server rejects the row rather than storing a made-up price.</summary>
    public static double PriceOrNaN(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text.IsEmpty)
        {
            return 0;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : double.NaN;
    }

    /// <summary>A rating; 0 ("not given", which the server rejects for rating events) when not a number.</summary>
    public static double RatingOrZero(ReadOnlySpan<char> text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : 0;

    /// <summary>
    /// Seconds since the Unix epoch, passed on as they are (the server rejects times out of range); null when not an
    /// integer (the event then has no timestamp, which the server rejects).
    /// </summary>
    public static Timestamp? UnixSeconds(ReadOnlySpan<char> text) =>
        long.TryParse(text, NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds)
            ? new Timestamp { Seconds = seconds }
            : null;

    /// <summary>
    /// <c>M/d/yy H:mm</c> as in the UCI file (also <c>M/d/yyyy</c> and <c>:ss</c>, as other exports of it write);
    /// a two-digit year is 20yy. The result has <see cref="DateTimeKind.Unspecified"/> (local time of the source).
    /// </summary>
    public static bool TryMonthDayYear(ReadOnlySpan<char> text, out DateTime value)
    {
        value = default;
        var reader = new DigitReader(text.Trim());
        if (!reader.Number(out var month) || !reader.Skip('/') || !reader.Number(out var day) || !reader.Skip('/')
            || !reader.Number(out var year, out var yearDigits) || !reader.Skip(' ') || !reader.Number(out var hour)
            || !reader.Skip(':') || !reader.Number(out var minute))
        {
            return false;
        }

        var second = 0;
        if (!reader.AtEnd && (!reader.Skip(':') || !reader.Number(out second)))
        {
            return false;
        }

        year = yearDigits switch
        {
            2 => 2000 + year,
            4 => year,
            _ => -1,
        };
        return reader.AtEnd && TryCreate(year, month, day, hour, minute, second, DateTimeKind.Unspecified, out value);
    }

    /// <summary><c>yyyy-MM-dd HH:mm:ss</c> with an optional <c> UTC</c> suffix (REES46), read as UTC.</summary>
    public static bool TryIsoUtc(ReadOnlySpan<char> text, out DateTime value)
    {
        value = default;
        text = text.Trim();
        if (text.EndsWith(" UTC", StringComparison.Ordinal))
        {
            text = text[..^4];
        }

        var reader = new DigitReader(text);
        return reader.Number(out var year) && reader.Skip('-') && reader.Number(out var month) && reader.Skip('-')
            && reader.Number(out var day) && (reader.Skip(' ') || reader.Skip('T')) && reader.Number(out var hour)
            && reader.Skip(':') && reader.Number(out var minute) && reader.Skip(':') && reader.Number(out var second)
            && reader.AtEnd && TryCreate(year, month, day, hour, minute, second, DateTimeKind.Utc, out value);
    }

    private static bool TryCreate(int year, int month, int day, int hour, int minute, int second, DateTimeKind kind, out DateTime value)
    {
        value = default;
        if (year is < 1 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour is < 0 or > 23 || minute is < 0 or > 59 || second is < 0 or > 59)
        {
            return false;
        }

        value = new DateTime(year, month, day, hour, minute, second, kind);
        return true;
    }

    /// <summary>Reads unsigned decimal numbers and separators from a span, left to right.</summary>
    private ref struct DigitReader(ReadOnlySpan<char> text)
    {
        private readonly ReadOnlySpan<char> _text = text;
        private int _position;

        public readonly bool AtEnd => _position == _text.Length;

        public bool Skip(char separator)
        {
            if (_position < _text.Length && _text[_position] == separator)
            {
                _position++;
                return true;
            }

            return false;
        }

        public bool Number(out int value) => Number(out value, out _);

        public bool Number(out int value, out int digits)
        {
            value = 0;
            digits = 0;
            while (_position < _text.Length && char.IsAsciiDigit(_text[_position]) && digits < 9)
            {
                value = (value * 10) + (_text[_position] - '0');
                _position++;
                digits++;
            }

            return digits > 0;
        }
    }
}
