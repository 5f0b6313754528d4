using Segmentation.Core;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests;

public sealed class EventTimeClockTests
{
    [Fact]
    public void BeforeTheFirstEvent_TheInnerClockAnswers()
    {
        var clock = new EventTimeClock(new FixedClock(T0));
        Assert.False(clock.HasObserved);
        Assert.Equal(T0, clock.GetUtcNow());
        Assert.Equal(T0.AddDays(-3), new EventTimeClock(T0.AddDays(-3)).GetUtcNow());
    }

    [Fact]
    public void EventTime_ReplacesTheInnerClock_AndNeverGoesBack()
    {
        var clock = new EventTimeClock(new FixedClock(T0));
        clock.Observe(T0.AddDays(-400));
        Assert.True(clock.HasObserved);
        Assert.Equal(T0.AddDays(-400), clock.GetUtcNow());
        clock.Observe(T0.AddDays(-500));
        Assert.Equal(T0.AddDays(-400), clock.GetUtcNow());
        clock.Observe(T0.AddDays(-399).ToOffset(TimeSpan.FromHours(5)));
        Assert.Equal(T0.AddDays(-399), clock.GetUtcNow());
        Assert.Equal(TimeSpan.Zero, clock.GetUtcNow().Offset);
    }

    [Fact]
    public void ConcurrentObservers_LeaveTheMaximum()
    {
        var clock = new EventTimeClock(new FixedClock(T0));
        Parallel.For(0, 4, worker =>
        {
            var previous = long.MinValue;
            for (var i = 0; i < 20_000; i++)
            {
                clock.Observe(T0.AddSeconds((i * 7919 % 20_000) + worker));
                var now = clock.GetUtcNow().UtcTicks;
                Assert.True(now >= previous);
                previous = now;
            }

        });
        Assert.Equal(T0.AddSeconds(19_999 + 3), clock.GetUtcNow());
    }

    [Fact]
    public void OneUsersEventFromTwoYearsLater_MovesNobodysNow_UntilEnoughUsersBackIt()
    {
        var clock = new EventTimeClock(new FixedClock(T0));
        var end = T0.AddDays(-800);
        for (var u = 0; u < 20; u++)
        {
            clock.Observe("u" + u, end.AddHours(-u));
        }

        Assert.Equal(end, clock.GetUtcNow());
        clock.Observe("stray", end.AddDays(730));
        Assert.Equal(end, clock.GetUtcNow());
        clock.Observe("u1", end.AddDays(730).AddHours(-1));
        Assert.Equal(end, clock.GetUtcNow());
        // A third user backs the new day: it is real traffic, and "now" moves to its newest backed time.
        clock.Observe("u2", end.AddDays(730).AddHours(-2));
        Assert.Equal(end.AddDays(730), clock.GetUtcNow());
    }

    [Fact]
    public void TheWatermark_IsAFunctionOfTheEvents_NotOfTheirArrivalOrder()
    {
        var events = Enumerable.Range(0, 300).Select(i => ("u" + (i % 37), T0.AddDays(-900).AddHours(i * 7 % 251))).ToList();
        events.Add(("stray", T0.AddDays(-100)));
        var expected = Replay(events);
        for (var seed = 0; seed < 5; seed++)
        {
            Assert.Equal(expected, Replay([.. events.OrderBy(_ => Random.Shared.Next())]));
        }

        static DateTimeOffset Replay(IEnumerable<(string User, DateTimeOffset At)> events)
        {
            var clock = new EventTimeClock(new FixedClock(T0));
            foreach (var (user, at) in events)
            {
                clock.Observe(user, at);
            }

            return clock.GetUtcNow();
        }
    }

    [Fact]
    public void ALiveShop_RunsOnTheWallClock_AndStaysLiveThroughAQuietNight()
    {
        var wall = new MovableClock(T0);
        var clock = new EventTimeClock(wall);
        for (var u = 0; u < 5; u++)
        {
            clock.Observe("u" + u, T0.AddMinutes(-u));
        }

        Assert.True(clock.IsLive);
        wall.Now = T0.AddHours(9);
        Assert.Equal(T0.AddHours(9), clock.GetUtcNow());

        var replay = new EventTimeClock(wall);
        replay.Observe("a", T0.AddYears(-10));
        Assert.False(replay.IsLive);
        Assert.Equal(T0.AddYears(-10), replay.GetUtcNow());
    }

    private sealed class MovableClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
