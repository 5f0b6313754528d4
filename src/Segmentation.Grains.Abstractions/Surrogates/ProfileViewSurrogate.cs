using Segmentation.Core;

namespace Segmentation.Grains.Surrogates;

/// <summary>The Orleans wire form of <see cref="ProfileView"/> (Core knows nothing of Orleans).</summary>
[GenerateSerializer, Alias("segmentation.ProfileView")]
public struct ProfileViewSurrogate
{
    [Id(0)] public string UserId;
    [Id(1)] public DateTimeOffset FirstSeen;
    [Id(2)] public DateTimeOffset LastSeen;
    [Id(3)] public long EventCount;
    [Id(4)] public EventTypeCount[] Counts;
    [Id(5)] public long Orders;
    [Id(6)] public double Spend;
    [Id(7)] public double Returned;
    [Id(8)] public double AverageOrderValue;
    [Id(9)] public DateTimeOffset? LastPurchase;
    [Id(10)] public RfmScore Rfm;
    [Id(11)] public CategoryAffinity[] TopCategories;
    [Id(12)] public RecentItem[] RecentItems;
    [Id(13)] public LifecycleAssessment Lifecycle;
    [Id(14)] public DateTimeOffset AsOf;
}

/// <summary>Converts <see cref="ProfileView"/> to and from its surrogate.</summary>
[RegisterConverter]
public sealed class ProfileViewConverter : IConverter<ProfileView, ProfileViewSurrogate>
{
    /// <inheritdoc />
    public ProfileView ConvertFromSurrogate(in ProfileViewSurrogate s) => new(
        s.UserId, s.FirstSeen, s.LastSeen, s.EventCount, s.Counts, s.Orders, s.Spend, s.Returned, s.AverageOrderValue, s.LastPurchase,
        s.Rfm, s.TopCategories, s.RecentItems, s.Lifecycle, s.AsOf);

    /// <inheritdoc />
    public ProfileViewSurrogate ConvertToSurrogate(in ProfileView value) => new()
    {
        UserId = value.UserId,
        FirstSeen = value.FirstSeen,
        LastSeen = value.LastSeen,
        EventCount = value.EventCount,
        Counts = [.. value.Counts],
        Orders = value.Orders,
        Spend = value.Spend,
        Returned = value.Returned,
        AverageOrderValue = value.AverageOrderValue,
        LastPurchase = value.LastPurchase,
        Rfm = value.Rfm,
        TopCategories = [.. value.TopCategories],
        RecentItems = [.. value.RecentItems],
        Lifecycle = value.Lifecycle,
        AsOf = value.AsOf,
    };
}
