using Google.Protobuf;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// One protobuf-JSON <c>Event</c> per line (proto3 JSON mapping: <c>eventId</c> or <c>event_id</c>, enum names such as
/// <c>EVENT_TYPE_VIEW</c>, RFC 3339 timestamps). Unknown fields are an error. A line that does not parse becomes an
/// event holding only the id <c>jsonl-line-{N}</c> (N = the line number in the file), which the server rejects for its
/// empty user id: the rejection report then points at the line.
/// </summary>
internal sealed class JsonlMapper : RowMapper
{
    private static readonly JsonParser s_parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public override string Name => "jsonl";

    public override Event Map(string line, long lineNumber, out RowProblem? problem)
    {
        problem = null;
        try
        {
            return s_parser.Parse<Event>(line);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or OverflowException)
        {
            problem = new RowProblem("not a segmentation.v1.Event in protobuf JSON", "not a segmentation.v1.Event in protobuf JSON: " + ex.Message);
            return new Event { EventId = $"jsonl-line-{lineNumber}" };
        }
    }
}
