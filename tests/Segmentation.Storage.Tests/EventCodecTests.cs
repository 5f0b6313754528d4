using Google.Protobuf.WellKnownTypes;
using Segmentation.Core;
using V1 = Segmentation.Contracts.V1;

namespace Segmentation.Storage.Tests;

public sealed class EventCodecTests
{
    [Fact]
    public void Decode_OfEncode_GivesTheDomainEvent()
    {
        var wire = new V1.Event
        {
            EventId = "e1",
            UserId = "u1",
            Type = V1.EventType.Purchase,
            ItemId = "sku-1",
            Category = "home.kitchen",
            Price = 12.5,
            Quantity = 2,
            Currency = "EUR",
            Timestamp = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero)),
            Attributes = { ["order_id"] = "o-7" },
        };

        var e = EventCodec.Decode(EventCodec.Encode(wire));

        Assert.Equal(("e1", "u1", EventType.Purchase, "sku-1", "home.kitchen"), (e.EventId, e.UserId, e.Type, e.ItemId, e.Category));
        Assert.Equal((12.5, 2, "EUR"), (e.Price, e.Quantity, e.Currency));
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero), e.Timestamp);
        Assert.Equal("o-7", e.Attributes["order_id"]);
    }

    [Fact]
    public void ValidatingAWireEventWithoutAttributes_AllocatesNothing()
    {
        // The edge validates every event it decodes, whose attributes are the wire event's protobuf MapField: walking an
        // empty one through IReadOnlyDictionary boxed an enumerator per event to find nothing.
        var now = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var e = EventCodec.FromWire(new V1.Event
        {
            EventId = "e1",
            UserId = "u1",
            Type = V1.EventType.View,
            ItemId = "sku-1",
            Timestamp = Timestamp.FromDateTimeOffset(now.AddHours(-1)),
        }, out var wireError);
        Assert.Null(wireError);
        Assert.IsType<Google.Protobuf.Collections.MapField<string, string>>(e.Attributes);

        EventValidator.Validate(e, now); // warm: statics and first-call paths
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = EventValidator.Validate(e, now);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Null(error);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void FromWire_ReportsATimestampTheDomainCannotHold()
    {
        var wire = new V1.Event { EventId = "e1", UserId = "u1", Timestamp = new Timestamp { Seconds = 1, Nanos = -1 } };

        var e = EventCodec.FromWire(wire, out var error);

        Assert.Equal("timestamp", error?.Field);
        Assert.Equal(default, e.Timestamp);
    }
}
