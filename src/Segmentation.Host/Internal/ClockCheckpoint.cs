using System.Buffers.Binary;
using Segmentation.Core;
using Segmentation.Storage;

namespace Segmentation.Host.Internal;

/// <summary>
/// Keeps the event-time clock's high-water mark across restarts: loaded at start, saved every few seconds while it
/// moves and at shutdown. After a crash the clock may lag by the last few seconds of ingest; the next events move it on.
/// </summary>
/// <remarks>
/// Several silos of a cluster share the checkpoint: a write fenced by another process's (a stale ETag) reads theirs,
/// keeps the later of the two marks (a high-water mark only moves forward) and writes again.
/// </remarks>
internal sealed class ClockCheckpoint
{
    private static readonly string s_key = Segmentation.Grains.TenantKeys.Storage("clock/event-time");

    private readonly ISnapshotStore _store;
    private readonly EventTimeClock _clock;
    private string? _etag;
    private long _savedTicks = long.MinValue;

    public ClockCheckpoint(ISnapshotStore store, EventTimeClock clock)
    {
        _store = store;
        _clock = clock;
    }

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var snapshot = await _store.ReadAsync(s_key, cancellationToken);
        if (snapshot is null)
        {
            return;
        }

        _etag = snapshot.ETag;
        _savedTicks = BinaryPrimitives.ReadInt64LittleEndian(snapshot.Data.Span);
        _clock.Observe(new DateTimeOffset(_savedTicks, TimeSpan.Zero));
    }

    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        // Before any event the clock reads the wall clock: saving that would pin a later replay of old data to today.
        var ticks = _clock.GetUtcNow().UtcTicks;
        if (!_clock.HasObserved || ticks == _savedTicks)
        {
            return;
        }

        for (var attempt = 0; ; attempt++)
        {
            var data = new byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(data, ticks);
            try
            {
                _etag = await _store.WriteAsync(s_key, data, 0, _etag, cancellationToken);
                _savedTicks = ticks;
                return;
            }
            catch (InconsistentStateException) when (attempt < 3)
            {
                // Another silo saved it since we read it: take its mark into our clock, then save the later one.
                await LoadAsync(cancellationToken);
                ticks = _clock.GetUtcNow().UtcTicks;
                if (ticks == _savedTicks)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Saves every <paramref name="period"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan period, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await SaveAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
