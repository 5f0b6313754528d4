using Segmentation.Core;

namespace Segmentation.Core.Tests;

/// <summary>Builds valid events for profile tests.</summary>
internal static class Events
{
    public static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static BehaviorEvent Make(
        EventType type,
        DateTimeOffset at,
        string item = "sku",
        double price = 10,
        int quantity = 1,
        string category = "home.kitchen",
        string? order = null) => new()
        {
            EventId = $"{type}-{item}-{at.UtcTicks}",
            UserId = "u",
            Type = type,
            ItemId = BehaviorEvent.IsItemEvent(type) ? item : "",
            Category = category,
            Price = price,
            Quantity = BehaviorEvent.NeedsQuantity(type) ? quantity : 0,
            Rating = type == EventType.Rating ? 4 : 0,
            Timestamp = at,
            Attributes = order is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["order_id"] = order },
        };

    public static BehaviorEvent Make(EventType type, int day, string category = "home.kitchen") => Make(type, T0.AddDays(day), category: category);

    public static UserProfile Fold(params BehaviorEvent[] events) => Fold(new ProfileOptions(), events);

    public static UserProfile Fold(ProfileOptions options, params BehaviorEvent[] events)
    {
        var profile = new UserProfile("u", options);
        foreach (var e in events)
        {
            profile.Apply(e);
        }

        return profile;
    }
}
