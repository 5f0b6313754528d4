using Google.Protobuf;
using Segmentation.Core;
using V1 = Segmentation.Contracts.V1;

namespace Segmentation.Storage;

/// <summary>
/// The bytes the event log stores for an event (the public contract's <c>segmentation.v1.Event</c>, protobuf
/// encoded) and their mapping to the domain's <see cref="BehaviorEvent"/>. Grains, recommenders and audits decode
/// stored payloads here, so nothing below the gRPC edge depends on the edge's mapping code.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class EventCodec
{
    private const long MinTimestampSeconds = -62_135_596_800; // 0001-01-01T00:00:00Z
    private const long MaxTimestampSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z

    /// <summary>The stored bytes of <paramref name="e"/>.</summary>
    public static byte[] Encode(V1.Event e)
    {
        // Into a span rather than through ToByteArray, which allocates a CodedOutputStream for every event ingested.
        var payload = new byte[e.CalculateSize()];
        e.WriteTo(payload);
        return payload;
    }

    /// <summary>Decodes a stored payload. Stored events passed validation, so their timestamps are valid.</summary>
    /// <exception cref="InvalidProtocolBufferException">The payload is not an encoded event.</exception>
    public static BehaviorEvent Decode(ReadOnlySpan<byte> payload) => FromWire(V1.Event.Parser.ParseFrom(payload), out _);

    /// <summary>
    /// Converts a wire event to a domain event. A timestamp the protobuf rules call invalid (seconds or nanos out
    /// of range) is reported in <paramref name="wireError"/>, because the domain type cannot hold it.
    /// </summary>
    public static BehaviorEvent FromWire(V1.Event e, out ValidationError? wireError)
    {
        ArgumentNullException.ThrowIfNull(e);
        wireError = null;
        var timestamp = default(DateTimeOffset);
        if (e.Timestamp is { } ts)
        {
            if (ts.Seconds is < MinTimestampSeconds or > MaxTimestampSeconds || ts.Nanos is < 0 or > 999_999_999)
            {
                wireError = new ValidationError("timestamp", "timestamp is not a valid google.protobuf.Timestamp");
            }
            else
            {
                timestamp = ts.ToDateTimeOffset();
            }
        }

        return new BehaviorEvent
        {
            EventId = e.EventId,
            UserId = e.UserId,
            Type = (EventType)(int)e.Type,
            ItemId = e.ItemId,
            Category = e.Category,
            Price = e.Price,
            Quantity = e.Quantity,
            Currency = e.Currency,
            Rating = e.Rating,
            Query = e.Query,
            Timestamp = timestamp,
            Attributes = e.Attributes,
        };
    }
}
