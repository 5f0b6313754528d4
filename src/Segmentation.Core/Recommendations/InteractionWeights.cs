namespace Segmentation.Core.Recommendations;

/// <summary>
/// How much one interaction says about interest in an item: purchase &gt; cart &gt; wishlist &gt; view; a rating
/// weighs its stars times <see cref="PerRatingStar"/>. Types not listed (search, remove from cart, return, review)
/// weigh 0 and are ignored by the recommenders. Immutable once built; share freely.
/// </summary>
public sealed record InteractionWeights
{
    /// <summary>The defaults: view 1, wishlist 2, cart 3, purchase 5, rating 1 per star (a 5-star rating = a purchase).</summary>
    public static InteractionWeights Default { get; } = new();

    /// <summary>Every interaction weighs 1 whatever its type or rating (classic SAR co-occurrence counts users).</summary>
    public static InteractionWeights Uniform { get; } = new() { View = 1, Wishlist = 1, AddToCart = 1, Purchase = 1, PerRatingStar = 0, RatingBase = 1 };

    /// <summary>Weight of a view.</summary>
    public double View { get; init; } = 1;

    /// <summary>Weight of a wishlist addition.</summary>
    public double Wishlist { get; init; } = 2;

    /// <summary>Weight of an add-to-cart.</summary>
    public double AddToCart { get; init; } = 3;

    /// <summary>Weight of a purchase.</summary>
    public double Purchase { get; init; } = 5;

    /// <summary>Weight of a rating per star (1..5).</summary>
    public double PerRatingStar { get; init; } = 1;

    /// <summary>Weight of a rating whatever its stars (added to the per-star part).</summary>
    public double RatingBase { get; init; }

    /// <summary>The weight of one interaction (≥ 0; 0 means "ignore").</summary>
    public double Of(EventType type, double rating) => type switch
    {
        EventType.View => View,
        EventType.Wishlist => Wishlist,
        EventType.AddToCart => AddToCart,
        EventType.Purchase => Purchase,
        EventType.Rating => RatingBase + (PerRatingStar * Math.Clamp(rating, 0, 5)),
        _ => 0,
    };

    /// <summary>The weight of <paramref name="interaction"/>.</summary>
    public double Of(in Interaction interaction) => Of(interaction.Type, interaction.Rating);
}
