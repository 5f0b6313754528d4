namespace Segmentation.Core;

/// <summary>What the user did. The numbers equal the public contract's <c>segmentation.v1.EventType</c>.</summary>
public enum EventType
{
    /// <summary>Not given: invalid.</summary>
    Unspecified = 0,

    /// <summary>Viewed an item.</summary>
    View = 1,

    /// <summary>Searched.</summary>
    Search = 2,

    /// <summary>Put an item in the cart.</summary>
    AddToCart = 3,

    /// <summary>Took an item out of the cart.</summary>
    RemoveFromCart = 4,

    /// <summary>Bought an item (one order line).</summary>
    Purchase = 5,

    /// <summary>Returned an item.</summary>
    Return = 6,

    /// <summary>Rated an item 1 to 5.</summary>
    Rating = 7,

    /// <summary>Reviewed an item.</summary>
    Review = 8,

    /// <summary>Put an item on the wishlist.</summary>
    Wishlist = 9,
}

/// <summary>One behaviour event in the domain. Immutable.</summary>
public sealed record BehaviorEvent
{
    private static readonly IReadOnlyDictionary<string, string> s_noAttributes = new Dictionary<string, string>();

    /// <summary>The client's idempotency key.</summary>
    public required string EventId { get; init; }

    /// <summary>Whose event it is.</summary>
    public required string UserId { get; init; }

    /// <summary>What happened.</summary>
    public required EventType Type { get; init; }

    /// <summary>The item, for item events.</summary>
    public string ItemId { get; init; } = "";

    /// <summary>Dotted category path, most general first ("home.kitchen.mugs").</summary>
    public string Category { get; init; } = "";

    /// <summary>Unit price (0 = free or unknown).</summary>
    public double Price { get; init; }

    /// <summary>Units (0 = not given, for types without quantity).</summary>
    public int Quantity { get; init; }

    /// <summary>ISO 4217 currency code; informational.</summary>
    public string Currency { get; init; } = "";

    /// <summary>1 to 5 for ratings; 0 = not given.</summary>
    public double Rating { get; init; }

    /// <summary>Search text.</summary>
    public string Query { get; init; } = "";

    /// <summary>Event time; <c>default</c> means missing.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Context: device, channel, locale, <c>order_id</c>.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = s_noAttributes;

    /// <summary>Whether the type is about one item (and so needs an item id).</summary>
    public static bool IsItemEvent(EventType type) => type is not (EventType.Search or EventType.Unspecified);

    /// <summary>Whether the type carries a quantity of at least 1.</summary>
    public static bool NeedsQuantity(EventType type) =>
        type is EventType.AddToCart or EventType.RemoveFromCart or EventType.Purchase or EventType.Return;
}
