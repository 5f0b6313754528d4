using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// Maps the rows of one file to events. Each data row gives exactly one event; a row that cannot be mapped keeps the
/// fields it could not read empty or zero, so the server rejects it with its reason. Stateful (id counters, string
/// reuse, last parsed time): create one per file; not thread-safe.
/// </summary>
internal abstract class RowMapper
{
    /// <summary>A fresh mapper for <paramref name="format"/>.</summary>
    public static RowMapper Create(EventFileFormat format) => format switch
    {
        EventFileFormat.OnlineRetail => new OnlineRetailMapper(),
        EventFileFormat.Rees46 => new Rees46Mapper(),
        EventFileFormat.Taobao => new TaobaoMapper(),
        EventFileFormat.MovieLens => new MovieLensMapper(),
        EventFileFormat.Jsonl => new JsonlMapper(),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown event file format."),
    };

    /// <summary>The format's command-line name (<c>online-retail</c>, ...).</summary>
    public abstract string Name { get; }

    /// <summary>The header line files of this format start with, or null for a format without one.</summary>
    public virtual string? Header => null;

    /// <summary>Whether the file's first line, <paramref name="line"/>, is a header rather than data.</summary>
    public virtual bool IsHeader(ReadOnlySpan<char> line) => false;

    /// <summary>
    /// The event for one non-empty data line; <paramref name="lineNumber"/> counts from 1, header included. A line that
    /// cannot be mapped gives the fields that could be read and its <paramref name="problem"/>.
    /// </summary>
    public abstract Event Map(string line, long lineNumber, out RowProblem? problem);

    /// <summary>A row with <paramref name="count"/> fields where the format has <paramref name="columns"/>.</summary>
    protected RowProblem WrongColumns(int count, int columns) =>
        new($"wrong number of columns ({Name} needs {columns})", $"{count} {(count == 1 ? "column" : "columns")}, {Name} needs {columns}");

    /// <summary>A field whose text is not what the format holds there.</summary>
    protected static RowProblem BadField(string column, ReadOnlySpan<char> text, string expected) =>
        new($"{column} is not {expected}", $"{column} '{Shorten(text)}' is not {expected}");

    /// <summary>At most 40 characters of <paramref name="text"/>, for messages.</summary>
    protected static string Shorten(ReadOnlySpan<char> text) => text.Length <= 40 ? text.ToString() : string.Concat(text[..40], "…");
}
