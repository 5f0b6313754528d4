using Segmentation.Cli.Formats.Internal;

namespace Segmentation.Cli.Formats;

/// <summary>The format a file will be read as, and how it was decided.</summary>
/// <param name="Format">The format.</param>
/// <param name="Detected">Whether it was recognised from the file rather than given.</param>
/// <param name="How">For people: "recognised from its header", "recognised from line 1", "given by --format".</param>
public sealed record FormatDecision(EventFileFormat Format, bool Detected, string How);

/// <summary>A file that cannot be read as events at all: empty, of no known format, or not of the format given.</summary>
public sealed class EventFileFormatException : Exception
{
    /// <summary>An exception with its message.</summary>
    public EventFileFormatException(string message)
        : base(message)
    {
    }

    /// <summary>An exception with its message and cause.</summary>
    public EventFileFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>An exception with a generic message.</summary>
    public EventFileFormatException()
    {
    }
}

/// <summary>
/// Recognises a file's format from its first lines: a line is "of" a format when it is that format's header, or when
/// that format's mapper reads it without a problem (the right number of columns, and dates, numbers and event types
/// that parse). The formats' rows are different enough (8 columns with an M/d/yy date, 9 with an ISO time, 5 with a
/// pv/buy/cart/fav behaviour, 4 numbers, a JSON object) that a clean row belongs to one format only.
/// </summary>
internal static class FormatDetection
{
    /// <summary>Non-empty lines looked at: a file whose first rows are all bad is refused rather than guessed at.</summary>
    private const int SampleLines = 5;

    public static async Task<FormatDecision> DecideAsync(string path, EventFileFormat? given, CancellationToken cancellationToken)
    {
        var (sample, linesRead) = await EventFileReader.SampleAsync(path, SampleLines, cancellationToken).ConfigureAwait(false);
        if (sample.Count == 0)
        {
            throw new EventFileFormatException(
                new FileInfo(path).Length == 0 ? "the file is empty (0 bytes)"
                : linesRead == 0 ? "the file has no rows: it holds no text (an empty gzip stream?)"
                : FormattableString.Invariant($"the file has no rows: its {linesRead:N0} {(linesRead == 1 ? "line is" : "lines are")} blank"));
        }

        var first = sample[0];
        if (sample.Count == 1 && Of(first.Text, first.Number) is { Header: true } onlyHeader && (given is null || given == onlyHeader.Format))
        {
            throw new EventFileFormatException($"the file has no rows: only a header ({Name(onlyHeader.Format)}): {Show(first.Text)}");
        }

        if (given is { } format)
        {
            // Any of the first lines read as the format given: take it (a bad first row must not refuse a good file).
            if (sample.Any(line => Reads(format, line.Text, line.Number, out _)))
            {
                return new FormatDecision(format, false, "given by --format");
            }

            var mapper = RowMapper.Create(format);
            Reads(format, first.Text, first.Number, out var problem);
            var other = Of(first.Text, first.Number);
            var what = mapper.Header is null ? $"line {first.Number:N0} does not look like {mapper.Name}" : $"header does not look like {mapper.Name}";
            var why = other is { } o
                ? $"it is {(o.Header ? "the header" : "a row")} of {Name(o.Format)}; use --format {Name(o.Format)}"
                : mapper.Header is { } header ? $"{problem}; {mapper.Name} files start with '{header}'" : problem!;
            throw new EventFileFormatException($"{what}: {Show(first.Text)} ({why})");
        }

        foreach (var line in sample)
        {
            if (Of(line.Text, line.Number) is { } found)
            {
                return new FormatDecision(found.Format, true, found.Header ? "recognised from its header" : FormattableString.Invariant($"recognised from line {line.Number:N0}"));
            }
        }

        throw new EventFileFormatException(
            $"cannot tell the format from line {first.Number:N0}: {Show(first.Text)} (none of {string.Join(", ", EventFileReader.FormatNames)} reads it); give --format");
    }

    /// <summary>The format <paramref name="line"/> is the header or a clean row of, if exactly one.</summary>
    private static (EventFileFormat Format, bool Header)? Of(string line, long number)
    {
        (EventFileFormat, bool)? found = null;
        foreach (var format in Enum.GetValues<EventFileFormat>())
        {
            if (number == 1 && RowMapper.Create(format).IsHeader(line))
            {
                return (format, true);
            }

            if (Reads(format, line, number, out _))
            {
                if (found is not null)
                {
                    return null; // Ambiguous: let --format decide.
                }

                found = (format, false);
            }
        }

        return found;
    }

    /// <summary>Whether <paramref name="line"/> is <paramref name="format"/>'s header or a row it reads without a problem.</summary>
    private static bool Reads(EventFileFormat format, string line, long number, out string? problem)
    {
        var mapper = RowMapper.Create(format);
        problem = null;
        if (number == 1 && mapper.IsHeader(line))
        {
            return true;
        }

        mapper.Map(line, number, out var found);
        problem = found?.Detail;
        return found is null;
    }

    private static string Name(EventFileFormat format) => EventFileReader.FormatNames[(int)format];

    /// <summary>The line as shown in a message: quoted, at most 120 characters.</summary>
    private static string Show(string line) => "'" + (line.Length <= 120 ? line : string.Concat(line.AsSpan(0, 120), "…")) + "'";
}
