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

    /// <summary>Whether the file's first line, <paramref name="line"/>, is a header rather than data.</summary>
    public virtual bool IsHeader(ReadOnlySpan<char> line) => false;

    /// <summary>The event for one non-empty data line; <paramref name="lineNumber"/> counts from 1, header included.</summary>
    public abstract Event Map(string line, long lineNumber);
}
