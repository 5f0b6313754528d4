using Segmentation.Core;
using Segmentation.Grains;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Internal;

/// <summary>
/// The clocks of this process: the wall clock (deadlines, model timestamps, schedules) and domain "now" per tenant — the
/// tenant's event-time clock (<see cref="ClockMode.EventTime"/>) or the wall clock (<see cref="ClockMode.System"/>).
/// </summary>
/// <remarks>Thread-safe: the registry and each event-time clock are.</remarks>
internal sealed class DomainClocks
{
    public DomainClocks(ClockMode mode, TimeProvider wall, EventTimeClockOptions? options = null)
    {
        Wall = wall;
        EventTime = mode == ClockMode.EventTime ? new EventTimeClocks(wall, options) : null;
        Domain = For(TenantKeys.DefaultTenant);
    }

    /// <summary>The wall clock.</summary>
    public TimeProvider Wall { get; }

    /// <summary>The event-time clocks by tenant, or null when domain time is the wall clock.</summary>
    public EventTimeClocks? EventTime { get; }

    /// <summary>Domain "now" of the default tenant.</summary>
    public TimeProvider Domain { get; }

    /// <summary>Domain "now" of <paramref name="tenant"/>.</summary>
    public TimeProvider For(string tenant) => EventTime?.For(tenant) ?? Wall;
}
