using Microsoft.Extensions.Hosting;
using Segmentation.Host.Internal;
using Segmentation.Storage;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Keeps the event-time clock across restarts (<see cref="ClockCheckpoint"/>): loads it before anything starts, saves it
/// every few seconds while it moves, and a last time once everything has stopped. Nothing when domain time is the wall
/// clock.
/// </summary>
/// <remarks>
/// A hosted service, not a grain timer: the clock is this process's (every silo has its own high-water mark), and its
/// last save must come after the silo has deactivated every grain — after the silo's hosted service has stopped — which
/// no grain can outlive. <see cref="IHostedLifecycleService.StartingAsync"/> runs before any hosted service starts (the
/// silo and Kestrel included) and <see cref="IHostedLifecycleService.StoppedAsync"/> after all have stopped, whatever the
/// registration order; the stores close after that, when the container is disposed.
/// </remarks>
internal sealed class ClockCheckpointService : BackgroundService, IHostedLifecycleService
{
    private static readonly TimeSpan s_period = TimeSpan.FromSeconds(5);

    private readonly ClockCheckpoint? _checkpoint;
    private readonly TimeProvider _wallClock;

    public ClockCheckpointService(DomainClocks clocks, ISnapshotStore store)
    {
        _checkpoint = clocks.EventTime is { } eventClock ? new ClockCheckpoint(store, eventClock) : null;
        _wallClock = clocks.Wall;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => _checkpoint?.LoadAsync(cancellationToken) ?? Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Erased users leave the event-time clocks' votes and the stored checkpoint (nothing without an event-time clock).</summary>
    public Task ForgetAsync(IReadOnlyCollection<string> userKeys, CancellationToken cancellationToken) =>
        _checkpoint?.ForgetAsync(userKeys, cancellationToken) ?? Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Not cancelled by the host's stop token: the stores are still open, and one small write must not be lost.
    public Task StoppedAsync(CancellationToken cancellationToken) => _checkpoint?.SaveAsync(CancellationToken.None) ?? Task.CompletedTask;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _checkpoint?.RunAsync(s_period, _wallClock, stoppingToken) ?? Task.CompletedTask;
}
