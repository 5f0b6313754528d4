using System.Reflection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Segmentation.Grains;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Hosting.Placement;

/// <summary>
/// On a process without the <c>silo</c> role (a gateway): a call to a user grain that failed because the silo hosting
/// it died or is shutting down is sent again, after a short pause, for up to <see cref="Budget"/> in all; Orleans
/// places the grain afresh on a live silo (its activation loads the snapshot and the log), so the client sees a slower
/// answer instead of UNAVAILABLE while the grains move.
/// </summary>
/// <remarks>
/// Safe because every <see cref="IUserGrain"/> method that answers may run twice: the queries only read, and
/// <see cref="IUserGrain.ApplyAsync"/> is idempotent by <c>event_id</c> (a second run appends nothing the first
/// appended and reports those events as duplicates, which the edge acknowledges like accepted ones). One-way calls
/// carry no answer to fail and are not retried; other grains' calls pass through unchanged. Only silo-loss exceptions
/// are retried (<see cref="SiloUnavailableException"/>: the target silo died or left with the call in flight;
/// <see cref="OrleansMessageRejectionException"/>: the message could not be delivered, e.g. to a silo that is stopping
/// or whose connection closed): a grain's own exceptions, and timeouts, go to the caller as before.
/// Registered before <see cref="MissingSiloCallFilter"/>, so it also retries while the last silo restarts, and that
/// filter names the missing role once the retries gave up.
/// </remarks>
internal sealed class SiloLossRetryFilter(ILogger<SiloLossRetryFilter> logger) : IOutgoingGrainCallFilter
{
    /// <summary>
    /// How long a call keeps being retried: longer than a SIGKILLed silo takes to be declared dead with the tuned
    /// membership timings (about 2 s; MembershipOptions), shorter than a client's usual deadline.
    /// </summary>
    internal static readonly TimeSpan Budget = TimeSpan.FromSeconds(8);

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.Grain is not IUserGrain)
        {
            await context.Invoke();
            return;
        }

        var started = TimeProvider.System.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // Orleans' outgoing call context allows Invoke() again once the previous attempt has completed.
                await context.Invoke();
                return;
            }
            catch (Exception ex) when (ex is SiloUnavailableException or OrleansMessageRejectionException
                && TimeProvider.System.GetElapsedTime(started) < Budget && !IsOneWay(context))
            {
                HostLog.GrainCallRetried(logger, context.MethodName, context.TargetId.ToString(), attempt, ex.GetType().Name);
                // 50, 100, 200, 400, 500, 500 ms…: the first retries catch a hand-off in progress, the later ones wait for
                // the membership to declare a dead silo dead.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, 50 << Math.Min(attempt - 1, 4))));
            }
        }
    }

    private static bool IsOneWay(IOutgoingGrainCallContext context) => context.InterfaceMethod?.IsDefined(typeof(OneWayAttribute)) == true;
}
