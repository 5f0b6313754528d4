using Segmentation.Core.Statistics;

namespace Segmentation.Grains;

/// <summary>
/// One user as the business metrics per segment count her: her <see cref="CustomerFacts"/> as of her newest event, the
/// ML segment and rule segments her last refresh put her in, and when that refresh recorded her (in a cluster the
/// newest record of a user wins: she may have lived on another silo before).
/// </summary>
/// <param name="UserId">The user.</param>
/// <param name="FirstSeen">Her first event.</param>
/// <param name="LastSeen">Her newest event.</param>
/// <param name="ReactivatedAt">When she came back after being churned, if she did.</param>
/// <param name="LastPurchase">Her newest purchase, if any.</param>
/// <param name="Orders">Distinct orders.</param>
/// <param name="Spend">Gross spend.</param>
/// <param name="Returned">Value returned.</param>
/// <param name="MlSegment">Her ML segment id, -1 for none.</param>
/// <param name="Rules">The ids of the rule segments she matched (without the <c>rule:</c> prefix), in id order.</param>
/// <param name="RecordedAt">Wall-clock time of the refresh that recorded her.</param>
[GenerateSerializer, Immutable, Alias("segmentation.CustomerEntry")]
public sealed record CustomerEntry(
    [property: Id(0)] string UserId,
    [property: Id(1)] DateTimeOffset FirstSeen,
    [property: Id(2)] DateTimeOffset LastSeen,
    [property: Id(3)] DateTimeOffset? ReactivatedAt,
    [property: Id(4)] DateTimeOffset? LastPurchase,
    [property: Id(5)] long Orders,
    [property: Id(6)] double Spend,
    [property: Id(7)] double Returned,
    [property: Id(8)] int MlSegment,
    [property: Id(9)] string[] Rules,
    [property: Id(10)] DateTimeOffset RecordedAt)
{
    /// <summary>The facts the metrics read.</summary>
    public CustomerFacts Facts => new(FirstSeen, LastSeen, ReactivatedAt, LastPurchase, Orders, Spend, Returned);

    /// <summary>An entry for <paramref name="userId"/> with <paramref name="facts"/>.</summary>
    public static CustomerEntry Of(string userId, in CustomerFacts facts, int mlSegment, string[] rules, DateTimeOffset recordedAt) =>
        new(userId, facts.FirstSeen, facts.LastSeen, facts.ReactivatedAt, facts.LastPurchase, facts.Orders, facts.Spend, facts.Returned, mlSegment, rules, recordedAt);
}
