using Segmentation.Core;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Internal;

/// <summary>
/// The clocks of this process: the wall clock (deadlines, model timestamps, schedules) and domain "now" — the event-time
/// clock (<see cref="ClockMode.EventTime"/>) or the wall clock (<see cref="ClockMode.System"/>).
/// </summary>
/// <remarks>Thread-safe: immutable; the event-time clock is itself thread-safe.</remarks>
internal sealed class DomainClocks
{
    public DomainClocks(ClockMode mode, TimeProvider wall)
    {
        Wall = wall;
        EventTime = mode == ClockMode.EventTime ? new EventTimeClock(wall) : null;
        Domain = EventTime ?? wall;
    }

    /// <summary>The wall clock.</summary>
    public TimeProvider Wall { get; }

    /// <summary>The event-time clock, or null when domain time is the wall clock.</summary>
    public EventTimeClock? EventTime { get; }

    /// <summary>Domain "now".</summary>
    public TimeProvider Domain { get; }
}
