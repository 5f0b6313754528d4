using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Segmentation.Cli.Commands;

/// <summary>
/// What one <c>seg ingest</c> run did: rows read, accepted, duplicates, and the rejected rows counted per reason, with
/// the first lines of each (rows the file reader refused are <c>file</c> rejections, rows the server refused
/// <c>server</c> ones, mapped back to their lines). Printed as text for people or as one JSON object for scripts.
/// </summary>
internal sealed class IngestSummary
{
    /// <summary>Line numbers kept per reason (the count covers every row).</summary>
    private const int LinesPerReason = 10;

    private readonly Dictionary<(string Source, string Reason), Rejections> _reasons = [];

    public IngestSummary(string file) => File = file;

    public string File { get; }

    public string? Format { get; set; }

    public string? FormatHow { get; set; }

    /// <summary>Data rows read (header and blank lines are not rows).</summary>
    public long Rows { get; set; }

    public long Accepted { get; set; }

    public long Duplicates { get; set; }

    public long Rejected { get; private set; }

    public double RejectedShare => Rows == 0 ? 0 : Rejected / (double)Rows;

    /// <summary>Why the run failed, or null.</summary>
    public string? Error { get; set; }

    public int ExitCode { get; set; }

    /// <summary>Counts a rejected row: <paramref name="source"/> "file" or "server", its reason, and its message with the line.</summary>
    public void Reject(string source, string reason, string message, long line)
    {
        Rejected++;
        if (!_reasons.TryGetValue((source, reason), out var rejections))
        {
            _reasons.Add((source, reason), rejections = new Rejections(source, reason, message));
        }

        rejections.Count++;
        if (rejections.Lines.Count < LinesPerReason)
        {
            rejections.Lines.Add(line);
        }
    }

    /// <summary>Reasons, most rows first (ties by reason).</summary>
    public IEnumerable<(string Source, string Reason, long Count, IReadOnlyList<long> Lines, string Example)> Reasons =>
        _reasons.Values.OrderByDescending(r => r.Count).ThenBy(r => r.Reason, StringComparer.Ordinal).Select(r => (r.Source, r.Reason, r.Count, (IReadOnlyList<long>)r.Lines, r.Example));

    public void WriteText(TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        if (Format is not null)
        {
            output.WriteLine($"ingest {Path.GetFileName(File)} as {Format} ({FormatHow})");
        }

        if (Rows > 0)
        {
            output.WriteLine(string.Create(c, $"{Rows:N0} rows: {Accepted:N0} accepted, {Duplicates:N0} duplicates, {Rejected:N0} rejected ({RejectedShare:0.0%})"));
        }

        if (Rejected > 0)
        {
            output.WriteLine("rejected rows by reason:");
            foreach (var (source, reason, count, lines, example) in Reasons)
            {
                output.WriteLine(string.Create(c, $"  {count,9:N0}  {reason}{(source == "server" ? " (server)" : "")}"));
                var more = new StringBuilder("             " + example);
                if (lines.Count > 1)
                {
                    more.Append(string.Create(c, $"; also line{(count > 2 ? "s" : "")} {string.Join(", ", lines.Skip(1).Select(l => l.ToString("N0", c)))}"));
                    if (count > lines.Count)
                    {
                        more.Append(string.Create(c, $" and {count - lines.Count:N0} more"));
                    }
                }

                output.WriteLine(more.ToString());
            }
        }

        if (Rows > 0)
        {
            // A plain line for scripts that predate --json.
            output.WriteLine(string.Create(c, $"received={Rows} accepted={Accepted} duplicates={Duplicates} rejected={Rejected}"));
        }
    }

    public void WriteJson(Stream output)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("file", File);
        WriteStringOrNull(json, "format", Format);
        WriteStringOrNull(json, "formatDecided", FormatHow);
        json.WriteNumber("rows", Rows);
        json.WriteNumber("accepted", Accepted);
        json.WriteNumber("duplicates", Duplicates);
        json.WriteNumber("rejected", Rejected);
        json.WriteNumber("rejectedShare", Math.Round(RejectedShare, 6));
        json.WriteStartArray("reasons");
        foreach (var (source, reason, count, lines, example) in Reasons)
        {
            json.WriteStartObject();
            json.WriteString("source", source);
            json.WriteString("reason", reason);
            json.WriteNumber("count", count);
            json.WriteStartArray("lines");
            foreach (var line in lines)
            {
                json.WriteNumberValue(line);
            }

            json.WriteEndArray();
            json.WriteString("example", example);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        WriteStringOrNull(json, "error", Error);
        json.WriteNumber("exitCode", ExitCode);
        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
    }

    private static void WriteStringOrNull(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private sealed class Rejections(string source, string reason, string example)
    {
        public string Source { get; } = source;

        public string Reason { get; } = reason;

        /// <summary>The first row's message.</summary>
        public string Example { get; } = example;

        public long Count { get; set; }

        public List<long> Lines { get; } = [];
    }
}
