using Segmentation.Core.Rules;

namespace Segmentation.Core.Tests.Rules;

public sealed class SegmentRuleTests
{
    // A buyer: 3 electronics purchases of 300 each (900 spent) and a kitchen view, last seen on day 20.
    private static readonly UserProfile s_buyerProfile = Events.Fold(
        Events.Make(EventType.Purchase, Events.T0.AddDays(1), item: "tv", price: 300, category: "electronics.tv", order: "o1"),
        Events.Make(EventType.Purchase, Events.T0.AddDays(10), item: "phone", price: 300, category: "electronics.phones", order: "o2"),
        Events.Make(EventType.Purchase, Events.T0.AddDays(20), item: "cable", price: 300, category: "electronics.accessories", order: "o3"),
        Events.Make(EventType.View, Events.T0.AddDays(20), item: "pan", category: "home.kitchen"));

    private static readonly ProfileView s_buyer = s_buyerProfile.View(Events.T0.AddDays(25));

    private static readonly ProfileView s_buyerWithoutRecentItems = s_buyerProfile.View(Events.T0.AddDays(25), recentItems: false);

    private static readonly ProfileView s_buyerStageOnly = s_buyerProfile.View(Events.T0.AddDays(25), recentItems: false, lifecycleExplained: false);

    [Theory]
    [InlineData("monetary > 500 && lifecycle == \"active\" && affinity(\"electronics\") > 0.3", true)]
    [InlineData("monetary > 1000", false)]
    [InlineData("orders >= 3 && purchases == 3 && views == 1", true)]
    [InlineData("lifecycle != 'churned'", true)]
    [InlineData("!(lifecycle == \"churned\" || lifecycle == \"at_risk\")", true)]
    [InlineData("affinity(\"home\") > 0.5 || days_since_last_seen <= 5", true)]
    [InlineData("affinity(\"garden\") > 0", false)]
    [InlineData("recency_days < 7 && r_score >= 4", true)]
    [InlineData("false || (true && events > 3)", true)]
    [InlineData("  spend==900  ", true)]
    public void Evaluate_GivesTheExpectedAnswer(string rule, bool expected)
    {
        Assert.Equal(expected, SegmentRule.Parse(rule).Evaluate(s_buyer).Matched);
        // The ingest refresh's reasonless answer decides the same, on a view without her recent items.
        Assert.Equal(expected, SegmentRule.Parse(rule).Matches(s_buyer));
        Assert.Equal(expected, SegmentRule.Parse(rule).Matches(s_buyerWithoutRecentItems));
        Assert.Equal(expected, SegmentRule.Parse(rule).Matches(s_buyerStageOnly));
    }

    [Fact]
    public void AViewWithTheStageAlone_HasTheAssessedStage_WithoutItsExplanation()
    {
        Assert.Equal(s_buyer.Lifecycle.Stage, s_buyerStageOnly.Lifecycle.Stage);
        Assert.NotEmpty(s_buyer.Lifecycle.Explanation);
        Assert.Empty(s_buyerStageOnly.Lifecycle.Explanation);
        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(s_buyer with { RecentItems = [], Lifecycle = s_buyerStageOnly.Lifecycle }),
            System.Text.Json.JsonSerializer.Serialize(s_buyerStageOnly));
    }

    [Fact]
    public void AViewWithoutRecentItems_IsTheFullViewLessThem()
    {
        Assert.NotEmpty(s_buyer.RecentItems);
        Assert.Empty(s_buyerWithoutRecentItems.RecentItems);
        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(s_buyer with { RecentItems = [] }),
            System.Text.Json.JsonSerializer.Serialize(s_buyerWithoutRecentItems));
    }

    [Fact]
    public void Evaluate_ExplainsEachComparisonWithTheUsersValue()
    {
        var match = SegmentRule.Parse("monetary > 500 && lifecycle == \"active\" && affinity(\"electronics\") > 0.3").Evaluate(s_buyer);
        Assert.True(match.Matched);
        Assert.Equal(3, match.Reasons.Count);
        Assert.Equal("monetary 900 > 500: true", match.Reasons[0]);
        Assert.Equal("lifecycle \"active\" == \"active\": true", match.Reasons[1]);
        Assert.StartsWith("affinity(\"electronics\") 0.", match.Reasons[2]);
    }

    [Fact]
    public void Evaluate_ShortCircuits_SoOnlyDecidingComparisonsAreReported()
    {
        var match = SegmentRule.Parse("orders > 10 && lifecycle == \"active\"").Evaluate(s_buyer);
        Assert.False(match.Matched);
        Assert.Equal(["orders 3 > 10: false"], match.Reasons);
    }

    [Theory]
    [InlineData("", 0, "empty")]
    [InlineData("monetary_90d > 500", 0, "unknown trait 'monetary_90d'")]
    [InlineData("monetary > 500 && lifecycle = \"active\"", 28, "use ==")]
    [InlineData("monetary > 500 & orders > 1", 15, "use &&")]
    [InlineData("monetary > \"big\"", 11, "cannot compare 'monetary' (a number) with '\"big\"' (a string)")]
    [InlineData("lifecycle > \"active\"", 10, "only with == and !=")]
    [InlineData("lifecycle == \"sleeping\"", 13, "lifecycle is one of new, active, at_risk, churned, reactivated")]
    [InlineData("affinity(electronics) > 0.3", 9, "category name in quotes")]
    [InlineData("popularity(\"x\") > 1", 0, "unknown function 'popularity'")]
    [InlineData("(orders > 1", 11, "expected ')', found the end")]
    [InlineData("orders > 1)", 10, "unexpected ')'")]
    [InlineData("orders", 6, "expected a comparison")]
    [InlineData("orders >", 8, "found the end of the rule")]
    [InlineData("lifecycle == \"active", 13, "not closed")]
    [InlineData("1.2.3 < orders", 0, "'1.2.3' is not a number")]
    public void Parse_BadRule_PointsAtTheProblem(string rule, int position, string reason)
    {
        var error = Assert.Throws<RuleSyntaxException>(() => SegmentRule.Parse(rule));
        Assert.Equal(position, error.Position);
        Assert.Contains(reason, error.Reason);
        Assert.StartsWith($"at position {position}: ", error.Message);
    }

    [Fact]
    public void UnknownTraitError_ListsWhatIsAvailable()
    {
        var error = Assert.Throws<RuleSyntaxException>(() => SegmentRule.Parse("ltv > 1"));
        foreach (var trait in new[] { "monetary", "orders", "lifecycle", "recency_days", "affinity(\"category\")" })
        {
            Assert.Contains(trait, error.Reason);
        }
    }
}
