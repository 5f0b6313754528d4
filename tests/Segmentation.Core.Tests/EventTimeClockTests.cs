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

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
