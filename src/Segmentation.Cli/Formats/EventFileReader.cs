using System.Buffers;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using Segmentation.Cli.Formats.Internal;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats;

/// <summary>
/// Streams the rows of an event file as events of the public contract (<c>segmentation.v1.Event</c>), one data row at
/// a time, so files of any size are read in constant memory. Gzip input is detected by its magic bytes (any name,
/// usually <c>*.gz</c>) and decompressed on the fly. Text is UTF-8; a line ends at <c>\n</c>, <c>\r\n</c> or <c>\r</c>.
/// </summary>
/// <remarks>
/// <para>Every non-empty line after the header yields exactly one event. A row that cannot be mapped (a wrong number of
/// columns, a number or date that does not parse, bytes that are not UTF-8) is still yielded, with the fields it could
/// not read left empty or zero (an unparseable price is NaN); <see cref="ReadRowsAsync"/> also says what is wrong with
/// it and on which line, so <c>seg ingest</c> reports it without sending it. The reader never drops a data row. Empty
/// lines are not rows; a header is recognised on the first line only.</para>
/// <para>Event ids are derived from the row (see each format), so reading a file twice gives the same ids and ingesting
/// it again is reported as duplicates. The mapping of each format is documented on <see cref="EventFileFormat"/>'s
/// members and in <c>Formats/Internal/*Mapper.cs</c>; numbers and dates are read culture-invariantly.</para>
/// <para>All methods are thread-safe; each enumeration opens and reads its own stream.</para>
/// </remarks>
public static class EventFileReader
{
    private const int BufferSize = 1 << 16;

    /// <summary>The command-line names of the formats, in <see cref="EventFileFormat"/> order.</summary>
    public static IReadOnlyList<string> FormatNames { get; } = ["online-retail", "rees46", "taobao", "movielens", "jsonl"];

    /// <summary>Parses a format's command-line name (case-insensitive): <c>online-retail</c>, <c>rees46</c>, <c>taobao</c>, <c>movielens</c> or <c>jsonl</c>.</summary>
    /// <exception cref="ArgumentException">The name is none of them; the message lists the valid names.</exception>
    public static EventFileFormat ParseFormat(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        for (var i = 0; i < FormatNames.Count; i++)
        {
            if (string.Equals(name.Trim(), FormatNames[i], StringComparison.OrdinalIgnoreCase))
            {
                return (EventFileFormat)i;
            }
        }

        throw new ArgumentException($"Unknown format '{name}'; use one of: {string.Join(", ", FormatNames)}.", nameof(name));
    }

    /// <summary>
    /// Streams the events of the file at <paramref name="path"/>, one per data row, in file order. Enumerating it
    /// again reads the file again and yields equal events (same ids).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not a defined format.</exception>
    /// <exception cref="IOException">The file cannot be read (missing, not valid gzip, ...), thrown while enumerating.</exception>
    public static async IAsyncEnumerable<Event> ReadAsync(string path, EventFileFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var row in ReadRowsAsync(path, format, cancellationToken).ConfigureAwait(false))
        {
            yield return row.Event;
        }
    }

    /// <summary>
    /// As <see cref="ReadAsync"/>, with each event's line number and, for a row that cannot be an event, the true
    /// problem: a wrong number of columns, a field that does not parse (named, with its text), bytes that are not
    /// UTF-8 (the first bad byte and where it is), or a last line the file ends inside (truncated). Rows the reader
    /// finds nothing wrong with may still be rejected by the server.
    /// </summary>
    public static async IAsyncEnumerable<EventRow> ReadRowsAsync(string path, EventFileFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        var mapper = RowMapper.Create(format);
        using var lines = new LineReader(Open(path, FileOptions.Asynchronous));
        while (await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            cancellationToken.ThrowIfCancellationRequested(); // Lines served from the buffer do not look at the token.
            if (line.Text.Length == 0 || (line.Number == 1 && mapper.IsHeader(line.Text)))
            {
                continue;
            }

            var e = mapper.Map(line.Text, line.Number, out var problem);
            if (line.InvalidByteIndex >= 0)
            {
                // The root cause: whatever else is wrong with the row follows from reading its bytes as something they are not.
                problem = new RowProblem("not valid UTF-8", FormattableString.Invariant($"not valid UTF-8: byte 0x{line.InvalidByte:X2} at byte {line.InvalidByteIndex + 1:N0} of the line (save the file as UTF-8)"));
            }
            else if (problem is not null && !line.Terminated)
            {
                problem = new RowProblem("truncated line (the file ends inside it)", problem.Detail + ", and the file ends inside this line: it looks cut off");
            }

            yield return new EventRow(line.Number, e, problem);
        }
    }

    /// <summary>
    /// Decides the format of the file at <paramref name="path"/> from its first lines: the one <paramref name="given"/>
    /// (<c>--format</c>) when they read as that format, else the one they read as (a header, or a clean row).
    /// </summary>
    /// <exception cref="EventFileFormatException">
    /// The file is empty or holds no rows; no format reads its first lines; or they read as another format than the one
    /// given. The message says which, showing the first line.
    /// </exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Task<FormatDecision> DecideFormatAsync(string path, EventFileFormat? given, CancellationToken cancellationToken) =>
        FormatDetection.DecideAsync(path, given, cancellationToken);

    /// <summary>Up to <paramref name="count"/> non-empty lines from the start of the file, and how many lines (blank ones too) were read.</summary>
    internal static async Task<(List<TextLine> Lines, long LinesRead)> SampleAsync(string path, int count, CancellationToken cancellationToken)
    {
        var sample = new List<TextLine>(count);
        using var lines = new LineReader(Open(path, FileOptions.Asynchronous));
        long read = 0;
        while (sample.Count < count && await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            read++;
            if (line.Text.Length > 0)
            {
                sample.Add(line);
            }
        }

        return (sample, read);
    }

    /// <summary>
    /// The number of events <see cref="ReadAsync"/> yields for the file (its non-empty lines, less a header), counted
    /// by scanning bytes without decoding text; for progress bars.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not a defined format.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static long CountRows(string path, EventFileFormat format)
    {
        ArgumentNullException.ThrowIfNull(path);
        var mapper = RowMapper.Create(format);
        var rows = CountNonEmptyLines(path);
        if (rows > 0)
        {
            using var reader = new StreamReader(Open(path, FileOptions.None), Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 4096);
            if (reader.ReadLine() is { Length: > 0 } first && mapper.IsHeader(first))
            {
                rows--;
            }
        }

        return rows;
    }

    /// <summary>Lines with at least one character, split the way <see cref="StreamReader.ReadLine()"/> splits them.</summary>
    private static long CountNonEmptyLines(string path)
    {
        using var stream = Open(path, FileOptions.SequentialScan);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long lines = 0;
            var content = false;   // The current line has a character.
            var afterCr = false;   // The previous byte ended a line with '\r' (a following '\n' belongs to it).
            var start = true;
            int read;
            while ((read = stream.Read(buffer, 0, BufferSize)) > 0)
            {
                var span = buffer.AsSpan(0, read);
                if (start)
                {
                    start = false;
                    if (span.StartsWith(Encoding.UTF8.Preamble))
                    {
                        span = span[Encoding.UTF8.Preamble.Length..];
                    }
                }

                while (!span.IsEmpty)
                {
                    var end = span.IndexOfAny((byte)'\r', (byte)'\n');
                    if (end < 0)
                    {
                        content = true;
                        afterCr = false;
                        break;
                    }

                    if (end == 0 && afterCr && span[0] == (byte)'\n')
                    {
                        afterCr = false;
                        span = span[1..];
                        continue;
                    }

                    if (end > 0 || content)
                    {
                        lines++;
                    }

                    content = false;
                    afterCr = span[end] == (byte)'\r';
                    span = span[(end + 1)..];
                }
            }

            return content ? lines + 1 : lines;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Opens the file for reading, through a gzip decoder when it starts with the gzip magic bytes.</summary>
    private static Stream Open(string path, FileOptions options)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, options | FileOptions.SequentialScan);
        try
        {
            Span<byte> magic = stackalloc byte[2];
            var gzip = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
            file.Position = 0;
            return gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
