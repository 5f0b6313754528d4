using Segmentation.Core;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests;

public sealed class LifecycleTests
{
    private static readonly TimeSpan s_tick = TimeSpan.FromTicks(1);

    private static (LifecycleStage Stage, DateTimeOffset Since) At(UserProfile profile, DateTimeOffset now)
    {
        var assessment = profile.AssessLifecycle(now);
        return (assessment.Stage, assessment.Since);
    }

    [Fact]
    public void Lifecycle_MovesThroughEveryStage_WithSinceAndExplanation()
    {
        var profile = Fold(Make(EventType.Purchase, 0));
        Assert.Equal((LifecycleStage.New, T0), At(profile, T0.AddDays(3)));

        profile.Apply(Make(EventType.View, 20));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(14)), At(profile, T0.AddDays(25)));

        var atRisk = profile.AssessLifecycle(T0.AddDays(20 + 47));
        Assert.Equal((LifecycleStage.AtRisk, T0.AddDays(50)), (atRisk.Stage, atRisk.Since));
        Assert.Equal("last activity 47 days ago (last purchase 67 days ago); at-risk after 30 days of inactivity", atRisk.Explanation);

        Assert.Equal((LifecycleStage.Churned, T0.AddDays(110)), At(profile, T0.AddDays(20 + 91)));

        profile.Apply(Make(EventType.Purchase, 200));
        var back = profile.AssessLifecycle(T0.AddDays(205));
        Assert.Equal((LifecycleStage.Reactivated, T0.AddDays(200)), (back.Stage, back.Since));
        Assert.Equal("came back 5 days ago after 180 days away; last activity 5 days ago (a purchase)", back.Explanation);

        profile.Apply(Make(EventType.View, 225));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(230)), At(profile, T0.AddDays(241)));

        // Back after an at-risk gap (40 days, short of churn): active again from that return.
        profile.Apply(Make(EventType.View, 265));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(265)), At(profile, T0.AddDays(266)));
    }

    [Fact]
    public void Assessment_IsReusedWithinADay_AndFollowsDayCountsAndNewEvents()
    {
        var profile = Fold(Make(EventType.Purchase, 0), Make(EventType.View, 20));
        const string Rule = "; active while inactivity stays under 30 days";
        var morning = profile.AssessLifecycle(T0.AddDays(25));
        Assert.Equal("last activity 5 days ago (last purchase 25 days ago)" + Rule, morning.Explanation);
        // Later the same day (and earlier again): nothing it depends on changed, so the same answer.
        Assert.Same(morning, profile.AssessLifecycle(T0.AddDays(25).AddHours(20)));
        Assert.Same(morning, profile.AssessLifecycle(T0.AddDays(25).AddHours(1)));

        Assert.Equal("last activity 6 days ago (last purchase 26 days ago)" + Rule, profile.AssessLifecycle(T0.AddDays(26)).Explanation);
        Assert.Equal("last activity 5 days ago (last purchase 25 days ago)" + Rule, profile.AssessLifecycle(T0.AddDays(25).AddHours(2)).Explanation);

        profile.Apply(Make(EventType.View, 26));
        Assert.Equal("last activity today (last purchase 26 days ago)" + Rule, profile.AssessLifecycle(T0.AddDays(26)).Explanation);
    }

    [Fact]
    public void EmptyProfile_HasNoStage()
    {
        var profile = new UserProfile("u", new ProfileOptions());
        Assert.True(profile.IsEmpty);
        Assert.Equal(LifecycleStage.Unspecified, profile.AssessLifecycle(T0).Stage);
    }

    [Fact]
    public void InactivityThresholds_AreExclusive()
    {
        var profile = Fold(Make(EventType.View, 0));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(14)), At(profile, T0.AddDays(30)));
        Assert.Equal((LifecycleStage.AtRisk, T0.AddDays(30)), At(profile, T0.AddDays(30) + s_tick));
        Assert.Equal((LifecycleStage.AtRisk, T0.AddDays(30)), At(profile, T0.AddDays(90)));
        var churned = profile.AssessLifecycle(T0.AddDays(90) + s_tick);
        Assert.Equal((LifecycleStage.Churned, T0.AddDays(90)), (churned.Stage, churned.Since));
        Assert.Equal("last activity 90 days ago; churned after 90 days of inactivity", churned.Explanation);
    }

    [Fact]
    public void NewUser_IsNewForNewForDays_ThenActive()
    {
        var profile = Fold(Make(EventType.View, 0), Make(EventType.View, 10));
        var fresh = profile.AssessLifecycle(T0.AddDays(14));
        Assert.Equal((LifecycleStage.New, T0), (fresh.Stage, fresh.Since));
        Assert.Equal("first seen 14 days ago; new for the first 14 days; last activity 4 days ago", fresh.Explanation);
        Assert.Equal((LifecycleStage.Active, T0.AddDays(14)), At(profile, T0.AddDays(14) + s_tick));
    }

    [Fact]
    public void Reactivation_LastsReactivatedForDays_ThenActive()
    {
        var profile = Fold(Make(EventType.View, 0), Make(EventType.View, 100), Make(EventType.View, 120));
        Assert.Equal((LifecycleStage.Reactivated, T0.AddDays(100)), At(profile, T0.AddDays(130)));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(130)), At(profile, T0.AddDays(130) + s_tick));
    }

    [Fact]
    public void Reactivation_NeedsAGapLongerThanTheChurnThreshold()
    {
        var profile = Fold(Make(EventType.View, 0), Make(EventType.View, 90));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(90)), At(profile, T0.AddDays(95)));
    }

    [Fact]
    public void LateEvent_IsNotAReturn_GapsCountFromTheLatestActivity()
    {
        // Day 0 arrives after day 200; day 201 then follows day 200 by one day, not day 0 by 201.
        var profile = Fold(Make(EventType.View, 200), Make(EventType.View, 0), Make(EventType.View, 201));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(14)), At(profile, T0.AddDays(202)));
        var view = profile.View(T0.AddDays(202));
        Assert.Equal((T0, T0.AddDays(201)), (view.FirstSeen, view.LastSeen));
    }

    [Fact]
    public void OutOfOrderEvents_KeepFirstAndLastSeen()
    {
        var view = Fold(Make(EventType.View, 5), Make(EventType.View, 0), Make(EventType.View, 3)).View(T0.AddDays(6));
        Assert.Equal(T0, view.FirstSeen);
        Assert.Equal(T0.AddDays(5), view.LastSeen);
        Assert.Equal(LifecycleStage.New, view.Lifecycle.Stage);
    }

    [Fact]
    public void Thresholds_AreConfigurable()
    {
        var options = new ProfileOptions { Lifecycle = new LifecycleOptions { NewForDays = 1, AtRiskAfterDays = 7, ChurnedAfterDays = 21, ReactivatedForDays = 3 } };
        var profile = Fold(options, Make(EventType.View, 0));
        var atRisk = profile.AssessLifecycle(T0.AddDays(8));
        Assert.Equal(LifecycleStage.AtRisk, atRisk.Stage);
        Assert.EndsWith("at-risk after 7 days of inactivity", atRisk.Explanation, StringComparison.Ordinal);
        Assert.Equal(LifecycleStage.Churned, profile.AssessLifecycle(T0.AddDays(22)).Stage);
        profile.Apply(Make(EventType.View, 30));
        Assert.Equal((LifecycleStage.Reactivated, T0.AddDays(30)), At(profile, T0.AddDays(33)));
        Assert.Equal((LifecycleStage.Active, T0.AddDays(33)), At(profile, T0.AddDays(34)));
    }
}
