using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// The events the fault scenarios write: every event type, prices, quantities, ratings and orders, spread over 100
/// days of event time, so a fold that gets any field or ordering wrong shows in the profile comparison.
/// </summary>
internal static class AuditEvents
{
    /// <summary>A random valid event number <paramref name="n"/> (ids are <paramref name="idPrefix"/>-n) for <paramref name="userId"/>.</summary>
    public static Event Random(Random random, string idPrefix, long n, string userId, DateTimeOffset now)
    {
        var type = (Contracts.V1.EventType)random.Next(1, 8);
        var e = new Event
        {
            EventId = $"{idPrefix}-{n}",
            UserId = userId,
            Type = type,
            ItemId = $"sku-{random.Next(300)}",
            Category = $"dept{random.Next(6)}.aisle{random.Next(4)}",
            Price = Math.Round(random.NextDouble() * 100, 2),
            Quantity = type is Contracts.V1.EventType.AddToCart or Contracts.V1.EventType.RemoveFromCart
                or Contracts.V1.EventType.Purchase or Contracts.V1.EventType.Return ? 1 + random.Next(3) : 0,
            Rating = type == Contracts.V1.EventType.Rating ? 1 + random.Next(5) : 0,
            Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(now.AddMinutes(-random.Next(60 * 24 * 100))),
        };
        e.Attributes["order_id"] = $"o-{n / 3}";
        return e;
    }
}
