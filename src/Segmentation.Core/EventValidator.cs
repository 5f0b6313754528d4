using System.Text;

namespace Segmentation.Core;

/// <summary>A rejected event: the field at fault and a stable sentence (no values, so reasons can be counted).</summary>
/// <param name="Field">The public contract's field name, e.g. <c>price</c>.</param>
/// <param name="Reason">What is wrong, e.g. "price must be a finite number >= 0".</param>
public readonly record struct ValidationError(string Field, string Reason);

/// <summary>
/// The rules an event must meet to be stored (documented per field in <c>protos/segmentation/v1/events.proto</c>).
/// Fields are checked in contract order; the first failure is reported.
/// </summary>
public static class EventValidator
{
    /// <summary>Most UTF-8 bytes in an event, user or item id.</summary>
    public const int MaxIdBytes = 128;

    /// <summary>Most UTF-8 bytes in a category path.</summary>
    public const int MaxCategoryBytes = 256;

    /// <summary>Most attributes per event.</summary>
    public const int MaxAttributes = 64;

    /// <summary>Most UTF-8 bytes in an attribute key.</summary>
    public const int MaxAttributeKeyBytes = 64;

    /// <summary>Most UTF-8 bytes in an attribute value.</summary>
    public const int MaxAttributeValueBytes = 1024;

    /// <summary>Earliest accepted event time by default (configurable: historical datasets such as MovieLens-100k, 1997–98, need earlier).</summary>
    public static readonly DateTimeOffset EarliestTimestamp = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>How far past "now" an event time may be (clock skew allowance).</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromDays(1);

    /// <summary>Checks an event against the rules at wall-clock time <paramref name="now"/>; null when valid.</summary>
    public static ValidationError? Validate(BehaviorEvent e, DateTimeOffset now) => Validate(e, now, EarliestTimestamp);

    /// <summary>Checks an event, accepting event times from <paramref name="earliest"/> on; null when valid.</summary>
    public static ValidationError? Validate(BehaviorEvent e, DateTimeOffset now, DateTimeOffset earliest)
    {
        if (CheckId("event_id", e.EventId) is { } eventId)
        {
            return eventId;
        }

        if (CheckId("user_id", e.UserId) is { } userId)
        {
            return userId;
        }

        if (e.Type == EventType.Unspecified || !Enum.IsDefined(e.Type))
        {
            return new("type", "type must be one of view, search, add_to_cart, remove_from_cart, purchase, return, rating, review, wishlist");
        }

        if (BehaviorEvent.IsItemEvent(e.Type) && e.ItemId.Length == 0)
        {
            return new("item_id", "item_id is required for item events");
        }

        if (TooLong(e.ItemId, MaxIdBytes))
        {
            return new("item_id", $"item_id is longer than {MaxIdBytes} bytes");
        }

        if (TooLong(e.Category, MaxCategoryBytes))
        {
            return new("category", $"category is longer than {MaxCategoryBytes} bytes");
        }

        if (!double.IsFinite(e.Price) || e.Price < 0)
        {
            return new("price", "price must be a finite number >= 0");
        }

        if (e.Quantity < 0)
        {
            return new("quantity", "quantity must not be negative");
        }

        if (e.Quantity == 0 && BehaviorEvent.NeedsQuantity(e.Type))
        {
            return new("quantity", "quantity must be at least 1 for cart, purchase and return events");
        }

        if (double.IsNaN(e.Rating) || (e.Rating != 0 && e.Rating is < 1 or > 5) || (e.Type == EventType.Rating && e.Rating == 0))
        {
            return new("rating", e.Type == EventType.Rating ? "rating must be between 1 and 5 for rating events" : "rating must be between 1 and 5 when given");
        }

        if (e.Timestamp == default)
        {
            return new("timestamp", "timestamp is required");
        }

        if (e.Timestamp < earliest)
        {
            return new("timestamp", earliest == EarliestTimestamp
                ? "timestamp is before 2000-01-01"
                : "timestamp is before the configured earliest event time " + earliest.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        }

        if (e.Timestamp > now + MaxFutureSkew)
        {
            return new("timestamp", "timestamp is more than 1 day in the future");
        }

        return CheckAttributes(e.Attributes);
    }

    private static ValidationError? CheckId(string field, string value)
    {
        if (value.Length == 0)
        {
            return new(field, $"{field} is empty");
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            // Ids are keys in every store; PostgreSQL text cannot hold U+0000, so one such id would fail a whole group
            // commit of other users' events. Rejected the same way whatever the store.
            return new(field, $"{field} contains a NUL character");
        }

        return TooLong(value, MaxIdBytes) ? new(field, $"{field} is longer than {MaxIdBytes} bytes") : null;
    }

    private static ValidationError? CheckAttributes(IReadOnlyDictionary<string, string> attributes)
    {
        var count = attributes.Count;
        if (count == 0)
        {
            // Most events carry none: walking them through the interface would allocate a boxed enumerator per event
            // (the edge's are protobuf MapFields, which have no struct enumerator) to find nothing.
            return null;
        }

        if (count > MaxAttributes)
        {
            return new("attributes", $"attributes has more than {MaxAttributes} entries");
        }

        foreach (var (key, value) in attributes)
        {
            if (key.Length == 0 || TooLong(key, MaxAttributeKeyBytes))
            {
                return new("attributes", $"attribute keys must be 1 to {MaxAttributeKeyBytes} bytes");
            }

            if (TooLong(value, MaxAttributeValueBytes))
            {
                return new("attributes", $"attribute values must be at most {MaxAttributeValueBytes} bytes");
            }
        }

        return null;
    }

    // A UTF-8 encoding is at least as long as the UTF-16 length and at most three times it: count only when needed.
    private static bool TooLong(string value, int maxBytes) =>
        value.Length > maxBytes || (value.Length * 3 > maxBytes && Encoding.UTF8.GetByteCount(value) > maxBytes);
}
